using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ElmanRnn.Kernels;

/// <summary>Where a GEMM's accumulators start.</summary>
internal enum GemmInit
{
    /// <summary>From zero.</summary>
    Zero,

    /// <summary>From a bias row broadcast to every row of C.</summary>
    Bias,

    /// <summary>From C's current contents (C is updated in place).</summary>
    Accumulate,
}

/// <summary>The elementwise function applied to C's rows once they are complete.</summary>
internal enum Activation { Identity, Tanh, Relu }

/// <summary>
/// C = φ(init + A·Wᵀ) with W pre-packed (<see cref="PackedMatrix{T}"/>).
/// <para>
/// Tiling: rows of A in blocks of <see cref="RowBlock"/>, columns in panels of two vectors; each tile keeps its
/// 8×2 accumulators in registers across the whole K loop, broadcasting A's elements straight from their rows
/// (packing A did not pay on RNN shapes). Rows past the last full block run through a one-row kernel, columns past
/// the last full panel through a zero-padded scratch tile.
/// </para>
/// <para>
/// Determinism: every element of C is the same chain acc = fma(a[i,p], w[j,p], acc) for p = 0..K-1 starting from
/// its init value, whichever kernel (8-row, 1-row, scratch tile) computes it, so a row's result does not depend on
/// how many other rows are in the batch or how rows are split across threads.
/// </para>
/// </summary>
internal static class Gemm
{
    public const int RowBlock = 8;

    /// <summary>Panel width (columns of C per micro-tile) of the active SIMD path.</summary>
    public static int PanelWidth<T>() where T : unmanaged, IFloatingPointIeee754<T> => 2 * Simd.Width<T>();

    // a: (m, K), rows lda apart;  c: (m, N), rows ldc apart;  bias: (N) when init is Bias
    public static void Run<T>(
        ReadOnlySpan<T> a, int lda, int m, PackedMatrix<T> w, Span<T> c, int ldc,
        GemmInit init, ReadOnlySpan<T> bias, Activation activation)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m == 0)
            return;
        int n = w.N, k = w.K;
        // Internal callers size their buffers; a violation here is a bug in ElmanRnn, so fail loudly, never read wild.
        if (lda < k || a.Length < (m - 1) * lda + k || ldc < n || c.Length < (m - 1) * ldc + n
            || (init == GemmInit.Bias && bias.Length < n) || w.PanelWidth != PanelWidth<T>())
            throw new InvalidOperationException(
                $"GEMM operands do not fit: m={m}, n={n}, k={k}, lda={lda}, |a|={a.Length}, ldc={ldc}, |c|={c.Length}, " +
                $"|bias|={bias.Length}, panel={w.PanelWidth}.");

        switch (Simd.Path)
        {
            case SimdPath.Vector512: RunCore<T, Vector512<T>, Vector512Ops<T>>(a, lda, m, w, c, ldc, init, bias); break;
            case SimdPath.Vector256: RunCore<T, Vector256<T>, Vector256Ops<T>>(a, lda, m, w, c, ldc, init, bias); break;
            case SimdPath.Vector128: RunCore<T, Vector128<T>, Vector128Ops<T>>(a, lda, m, w, c, ldc, init, bias); break;
            default: RunCore<T, T, ScalarOps<T>>(a, lda, m, w, c, ldc, init, bias); break;
        }

        if (activation != Activation.Identity)
            for (int i = 0; i < m; i++)
                Elementwise.Activate(c.Slice(i * ldc, n), activation);
    }

    private static void RunCore<T, TV, TOps>(
        ReadOnlySpan<T> a, int lda, int m, PackedMatrix<T> w, Span<T> c, int ldc, GemmInit init, ReadOnlySpan<T> bias)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        int n = w.N, k = w.K, nr = w.PanelWidth;
        // scratch: (RowBlock, nr) — the tile for the last, partial column panel
        Span<T> scratch = stackalloc T[RowBlock * nr];
        ref T aRef = ref MemoryMarshal.GetReference(a);
        ref T cRef = ref MemoryMarshal.GetReference(c);

        for (int p = 0; p < w.PanelCount; p++)
        {
            ref T panel = ref MemoryMarshal.GetReference(w.Panel(p));
            int j0 = p * nr, cols = Math.Min(nr, n - j0);
            for (int i0 = 0; i0 < m; i0 += RowBlock)
            {
                int rows = Math.Min(RowBlock, m - i0);
                ref T aTile = ref Unsafe.Add(ref aRef, (nint)i0 * lda);
                ref T cTile = ref Unsafe.Add(ref cRef, (nint)i0 * ldc + j0);
                if (cols == nr)
                {
                    // Full panel: accumulators start from C itself, the bias row (ld 0 broadcasts it) or zero.
                    bool zero = init == GemmInit.Zero;
                    ref T start = ref init == GemmInit.Bias ? ref Unsafe.AsRef(in bias[j0]) : ref cTile;
                    nint ldStart = init == GemmInit.Bias ? 0 : ldc;
                    Tile<T, TV, TOps>(rows, ref aTile, lda, ref panel, k, ref cTile, ldc, ref start, ldStart, zero);
                }
                else
                {
                    // Partial panel: stage init in a zero-padded scratch tile so the kernel never touches C past n.
                    scratch.Clear();
                    for (int r = 0; r < rows; r++)
                    {
                        Span<T> row = scratch.Slice(r * nr, cols);
                        if (init == GemmInit.Accumulate) c.Slice((i0 + r) * ldc + j0, cols).CopyTo(row);
                        else if (init == GemmInit.Bias) bias.Slice(j0, cols).CopyTo(row);
                    }
                    ref T sRef = ref MemoryMarshal.GetReference(scratch);
                    Tile<T, TV, TOps>(rows, ref aTile, lda, ref panel, k, ref sRef, nr, ref sRef, nr, zeroInit: false);
                    for (int r = 0; r < rows; r++)
                        scratch.Slice(r * nr, cols).CopyTo(c.Slice((i0 + r) * ldc + j0, cols));
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile<T, TV, TOps>(
        int rows, ref T a, nint lda, ref T panel, int k, ref T c, nint ldc, ref T init, nint ldInit, bool zeroInit)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        if (rows == RowBlock)
        {
            Tile8x2<T, TV, TOps>(ref a, lda, ref panel, k, ref c, ldc, ref init, ldInit, zeroInit);
            return;
        }
        for (int r = 0; r < rows; r++)
            Tile1x2<T, TV, TOps>(
                ref Unsafe.Add(ref a, r * lda), ref panel, k,
                ref Unsafe.Add(ref c, r * ldc), ref Unsafe.Add(ref init, r * ldInit), zeroInit);
    }

    // c (8, 2W) = init + a (8, k) · panel (k, 2W); 16 independent accumulator chains hide the FMA latency.
    private static void Tile8x2<T, TV, TOps>(
        ref T a, nint lda, ref T panel, int k, ref T c, nint ldc, ref T init, nint ldInit, bool zeroInit)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        nint w = TOps.Count, nr = 2 * w;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        TV c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        if (!zeroInit)
        {
            ref T r = ref init;
            c00 = TOps.Load(ref r); c01 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c10 = TOps.Load(ref r); c11 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c20 = TOps.Load(ref r); c21 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c30 = TOps.Load(ref r); c31 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c40 = TOps.Load(ref r); c41 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c50 = TOps.Load(ref r); c51 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c60 = TOps.Load(ref r); c61 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c70 = TOps.Load(ref r); c71 = TOps.Load(ref Unsafe.Add(ref r, w));
        }

        ref T a0 = ref a;
        ref T a1 = ref Unsafe.Add(ref a0, lda);
        ref T a2 = ref Unsafe.Add(ref a1, lda);
        ref T a3 = ref Unsafe.Add(ref a2, lda);
        ref T a4 = ref Unsafe.Add(ref a3, lda);
        ref T a5 = ref Unsafe.Add(ref a4, lda);
        ref T a6 = ref Unsafe.Add(ref a5, lda);
        ref T a7 = ref Unsafe.Add(ref a6, lda);
        ref T b = ref panel;
        for (nint p = 0; p < k; p++)
        {
            TV b0 = TOps.Load(ref b), b1 = TOps.Load(ref Unsafe.Add(ref b, w));
            TV x = TOps.Broadcast(Unsafe.Add(ref a0, p));
            c00 = TOps.MultiplyAdd(x, b0, c00); c01 = TOps.MultiplyAdd(x, b1, c01);
            x = TOps.Broadcast(Unsafe.Add(ref a1, p));
            c10 = TOps.MultiplyAdd(x, b0, c10); c11 = TOps.MultiplyAdd(x, b1, c11);
            x = TOps.Broadcast(Unsafe.Add(ref a2, p));
            c20 = TOps.MultiplyAdd(x, b0, c20); c21 = TOps.MultiplyAdd(x, b1, c21);
            x = TOps.Broadcast(Unsafe.Add(ref a3, p));
            c30 = TOps.MultiplyAdd(x, b0, c30); c31 = TOps.MultiplyAdd(x, b1, c31);
            x = TOps.Broadcast(Unsafe.Add(ref a4, p));
            c40 = TOps.MultiplyAdd(x, b0, c40); c41 = TOps.MultiplyAdd(x, b1, c41);
            x = TOps.Broadcast(Unsafe.Add(ref a5, p));
            c50 = TOps.MultiplyAdd(x, b0, c50); c51 = TOps.MultiplyAdd(x, b1, c51);
            x = TOps.Broadcast(Unsafe.Add(ref a6, p));
            c60 = TOps.MultiplyAdd(x, b0, c60); c61 = TOps.MultiplyAdd(x, b1, c61);
            x = TOps.Broadcast(Unsafe.Add(ref a7, p));
            c70 = TOps.MultiplyAdd(x, b0, c70); c71 = TOps.MultiplyAdd(x, b1, c71);
            b = ref Unsafe.Add(ref b, nr);
        }

        ref T o = ref c;
        TOps.Store(c00, ref o); TOps.Store(c01, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c10, ref o); TOps.Store(c11, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c20, ref o); TOps.Store(c21, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c30, ref o); TOps.Store(c31, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c40, ref o); TOps.Store(c41, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c50, ref o); TOps.Store(c51, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c60, ref o); TOps.Store(c61, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c70, ref o); TOps.Store(c71, ref Unsafe.Add(ref o, w));
    }

    // c (1, 2W) = init + a (1, k) · panel (k, 2W): the same per-element chain as Tile8x2, for leftover rows.
    private static void Tile1x2<T, TV, TOps>(ref T a, ref T panel, int k, ref T c, ref T init, bool zeroInit)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        nint w = TOps.Count, nr = 2 * w;
        TV c0 = default, c1 = default;
        if (!zeroInit)
        {
            c0 = TOps.Load(ref init);
            c1 = TOps.Load(ref Unsafe.Add(ref init, w));
        }
        ref T b = ref panel;
        for (nint p = 0; p < k; p++)
        {
            TV x = TOps.Broadcast(Unsafe.Add(ref a, p));
            c0 = TOps.MultiplyAdd(x, TOps.Load(ref b), c0);
            c1 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref b, w)), c1);
            b = ref Unsafe.Add(ref b, nr);
        }
        TOps.Store(c0, ref c);
        TOps.Store(c1, ref Unsafe.Add(ref c, w));
    }
}
