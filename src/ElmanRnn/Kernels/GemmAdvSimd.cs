using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using static System.Runtime.Intrinsics.Arm.AdvSimd.Arm64;

namespace ElmanRnn.Kernels;

/// <summary>
/// The ARM64 AdvSimd micro-kernels (32 vector registers, FMLA by element), chosen by <see cref="Gemm"/> on the
/// Vector128 path only where <see cref="AdvSimd.Arm64.IsSupported"/> — elsewhere that test is a JIT-time constant
/// false and these are never reached. Same tile shapes and packing as the generic kernels (8 rows × 2 vectors, and
/// 1 row × 4 panels for leftover rows); the difference is how A reaches the FMAs: one load of W consecutive A values
/// of a row per block of W k steps (W = 4 floats, 2 doubles), then FMLA by element with lane j for step p + j, instead
/// of one broadcast per element. The 8×2 tile holds 16 accumulators + 8 A vectors + 2 panel vectors = 26 of 32.
/// <para>
/// Determinism: each element of C still gets acc = fma(a[i,p], w[j,p], acc) for p = 0..K-1 in increasing p from
/// its init value (FMLA by element is one fused multiply-add, and multiplication commutes), so results are bitwise
/// those of the generic kernels; tests/ElmanRnn.Arm64Check compares the two under qemu-aarch64.
/// </para>
/// </summary>
internal static class GemmAdvSimd
{
    /// <summary>Test switch: false makes <see cref="Gemm"/> run the generic Vector128 kernels even on ARM64, so the
    /// ARM64 check can compare both bit for bit in one process. Read only where AdvSimd.Arm64 is supported.</summary>
    internal static bool Enabled = true;

    // c (8, 8) = init + a (8, k) · panel (k, 8), float: per block of 4 k, one load of 4 consecutive A values per row and
    // FMLA by element (lane j = k step p + j); leftover k steps take A one element at a time into lane 0.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile8x2(ref float a, nint lda, ref float panel, int k, ref float c, nint ldc, ref float init, nint ldInit, bool zeroInit)
    {
        const int W = 4, Nr = 2 * W;
        Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector128<float> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        if (!zeroInit)
        {
            ref float r = ref init;
            c00 = Vector128.LoadUnsafe(ref r); c01 = Vector128.LoadUnsafe(ref r, W); r = ref Unsafe.Add(ref r, ldInit);
            c10 = Vector128.LoadUnsafe(ref r); c11 = Vector128.LoadUnsafe(ref r, W); r = ref Unsafe.Add(ref r, ldInit);
            c20 = Vector128.LoadUnsafe(ref r); c21 = Vector128.LoadUnsafe(ref r, W); r = ref Unsafe.Add(ref r, ldInit);
            c30 = Vector128.LoadUnsafe(ref r); c31 = Vector128.LoadUnsafe(ref r, W); r = ref Unsafe.Add(ref r, ldInit);
            c40 = Vector128.LoadUnsafe(ref r); c41 = Vector128.LoadUnsafe(ref r, W); r = ref Unsafe.Add(ref r, ldInit);
            c50 = Vector128.LoadUnsafe(ref r); c51 = Vector128.LoadUnsafe(ref r, W); r = ref Unsafe.Add(ref r, ldInit);
            c60 = Vector128.LoadUnsafe(ref r); c61 = Vector128.LoadUnsafe(ref r, W); r = ref Unsafe.Add(ref r, ldInit);
            c70 = Vector128.LoadUnsafe(ref r); c71 = Vector128.LoadUnsafe(ref r, W);
        }

        ref float a0 = ref a;
        ref float a1 = ref Unsafe.Add(ref a0, lda);
        ref float a2 = ref Unsafe.Add(ref a1, lda);
        ref float a3 = ref Unsafe.Add(ref a2, lda);
        ref float a4 = ref Unsafe.Add(ref a3, lda);
        ref float a5 = ref Unsafe.Add(ref a4, lda);
        ref float a6 = ref Unsafe.Add(ref a5, lda);
        ref float a7 = ref Unsafe.Add(ref a6, lda);
        ref float b = ref panel;
        nint p = 0;
        for (; p <= k - W; p += W)
        {
            Vector128<float> x0 = Vector128.LoadUnsafe(ref a0, (nuint)p), x1 = Vector128.LoadUnsafe(ref a1, (nuint)p);
            Vector128<float> x2 = Vector128.LoadUnsafe(ref a2, (nuint)p), x3 = Vector128.LoadUnsafe(ref a3, (nuint)p);
            Vector128<float> x4 = Vector128.LoadUnsafe(ref a4, (nuint)p), x5 = Vector128.LoadUnsafe(ref a5, (nuint)p);
            Vector128<float> x6 = Vector128.LoadUnsafe(ref a6, (nuint)p), x7 = Vector128.LoadUnsafe(ref a7, (nuint)p);
            Vector128<float> b0 = Vector128.LoadUnsafe(ref b), b1 = Vector128.LoadUnsafe(ref b, W);
            c00 = FusedMultiplyAddBySelectedScalar(c00, b0, x0, 0); c01 = FusedMultiplyAddBySelectedScalar(c01, b1, x0, 0);
            c10 = FusedMultiplyAddBySelectedScalar(c10, b0, x1, 0); c11 = FusedMultiplyAddBySelectedScalar(c11, b1, x1, 0);
            c20 = FusedMultiplyAddBySelectedScalar(c20, b0, x2, 0); c21 = FusedMultiplyAddBySelectedScalar(c21, b1, x2, 0);
            c30 = FusedMultiplyAddBySelectedScalar(c30, b0, x3, 0); c31 = FusedMultiplyAddBySelectedScalar(c31, b1, x3, 0);
            c40 = FusedMultiplyAddBySelectedScalar(c40, b0, x4, 0); c41 = FusedMultiplyAddBySelectedScalar(c41, b1, x4, 0);
            c50 = FusedMultiplyAddBySelectedScalar(c50, b0, x5, 0); c51 = FusedMultiplyAddBySelectedScalar(c51, b1, x5, 0);
            c60 = FusedMultiplyAddBySelectedScalar(c60, b0, x6, 0); c61 = FusedMultiplyAddBySelectedScalar(c61, b1, x6, 0);
            c70 = FusedMultiplyAddBySelectedScalar(c70, b0, x7, 0); c71 = FusedMultiplyAddBySelectedScalar(c71, b1, x7, 0);
            b0 = Vector128.LoadUnsafe(ref b, (nuint)(1 * Nr)); b1 = Vector128.LoadUnsafe(ref b, (nuint)(1 * Nr + W));
            c00 = FusedMultiplyAddBySelectedScalar(c00, b0, x0, 1); c01 = FusedMultiplyAddBySelectedScalar(c01, b1, x0, 1);
            c10 = FusedMultiplyAddBySelectedScalar(c10, b0, x1, 1); c11 = FusedMultiplyAddBySelectedScalar(c11, b1, x1, 1);
            c20 = FusedMultiplyAddBySelectedScalar(c20, b0, x2, 1); c21 = FusedMultiplyAddBySelectedScalar(c21, b1, x2, 1);
            c30 = FusedMultiplyAddBySelectedScalar(c30, b0, x3, 1); c31 = FusedMultiplyAddBySelectedScalar(c31, b1, x3, 1);
            c40 = FusedMultiplyAddBySelectedScalar(c40, b0, x4, 1); c41 = FusedMultiplyAddBySelectedScalar(c41, b1, x4, 1);
            c50 = FusedMultiplyAddBySelectedScalar(c50, b0, x5, 1); c51 = FusedMultiplyAddBySelectedScalar(c51, b1, x5, 1);
            c60 = FusedMultiplyAddBySelectedScalar(c60, b0, x6, 1); c61 = FusedMultiplyAddBySelectedScalar(c61, b1, x6, 1);
            c70 = FusedMultiplyAddBySelectedScalar(c70, b0, x7, 1); c71 = FusedMultiplyAddBySelectedScalar(c71, b1, x7, 1);
            b0 = Vector128.LoadUnsafe(ref b, (nuint)(2 * Nr)); b1 = Vector128.LoadUnsafe(ref b, (nuint)(2 * Nr + W));
            c00 = FusedMultiplyAddBySelectedScalar(c00, b0, x0, 2); c01 = FusedMultiplyAddBySelectedScalar(c01, b1, x0, 2);
            c10 = FusedMultiplyAddBySelectedScalar(c10, b0, x1, 2); c11 = FusedMultiplyAddBySelectedScalar(c11, b1, x1, 2);
            c20 = FusedMultiplyAddBySelectedScalar(c20, b0, x2, 2); c21 = FusedMultiplyAddBySelectedScalar(c21, b1, x2, 2);
            c30 = FusedMultiplyAddBySelectedScalar(c30, b0, x3, 2); c31 = FusedMultiplyAddBySelectedScalar(c31, b1, x3, 2);
            c40 = FusedMultiplyAddBySelectedScalar(c40, b0, x4, 2); c41 = FusedMultiplyAddBySelectedScalar(c41, b1, x4, 2);
            c50 = FusedMultiplyAddBySelectedScalar(c50, b0, x5, 2); c51 = FusedMultiplyAddBySelectedScalar(c51, b1, x5, 2);
            c60 = FusedMultiplyAddBySelectedScalar(c60, b0, x6, 2); c61 = FusedMultiplyAddBySelectedScalar(c61, b1, x6, 2);
            c70 = FusedMultiplyAddBySelectedScalar(c70, b0, x7, 2); c71 = FusedMultiplyAddBySelectedScalar(c71, b1, x7, 2);
            b0 = Vector128.LoadUnsafe(ref b, (nuint)(3 * Nr)); b1 = Vector128.LoadUnsafe(ref b, (nuint)(3 * Nr + W));
            c00 = FusedMultiplyAddBySelectedScalar(c00, b0, x0, 3); c01 = FusedMultiplyAddBySelectedScalar(c01, b1, x0, 3);
            c10 = FusedMultiplyAddBySelectedScalar(c10, b0, x1, 3); c11 = FusedMultiplyAddBySelectedScalar(c11, b1, x1, 3);
            c20 = FusedMultiplyAddBySelectedScalar(c20, b0, x2, 3); c21 = FusedMultiplyAddBySelectedScalar(c21, b1, x2, 3);
            c30 = FusedMultiplyAddBySelectedScalar(c30, b0, x3, 3); c31 = FusedMultiplyAddBySelectedScalar(c31, b1, x3, 3);
            c40 = FusedMultiplyAddBySelectedScalar(c40, b0, x4, 3); c41 = FusedMultiplyAddBySelectedScalar(c41, b1, x4, 3);
            c50 = FusedMultiplyAddBySelectedScalar(c50, b0, x5, 3); c51 = FusedMultiplyAddBySelectedScalar(c51, b1, x5, 3);
            c60 = FusedMultiplyAddBySelectedScalar(c60, b0, x6, 3); c61 = FusedMultiplyAddBySelectedScalar(c61, b1, x6, 3);
            c70 = FusedMultiplyAddBySelectedScalar(c70, b0, x7, 3); c71 = FusedMultiplyAddBySelectedScalar(c71, b1, x7, 3);
            b = ref Unsafe.Add(ref b, W * Nr);
        }
        for (; p < k; p++)
        {
            Vector128<float> b0 = Vector128.LoadUnsafe(ref b), b1 = Vector128.LoadUnsafe(ref b, W);
            Vector128<float> x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a0, p));
            c00 = FusedMultiplyAddBySelectedScalar(c00, b0, x, 0); c01 = FusedMultiplyAddBySelectedScalar(c01, b1, x, 0);
            x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a1, p));
            c10 = FusedMultiplyAddBySelectedScalar(c10, b0, x, 0); c11 = FusedMultiplyAddBySelectedScalar(c11, b1, x, 0);
            x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a2, p));
            c20 = FusedMultiplyAddBySelectedScalar(c20, b0, x, 0); c21 = FusedMultiplyAddBySelectedScalar(c21, b1, x, 0);
            x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a3, p));
            c30 = FusedMultiplyAddBySelectedScalar(c30, b0, x, 0); c31 = FusedMultiplyAddBySelectedScalar(c31, b1, x, 0);
            x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a4, p));
            c40 = FusedMultiplyAddBySelectedScalar(c40, b0, x, 0); c41 = FusedMultiplyAddBySelectedScalar(c41, b1, x, 0);
            x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a5, p));
            c50 = FusedMultiplyAddBySelectedScalar(c50, b0, x, 0); c51 = FusedMultiplyAddBySelectedScalar(c51, b1, x, 0);
            x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a6, p));
            c60 = FusedMultiplyAddBySelectedScalar(c60, b0, x, 0); c61 = FusedMultiplyAddBySelectedScalar(c61, b1, x, 0);
            x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a7, p));
            c70 = FusedMultiplyAddBySelectedScalar(c70, b0, x, 0); c71 = FusedMultiplyAddBySelectedScalar(c71, b1, x, 0);
            b = ref Unsafe.Add(ref b, Nr);
        }

        ref float o = ref c;
        c00.StoreUnsafe(ref o); c01.StoreUnsafe(ref o, W); o = ref Unsafe.Add(ref o, ldc);
        c10.StoreUnsafe(ref o); c11.StoreUnsafe(ref o, W); o = ref Unsafe.Add(ref o, ldc);
        c20.StoreUnsafe(ref o); c21.StoreUnsafe(ref o, W); o = ref Unsafe.Add(ref o, ldc);
        c30.StoreUnsafe(ref o); c31.StoreUnsafe(ref o, W); o = ref Unsafe.Add(ref o, ldc);
        c40.StoreUnsafe(ref o); c41.StoreUnsafe(ref o, W); o = ref Unsafe.Add(ref o, ldc);
        c50.StoreUnsafe(ref o); c51.StoreUnsafe(ref o, W); o = ref Unsafe.Add(ref o, ldc);
        c60.StoreUnsafe(ref o); c61.StoreUnsafe(ref o, W); o = ref Unsafe.Add(ref o, ldc);
        c70.StoreUnsafe(ref o); c71.StoreUnsafe(ref o, W);
    }

    // c (8, 4) = init + a (8, k) · panel (k, 4), double: per block of 2 k, one load of 2 consecutive A values per row and
    // FMLA by element (lane j = k step p + j); leftover k steps take A one element at a time into lane 0.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile8x2(ref double a, nint lda, ref double panel, int k, ref double c, nint ldc, ref double init, nint ldInit, bool zeroInit)
    {
        const int W = 2, Nr = 2 * W;
        Vector128<double> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector128<double> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        if (!zeroInit)
        {
            ref double r = ref init;
            c00 = Vector128.LoadUnsafe(ref r); c01 = Vector128.LoadUnsafe(ref r, W); r = ref Unsafe.Add(ref r, ldInit);
            c10 = Vector128.LoadUnsafe(ref r); c11 = Vector128.LoadUnsafe(ref r, W); r = ref Unsafe.Add(ref r, ldInit);
            c20 = Vector128.LoadUnsafe(ref r); c21 = Vector128.LoadUnsafe(ref r, W); r = ref Unsafe.Add(ref r, ldInit);
            c30 = Vector128.LoadUnsafe(ref r); c31 = Vector128.LoadUnsafe(ref r, W); r = ref Unsafe.Add(ref r, ldInit);
            c40 = Vector128.LoadUnsafe(ref r); c41 = Vector128.LoadUnsafe(ref r, W); r = ref Unsafe.Add(ref r, ldInit);
            c50 = Vector128.LoadUnsafe(ref r); c51 = Vector128.LoadUnsafe(ref r, W); r = ref Unsafe.Add(ref r, ldInit);
            c60 = Vector128.LoadUnsafe(ref r); c61 = Vector128.LoadUnsafe(ref r, W); r = ref Unsafe.Add(ref r, ldInit);
            c70 = Vector128.LoadUnsafe(ref r); c71 = Vector128.LoadUnsafe(ref r, W);
        }

        ref double a0 = ref a;
        ref double a1 = ref Unsafe.Add(ref a0, lda);
        ref double a2 = ref Unsafe.Add(ref a1, lda);
        ref double a3 = ref Unsafe.Add(ref a2, lda);
        ref double a4 = ref Unsafe.Add(ref a3, lda);
        ref double a5 = ref Unsafe.Add(ref a4, lda);
        ref double a6 = ref Unsafe.Add(ref a5, lda);
        ref double a7 = ref Unsafe.Add(ref a6, lda);
        ref double b = ref panel;
        nint p = 0;
        for (; p <= k - W; p += W)
        {
            Vector128<double> x0 = Vector128.LoadUnsafe(ref a0, (nuint)p), x1 = Vector128.LoadUnsafe(ref a1, (nuint)p);
            Vector128<double> x2 = Vector128.LoadUnsafe(ref a2, (nuint)p), x3 = Vector128.LoadUnsafe(ref a3, (nuint)p);
            Vector128<double> x4 = Vector128.LoadUnsafe(ref a4, (nuint)p), x5 = Vector128.LoadUnsafe(ref a5, (nuint)p);
            Vector128<double> x6 = Vector128.LoadUnsafe(ref a6, (nuint)p), x7 = Vector128.LoadUnsafe(ref a7, (nuint)p);
            Vector128<double> b0 = Vector128.LoadUnsafe(ref b), b1 = Vector128.LoadUnsafe(ref b, W);
            c00 = FusedMultiplyAddBySelectedScalar(c00, b0, x0, 0); c01 = FusedMultiplyAddBySelectedScalar(c01, b1, x0, 0);
            c10 = FusedMultiplyAddBySelectedScalar(c10, b0, x1, 0); c11 = FusedMultiplyAddBySelectedScalar(c11, b1, x1, 0);
            c20 = FusedMultiplyAddBySelectedScalar(c20, b0, x2, 0); c21 = FusedMultiplyAddBySelectedScalar(c21, b1, x2, 0);
            c30 = FusedMultiplyAddBySelectedScalar(c30, b0, x3, 0); c31 = FusedMultiplyAddBySelectedScalar(c31, b1, x3, 0);
            c40 = FusedMultiplyAddBySelectedScalar(c40, b0, x4, 0); c41 = FusedMultiplyAddBySelectedScalar(c41, b1, x4, 0);
            c50 = FusedMultiplyAddBySelectedScalar(c50, b0, x5, 0); c51 = FusedMultiplyAddBySelectedScalar(c51, b1, x5, 0);
            c60 = FusedMultiplyAddBySelectedScalar(c60, b0, x6, 0); c61 = FusedMultiplyAddBySelectedScalar(c61, b1, x6, 0);
            c70 = FusedMultiplyAddBySelectedScalar(c70, b0, x7, 0); c71 = FusedMultiplyAddBySelectedScalar(c71, b1, x7, 0);
            b0 = Vector128.LoadUnsafe(ref b, (nuint)(1 * Nr)); b1 = Vector128.LoadUnsafe(ref b, (nuint)(1 * Nr + W));
            c00 = FusedMultiplyAddBySelectedScalar(c00, b0, x0, 1); c01 = FusedMultiplyAddBySelectedScalar(c01, b1, x0, 1);
            c10 = FusedMultiplyAddBySelectedScalar(c10, b0, x1, 1); c11 = FusedMultiplyAddBySelectedScalar(c11, b1, x1, 1);
            c20 = FusedMultiplyAddBySelectedScalar(c20, b0, x2, 1); c21 = FusedMultiplyAddBySelectedScalar(c21, b1, x2, 1);
            c30 = FusedMultiplyAddBySelectedScalar(c30, b0, x3, 1); c31 = FusedMultiplyAddBySelectedScalar(c31, b1, x3, 1);
            c40 = FusedMultiplyAddBySelectedScalar(c40, b0, x4, 1); c41 = FusedMultiplyAddBySelectedScalar(c41, b1, x4, 1);
            c50 = FusedMultiplyAddBySelectedScalar(c50, b0, x5, 1); c51 = FusedMultiplyAddBySelectedScalar(c51, b1, x5, 1);
            c60 = FusedMultiplyAddBySelectedScalar(c60, b0, x6, 1); c61 = FusedMultiplyAddBySelectedScalar(c61, b1, x6, 1);
            c70 = FusedMultiplyAddBySelectedScalar(c70, b0, x7, 1); c71 = FusedMultiplyAddBySelectedScalar(c71, b1, x7, 1);
            b = ref Unsafe.Add(ref b, W * Nr);
        }
        for (; p < k; p++)
        {
            Vector128<double> b0 = Vector128.LoadUnsafe(ref b), b1 = Vector128.LoadUnsafe(ref b, W);
            Vector128<double> x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a0, p));
            c00 = FusedMultiplyAddBySelectedScalar(c00, b0, x, 0); c01 = FusedMultiplyAddBySelectedScalar(c01, b1, x, 0);
            x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a1, p));
            c10 = FusedMultiplyAddBySelectedScalar(c10, b0, x, 0); c11 = FusedMultiplyAddBySelectedScalar(c11, b1, x, 0);
            x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a2, p));
            c20 = FusedMultiplyAddBySelectedScalar(c20, b0, x, 0); c21 = FusedMultiplyAddBySelectedScalar(c21, b1, x, 0);
            x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a3, p));
            c30 = FusedMultiplyAddBySelectedScalar(c30, b0, x, 0); c31 = FusedMultiplyAddBySelectedScalar(c31, b1, x, 0);
            x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a4, p));
            c40 = FusedMultiplyAddBySelectedScalar(c40, b0, x, 0); c41 = FusedMultiplyAddBySelectedScalar(c41, b1, x, 0);
            x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a5, p));
            c50 = FusedMultiplyAddBySelectedScalar(c50, b0, x, 0); c51 = FusedMultiplyAddBySelectedScalar(c51, b1, x, 0);
            x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a6, p));
            c60 = FusedMultiplyAddBySelectedScalar(c60, b0, x, 0); c61 = FusedMultiplyAddBySelectedScalar(c61, b1, x, 0);
            x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a7, p));
            c70 = FusedMultiplyAddBySelectedScalar(c70, b0, x, 0); c71 = FusedMultiplyAddBySelectedScalar(c71, b1, x, 0);
            b = ref Unsafe.Add(ref b, Nr);
        }

        ref double o = ref c;
        c00.StoreUnsafe(ref o); c01.StoreUnsafe(ref o, W); o = ref Unsafe.Add(ref o, ldc);
        c10.StoreUnsafe(ref o); c11.StoreUnsafe(ref o, W); o = ref Unsafe.Add(ref o, ldc);
        c20.StoreUnsafe(ref o); c21.StoreUnsafe(ref o, W); o = ref Unsafe.Add(ref o, ldc);
        c30.StoreUnsafe(ref o); c31.StoreUnsafe(ref o, W); o = ref Unsafe.Add(ref o, ldc);
        c40.StoreUnsafe(ref o); c41.StoreUnsafe(ref o, W); o = ref Unsafe.Add(ref o, ldc);
        c50.StoreUnsafe(ref o); c51.StoreUnsafe(ref o, W); o = ref Unsafe.Add(ref o, ldc);
        c60.StoreUnsafe(ref o); c61.StoreUnsafe(ref o, W); o = ref Unsafe.Add(ref o, ldc);
        c70.StoreUnsafe(ref o); c71.StoreUnsafe(ref o, W);
    }

    // c (1, 32) = init + a (1, k) · 4 panels (k, 8) each, panelStride apart, float: the matrix-vector kernel, per block of
    // 4 k one load of A and FMLA by element, eight independent chains.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile1x8(ref float a, ref float panel, nint panelStride, int k, ref float c, ref float init, bool zeroInit)
    {
        const int W = 4, Nr = 2 * W;
        Vector128<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        if (!zeroInit)
        {
            c0 = Vector128.LoadUnsafe(ref init); c1 = Vector128.LoadUnsafe(ref init, 1 * W);
            c2 = Vector128.LoadUnsafe(ref init, 2 * W); c3 = Vector128.LoadUnsafe(ref init, 3 * W);
            c4 = Vector128.LoadUnsafe(ref init, 4 * W); c5 = Vector128.LoadUnsafe(ref init, 5 * W);
            c6 = Vector128.LoadUnsafe(ref init, 6 * W); c7 = Vector128.LoadUnsafe(ref init, 7 * W);
        }
        ref float b0 = ref panel;
        ref float b1 = ref Unsafe.Add(ref b0, panelStride);
        ref float b2 = ref Unsafe.Add(ref b1, panelStride);
        ref float b3 = ref Unsafe.Add(ref b2, panelStride);
        nint p = 0;
        for (; p <= k - W; p += W)
        {
            Vector128<float> x = Vector128.LoadUnsafe(ref a, (nuint)p);
            nuint o = (nuint)(p * Nr);
            c0 = FusedMultiplyAddBySelectedScalar(c0, Vector128.LoadUnsafe(ref b0, o), x, 0); c1 = FusedMultiplyAddBySelectedScalar(c1, Vector128.LoadUnsafe(ref b0, o + W), x, 0);
            c2 = FusedMultiplyAddBySelectedScalar(c2, Vector128.LoadUnsafe(ref b1, o), x, 0); c3 = FusedMultiplyAddBySelectedScalar(c3, Vector128.LoadUnsafe(ref b1, o + W), x, 0);
            c4 = FusedMultiplyAddBySelectedScalar(c4, Vector128.LoadUnsafe(ref b2, o), x, 0); c5 = FusedMultiplyAddBySelectedScalar(c5, Vector128.LoadUnsafe(ref b2, o + W), x, 0);
            c6 = FusedMultiplyAddBySelectedScalar(c6, Vector128.LoadUnsafe(ref b3, o), x, 0); c7 = FusedMultiplyAddBySelectedScalar(c7, Vector128.LoadUnsafe(ref b3, o + W), x, 0);
            c0 = FusedMultiplyAddBySelectedScalar(c0, Vector128.LoadUnsafe(ref b0, o + 1 * Nr), x, 1); c1 = FusedMultiplyAddBySelectedScalar(c1, Vector128.LoadUnsafe(ref b0, o + 1 * Nr + W), x, 1);
            c2 = FusedMultiplyAddBySelectedScalar(c2, Vector128.LoadUnsafe(ref b1, o + 1 * Nr), x, 1); c3 = FusedMultiplyAddBySelectedScalar(c3, Vector128.LoadUnsafe(ref b1, o + 1 * Nr + W), x, 1);
            c4 = FusedMultiplyAddBySelectedScalar(c4, Vector128.LoadUnsafe(ref b2, o + 1 * Nr), x, 1); c5 = FusedMultiplyAddBySelectedScalar(c5, Vector128.LoadUnsafe(ref b2, o + 1 * Nr + W), x, 1);
            c6 = FusedMultiplyAddBySelectedScalar(c6, Vector128.LoadUnsafe(ref b3, o + 1 * Nr), x, 1); c7 = FusedMultiplyAddBySelectedScalar(c7, Vector128.LoadUnsafe(ref b3, o + 1 * Nr + W), x, 1);
            c0 = FusedMultiplyAddBySelectedScalar(c0, Vector128.LoadUnsafe(ref b0, o + 2 * Nr), x, 2); c1 = FusedMultiplyAddBySelectedScalar(c1, Vector128.LoadUnsafe(ref b0, o + 2 * Nr + W), x, 2);
            c2 = FusedMultiplyAddBySelectedScalar(c2, Vector128.LoadUnsafe(ref b1, o + 2 * Nr), x, 2); c3 = FusedMultiplyAddBySelectedScalar(c3, Vector128.LoadUnsafe(ref b1, o + 2 * Nr + W), x, 2);
            c4 = FusedMultiplyAddBySelectedScalar(c4, Vector128.LoadUnsafe(ref b2, o + 2 * Nr), x, 2); c5 = FusedMultiplyAddBySelectedScalar(c5, Vector128.LoadUnsafe(ref b2, o + 2 * Nr + W), x, 2);
            c6 = FusedMultiplyAddBySelectedScalar(c6, Vector128.LoadUnsafe(ref b3, o + 2 * Nr), x, 2); c7 = FusedMultiplyAddBySelectedScalar(c7, Vector128.LoadUnsafe(ref b3, o + 2 * Nr + W), x, 2);
            c0 = FusedMultiplyAddBySelectedScalar(c0, Vector128.LoadUnsafe(ref b0, o + 3 * Nr), x, 3); c1 = FusedMultiplyAddBySelectedScalar(c1, Vector128.LoadUnsafe(ref b0, o + 3 * Nr + W), x, 3);
            c2 = FusedMultiplyAddBySelectedScalar(c2, Vector128.LoadUnsafe(ref b1, o + 3 * Nr), x, 3); c3 = FusedMultiplyAddBySelectedScalar(c3, Vector128.LoadUnsafe(ref b1, o + 3 * Nr + W), x, 3);
            c4 = FusedMultiplyAddBySelectedScalar(c4, Vector128.LoadUnsafe(ref b2, o + 3 * Nr), x, 3); c5 = FusedMultiplyAddBySelectedScalar(c5, Vector128.LoadUnsafe(ref b2, o + 3 * Nr + W), x, 3);
            c6 = FusedMultiplyAddBySelectedScalar(c6, Vector128.LoadUnsafe(ref b3, o + 3 * Nr), x, 3); c7 = FusedMultiplyAddBySelectedScalar(c7, Vector128.LoadUnsafe(ref b3, o + 3 * Nr + W), x, 3);
        }
        for (; p < k; p++)
        {
            Vector128<float> x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a, p));
            nuint o = (nuint)(p * Nr);
            c0 = FusedMultiplyAddBySelectedScalar(c0, Vector128.LoadUnsafe(ref b0, o), x, 0); c1 = FusedMultiplyAddBySelectedScalar(c1, Vector128.LoadUnsafe(ref b0, o + W), x, 0);
            c2 = FusedMultiplyAddBySelectedScalar(c2, Vector128.LoadUnsafe(ref b1, o), x, 0); c3 = FusedMultiplyAddBySelectedScalar(c3, Vector128.LoadUnsafe(ref b1, o + W), x, 0);
            c4 = FusedMultiplyAddBySelectedScalar(c4, Vector128.LoadUnsafe(ref b2, o), x, 0); c5 = FusedMultiplyAddBySelectedScalar(c5, Vector128.LoadUnsafe(ref b2, o + W), x, 0);
            c6 = FusedMultiplyAddBySelectedScalar(c6, Vector128.LoadUnsafe(ref b3, o), x, 0); c7 = FusedMultiplyAddBySelectedScalar(c7, Vector128.LoadUnsafe(ref b3, o + W), x, 0);
        }
        c0.StoreUnsafe(ref c); c1.StoreUnsafe(ref c, 1 * W);
        c2.StoreUnsafe(ref c, 2 * W); c3.StoreUnsafe(ref c, 3 * W);
        c4.StoreUnsafe(ref c, 4 * W); c5.StoreUnsafe(ref c, 5 * W);
        c6.StoreUnsafe(ref c, 6 * W); c7.StoreUnsafe(ref c, 7 * W);
    }

    // c (1, 16) = init + a (1, k) · 4 panels (k, 4) each, panelStride apart, double: the matrix-vector kernel, per block of
    // 2 k one load of A and FMLA by element, eight independent chains.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile1x8(ref double a, ref double panel, nint panelStride, int k, ref double c, ref double init, bool zeroInit)
    {
        const int W = 2, Nr = 2 * W;
        Vector128<double> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        if (!zeroInit)
        {
            c0 = Vector128.LoadUnsafe(ref init); c1 = Vector128.LoadUnsafe(ref init, 1 * W);
            c2 = Vector128.LoadUnsafe(ref init, 2 * W); c3 = Vector128.LoadUnsafe(ref init, 3 * W);
            c4 = Vector128.LoadUnsafe(ref init, 4 * W); c5 = Vector128.LoadUnsafe(ref init, 5 * W);
            c6 = Vector128.LoadUnsafe(ref init, 6 * W); c7 = Vector128.LoadUnsafe(ref init, 7 * W);
        }
        ref double b0 = ref panel;
        ref double b1 = ref Unsafe.Add(ref b0, panelStride);
        ref double b2 = ref Unsafe.Add(ref b1, panelStride);
        ref double b3 = ref Unsafe.Add(ref b2, panelStride);
        nint p = 0;
        for (; p <= k - W; p += W)
        {
            Vector128<double> x = Vector128.LoadUnsafe(ref a, (nuint)p);
            nuint o = (nuint)(p * Nr);
            c0 = FusedMultiplyAddBySelectedScalar(c0, Vector128.LoadUnsafe(ref b0, o), x, 0); c1 = FusedMultiplyAddBySelectedScalar(c1, Vector128.LoadUnsafe(ref b0, o + W), x, 0);
            c2 = FusedMultiplyAddBySelectedScalar(c2, Vector128.LoadUnsafe(ref b1, o), x, 0); c3 = FusedMultiplyAddBySelectedScalar(c3, Vector128.LoadUnsafe(ref b1, o + W), x, 0);
            c4 = FusedMultiplyAddBySelectedScalar(c4, Vector128.LoadUnsafe(ref b2, o), x, 0); c5 = FusedMultiplyAddBySelectedScalar(c5, Vector128.LoadUnsafe(ref b2, o + W), x, 0);
            c6 = FusedMultiplyAddBySelectedScalar(c6, Vector128.LoadUnsafe(ref b3, o), x, 0); c7 = FusedMultiplyAddBySelectedScalar(c7, Vector128.LoadUnsafe(ref b3, o + W), x, 0);
            c0 = FusedMultiplyAddBySelectedScalar(c0, Vector128.LoadUnsafe(ref b0, o + 1 * Nr), x, 1); c1 = FusedMultiplyAddBySelectedScalar(c1, Vector128.LoadUnsafe(ref b0, o + 1 * Nr + W), x, 1);
            c2 = FusedMultiplyAddBySelectedScalar(c2, Vector128.LoadUnsafe(ref b1, o + 1 * Nr), x, 1); c3 = FusedMultiplyAddBySelectedScalar(c3, Vector128.LoadUnsafe(ref b1, o + 1 * Nr + W), x, 1);
            c4 = FusedMultiplyAddBySelectedScalar(c4, Vector128.LoadUnsafe(ref b2, o + 1 * Nr), x, 1); c5 = FusedMultiplyAddBySelectedScalar(c5, Vector128.LoadUnsafe(ref b2, o + 1 * Nr + W), x, 1);
            c6 = FusedMultiplyAddBySelectedScalar(c6, Vector128.LoadUnsafe(ref b3, o + 1 * Nr), x, 1); c7 = FusedMultiplyAddBySelectedScalar(c7, Vector128.LoadUnsafe(ref b3, o + 1 * Nr + W), x, 1);
        }
        for (; p < k; p++)
        {
            Vector128<double> x = Vector128.CreateScalarUnsafe(Unsafe.Add(ref a, p));
            nuint o = (nuint)(p * Nr);
            c0 = FusedMultiplyAddBySelectedScalar(c0, Vector128.LoadUnsafe(ref b0, o), x, 0); c1 = FusedMultiplyAddBySelectedScalar(c1, Vector128.LoadUnsafe(ref b0, o + W), x, 0);
            c2 = FusedMultiplyAddBySelectedScalar(c2, Vector128.LoadUnsafe(ref b1, o), x, 0); c3 = FusedMultiplyAddBySelectedScalar(c3, Vector128.LoadUnsafe(ref b1, o + W), x, 0);
            c4 = FusedMultiplyAddBySelectedScalar(c4, Vector128.LoadUnsafe(ref b2, o), x, 0); c5 = FusedMultiplyAddBySelectedScalar(c5, Vector128.LoadUnsafe(ref b2, o + W), x, 0);
            c6 = FusedMultiplyAddBySelectedScalar(c6, Vector128.LoadUnsafe(ref b3, o), x, 0); c7 = FusedMultiplyAddBySelectedScalar(c7, Vector128.LoadUnsafe(ref b3, o + W), x, 0);
        }
        c0.StoreUnsafe(ref c); c1.StoreUnsafe(ref c, 1 * W);
        c2.StoreUnsafe(ref c, 2 * W); c3.StoreUnsafe(ref c, 3 * W);
        c4.StoreUnsafe(ref c, 4 * W); c5.StoreUnsafe(ref c, 5 * W);
        c6.StoreUnsafe(ref c, 6 * W); c7.StoreUnsafe(ref c, 7 * W);
    }
}
