using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

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

/// <summary>
/// C = φ(init + A·Wᵀ) with W pre-packed (<see cref="PackedMatrix{T}"/>).
/// <para>
/// Blocking: K in one pass up to <see cref="KcMax"/> (beyond, in near-equal blocks of at most that, C round-tripping
/// through memory between blocks); rows in blocks whose slice of A stays in L2 (<see cref="RowBlockBytes"/>), and
/// within a row block every panel of W is swept over all register tiles while it is hot. The tile is
/// <see cref="TileRows"/> × 2 vectors (chosen from the register file) and broadcasts A's elements straight from their
/// rows (packing A did not pay on RNN shapes); on ARM64 the tiles are <see cref="GemmAdvSimd"/>'s, which load a
/// vector of consecutive A values per row and use FMLA by element instead of one broadcast per element. Rows the full
/// tiles leave over run in 4-row tiles (<see cref="Tile4x2"/>, broadcasting on every path) while 4 remain; the last
/// 1–3 (e.g. batch 1) run a 1-row kernel over 4 panels at once, 8 independent chains, so a matrix-vector product is
/// not latency-bound. Columns past the last full panel go through a zero-padded scratch tile. φ is applied to each tile right after its last K block, while it is in L1.
/// </para>
/// <para>
/// Determinism: every element of C is the same chain acc = fma(a[i,p], w[j,p], acc) for p = 0..K-1 from its init
/// value, then φ, whichever kernel, tile, panel range or thread computes it, so a row's result does not depend on
/// how many rows share the call or how panels are split across threads.
/// </para>
/// </summary>
internal static class Gemm
{
    public const int KcMax = 512;
    private const int MaxTileRows = 8;
    private const int RowBlockBytes = 128 * 1024;
    private const int PanelsPerRowPass = 4;

    /// <summary>
    /// Rows of C per micro-tile, from the register file of the instruction set (BLIS's rule: accumulators + the two
    /// panel vectors + one broadcast must fit): 8 rows × 2 vectors = 16 accumulators + 3 where there are 32 vector
    /// registers (AVX-512, ARM64 AdvSimd); 6 × 2 = 12 + 3 = 15 where there are 16 (AVX2, SSE) — the 8-row tile there
    /// made the JIT store and reload 4 accumulators every k step.
    /// </summary>
    public static readonly int TileRows =
        Simd.Path == SimdPath.Vector512 || (Simd.Path == SimdPath.Vector128 && AdvSimd.Arm64.IsSupported) ? 8 : 6;

    /// <summary>Panel width (columns of C per micro-tile) of the active SIMD path: two vectors.</summary>
    public static int PanelWidth<T>() where T : unmanaged, IFloatingPointIeee754<T> => 2 * Simd.Width<T>();

    // a: (m, K), rows lda apart;  c: (m, N), rows ldc apart;  bias: (N) when init is Bias
    public static void Run<T>(
        ReadOnlySpan<T> a, int lda, int m, PackedMatrix<T> w, Span<T> c, int ldc,
        GemmInit init, ReadOnlySpan<T> bias, Activation activation)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        Run(a, lda, m, w, c, ldc, init, bias, activation, 0, w.PanelCount);

    /// <summary>Computes only the columns of panels [firstPanel, endPanel): how threads split one product.</summary>
    public static void Run<T>(
        ReadOnlySpan<T> a, int lda, int m, PackedMatrix<T> w, Span<T> c, int ldc,
        GemmInit init, ReadOnlySpan<T> bias, Activation activation, int firstPanel, int endPanel)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m == 0 || firstPanel >= endPanel)
            return;
        int n = w.N, k = w.K;
        // Internal callers size their buffers; a violation here is a bug in ElmanRnn, so fail loudly, never read wild.
        if (lda < k || a.Length < (m - 1) * lda + k || ldc < n || c.Length < (m - 1) * ldc + n
            || (init == GemmInit.Bias && bias.Length < n) || w.PanelWidth != PanelWidth<T>()
            || firstPanel < 0 || endPanel > w.PanelCount)
            throw new InvalidOperationException(
                $"GEMM operands do not fit: m={m}, n={n}, k={k}, lda={lda}, |a|={a.Length}, ldc={ldc}, |c|={c.Length}, " +
                $"|bias|={bias.Length}, panel={w.PanelWidth}, panels=[{firstPanel}, {endPanel}) of {w.PanelCount}.");

        var job = new Job<T>(a, lda, m, w, c, ldc, init, bias, activation, firstPanel, endPanel);
        switch (Simd.Path)
        {
            case SimdPath.Vector512: RunCore<T, Vector512<T>, Vector512Ops<T>>(ref job); break;
            case SimdPath.Vector256: RunCore<T, Vector256<T>, Vector256Ops<T>>(ref job); break;
            case SimdPath.Vector128: RunCore<T, Vector128<T>, Vector128Ops<T>>(ref job); break;
            default: RunCore<T, T, ScalarOps<T>>(ref job); break;
        }
    }

    private readonly ref struct Job<T>(
        ReadOnlySpan<T> a, int lda, int m, PackedMatrix<T> w, Span<T> c, int ldc,
        GemmInit init, ReadOnlySpan<T> bias, Activation activation, int firstPanel, int endPanel)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public readonly ReadOnlySpan<T> A = a;
        public readonly int Lda = lda, M = m, Ldc = ldc, FirstPanel = firstPanel, EndPanel = endPanel;
        public readonly PackedMatrix<T> W = w;
        public readonly Span<T> C = c;
        public readonly GemmInit Init = init;
        public readonly ReadOnlySpan<T> Bias = bias;
        public readonly Activation Activation = activation;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunCore<T, TV, TOps>(ref Job<T> job)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        PackedMatrix<T> w = job.W;
        int n = w.N, k = w.K, nr = w.PanelWidth, m = job.M, lda = job.Lda, ldc = job.Ldc;
        int kBlocks = (k + KcMax - 1) / KcMax, kc = (k + kBlocks - 1) / kBlocks;
        // Row plan: tiles of mr rows, then of 4 rows, then single rows. A 6-row plan with 2 or 3 rows left over gives
        // one tile back and runs those 8 or 9 rows as two 4-row tiles (+1 row): a 4-row tile reuses each panel from L1
        // like the big ones, where each single row streams all of W once (on Zen 1 the 1-row kernel ran at ~76% of
        // the 6-row tile's speed per multiply-add; 32 rows were 5×6 + 2 single rows, now 4×6 + 2×4).
        int mr = TileRows, fullRows = m - m % mr;
        if (fullRows >= mr && (mr + m % mr) % 4 < m % mr % 4)
            fullRows -= mr;
        int tiledRows = fullRows + (m - fullRows) / 4 * 4;
        ref T aRef = ref MemoryMarshal.GetReference(job.A);
        ref T cRef = ref MemoryMarshal.GetReference(job.C);
        ref T biasRef = ref MemoryMarshal.GetReference(job.Bias);
        // scratch: (mr, nr) — the tile of the last, partial column panel
        Span<T> scratch = stackalloc T[MaxTileRows * nr];

        for (int k0 = 0; k0 < k; k0 += kc)
        {
            int kLen = Math.Min(kc, k - k0);
            GemmInit init = k0 == 0 ? job.Init : GemmInit.Accumulate;
            Activation activation = k0 + kLen == k ? job.Activation : Activation.Identity;
            int rowsPerBlock = Math.Max(mr, RowBlockBytes / (kLen * Unsafe.SizeOf<T>()) / mr * mr);

            // The last row block also takes the 4-row tiles, while its panels are hot.
            for (int i0 = 0, iEnd; i0 < tiledRows; i0 = iEnd)
            {
                iEnd = i0 + rowsPerBlock >= fullRows ? tiledRows : i0 + rowsPerBlock;
                for (int p = job.FirstPanel; p < job.EndPanel; p++)
                {
                    ref T panel = ref Unsafe.Add(ref MemoryMarshal.GetReference(w.Panel(p)), (nint)k0 * nr);
                    int j0 = p * nr, cols = Math.Min(nr, n - j0);
                    for (int i = i0, rows; i < iEnd; i += rows)
                    {
                        rows = i < fullRows ? mr : 4;
                        ref T aTile = ref Unsafe.Add(ref aRef, (nint)i * lda + k0);
                        ref T cTile = ref Unsafe.Add(ref cRef, (nint)i * ldc + j0);
                        if (cols == nr)
                        {
                            Tile<T, TV, TOps>(rows, ref aTile, lda, ref panel, kLen, ref cTile, ldc,
                                ref InitRef(init, ref cTile, ref biasRef, j0), InitStride(init, ldc), init == GemmInit.Zero);
                            Activate<T, TV, TOps>(ref cTile, ldc, rows, 2, activation);
                        }
                        else
                            Partial<T, TV, TOps>(rows, ref aTile, lda, ref panel, kLen, job.C, i, ldc, j0, cols,
                                init, job.Bias, activation, scratch);
                    }
                }
            }

            for (int i = tiledRows; i < m; i++)
            {
                ref T aRow = ref Unsafe.Add(ref aRef, (nint)i * lda + k0);
                for (int p = job.FirstPanel; p < job.EndPanel;)
                {
                    ref T panel = ref Unsafe.Add(ref MemoryMarshal.GetReference(w.Panel(p)), (nint)k0 * nr);
                    int j0 = p * nr, cols = Math.Min(nr, n - j0);
                    ref T cRow = ref Unsafe.Add(ref cRef, (nint)i * ldc + j0);
                    if (p + PanelsPerRowPass <= job.EndPanel && j0 + PanelsPerRowPass * nr <= n)
                    {
                        RowTile<T, TV, TOps>(ref aRow, ref panel, (nint)k * nr, kLen, ref cRow,
                            ref InitRef(init, ref cRow, ref biasRef, j0), init == GemmInit.Zero);
                        Activate<T, TV, TOps>(ref cRow, 0, 1, 2 * PanelsPerRowPass, activation);
                        p += PanelsPerRowPass;
                        continue;
                    }
                    if (cols == nr)
                    {
                        Tile1x2<T, TV, TOps>(ref aRow, ref panel, kLen, ref cRow,
                            ref InitRef(init, ref cRow, ref biasRef, j0), init == GemmInit.Zero);
                        Activate<T, TV, TOps>(ref cRow, 0, 1, 2, activation);
                    }
                    else
                        Partial<T, TV, TOps>(1, ref aRow, lda, ref panel, kLen, job.C, i, ldc, j0, cols,
                            init, job.Bias, activation, scratch);
                    p++;
                }
            }
        }
    }

    // Accumulators start from C itself, from the bias row (stride 0 broadcasts it to every row) or from zero.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref T InitRef<T>(GemmInit init, ref T c, ref T bias, int j0) =>
        ref init == GemmInit.Bias ? ref Unsafe.Add(ref bias, j0) : ref c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nint InitStride(GemmInit init, int ldc) => init == GemmInit.Bias ? 0 : ldc;

    // φ over a tile just stored (still in L1), whole vectors only, so every element meets the same function. Kept out
    // of the tiles themselves: the epilogue's temporaries made the JIT spill the accumulators inside the K loop. Tiles
    // are a whole number of panels wide (2 vectors each), so φ runs on vector pairs: two interleaved chains.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Activate<T, TV, TOps>(ref T c, nint ldc, int rows, int vectors, Activation activation)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        if (activation == Activation.Identity)
            return;
        nint w = TOps.Count;
        for (int r = 0; r < rows; r++)
        {
            ref T row = ref Unsafe.Add(ref c, r * ldc);
            for (int v = 0; v < vectors; v += 2)
            {
                ref T x = ref Unsafe.Add(ref row, v * w);
                PairOps<T, TV, TOps>.Store(
                    Activations.Apply<T, VectorPair<TV>, PairOps<T, TV, TOps>>(PairOps<T, TV, TOps>.Load(ref x), activation), ref x);
            }
        }
    }

    // The last panel is narrower than nr: stage init in a zero-padded scratch tile so no kernel touches C past n.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Partial<T, TV, TOps>(
        int rows, ref T a, int lda, ref T panel, int k, Span<T> c, int i0, int ldc, int j0, int cols,
        GemmInit init, ReadOnlySpan<T> bias, Activation activation, Span<T> scratch)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        int nr = 2 * TOps.Count;
        scratch.Clear();
        for (int r = 0; r < rows; r++)
        {
            Span<T> row = scratch.Slice(r * nr, cols);
            if (init == GemmInit.Accumulate) c.Slice((i0 + r) * ldc + j0, cols).CopyTo(row);
            else if (init == GemmInit.Bias) bias.Slice(j0, cols).CopyTo(row);
        }
        ref T s = ref MemoryMarshal.GetReference(scratch);
        if (rows > 1)
            Tile<T, TV, TOps>(rows, ref a, lda, ref panel, k, ref s, nr, ref s, nr, zeroInit: false);
        else
            Tile1x2<T, TV, TOps>(ref a, ref panel, k, ref s, ref s, zeroInit: false);
        Activate<T, TV, TOps>(ref s, nr, rows, 2, activation);
        for (int r = 0; r < rows; r++)
            scratch.Slice(r * nr, cols).CopyTo(c.Slice((i0 + r) * ldc + j0, cols));
    }

    // The register-tile kernel of this instruction set (TileRows rows). Partial tiles of the last panel use it too.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile<T, TV, TOps>(
        int rows, ref T a, nint lda, ref T panel, int k, ref T c, nint ldc, ref T init, nint ldInit, bool zeroInit)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        if (rows == 8)
        {
            // ARM64: the AdvSimd kernel with FMLA by element (GemmAdvSimd). On x64 AdvSimd.Arm64.IsSupported is a
            // JIT-time false, so this whole block is dropped.
            if (AdvSimd.Arm64.IsSupported && typeof(TV) == typeof(Vector128<T>) && GemmAdvSimd.Enabled)
            {
                if (typeof(T) == typeof(float))
                {
                    GemmAdvSimd.Tile8x2(ref As<T, float>(ref a), lda, ref As<T, float>(ref panel), k,
                        ref As<T, float>(ref c), ldc, ref As<T, float>(ref init), ldInit, zeroInit);
                    return;
                }
                if (typeof(T) == typeof(double))
                {
                    GemmAdvSimd.Tile8x2(ref As<T, double>(ref a), lda, ref As<T, double>(ref panel), k,
                        ref As<T, double>(ref c), ldc, ref As<T, double>(ref init), ldInit, zeroInit);
                    return;
                }
            }
            Tile8x2<T, TV, TOps>(ref a, lda, ref panel, k, ref c, ldc, ref init, ldInit, zeroInit);
        }
        else if (rows == 6)
            Tile6x2<T, TV, TOps>(ref a, lda, ref panel, k, ref c, ldc, ref init, ldInit, zeroInit);
        else
            Tile4x2<T, TV, TOps>(ref a, lda, ref panel, k, ref c, ldc, ref init, ldInit, zeroInit);
    }

    // The matrix-vector kernel of this instruction set: 1 row × 4 panels (ARM64: GemmAdvSimd's, as in Tile).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowTile<T, TV, TOps>(ref T a, ref T panel, nint panelStride, int k, ref T c, ref T init, bool zeroInit)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        if (AdvSimd.Arm64.IsSupported && typeof(TV) == typeof(Vector128<T>) && GemmAdvSimd.Enabled)
        {
            if (typeof(T) == typeof(float))
            {
                GemmAdvSimd.Tile1x8(ref As<T, float>(ref a), ref As<T, float>(ref panel), panelStride, k,
                    ref As<T, float>(ref c), ref As<T, float>(ref init), zeroInit);
                return;
            }
            if (typeof(T) == typeof(double))
            {
                GemmAdvSimd.Tile1x8(ref As<T, double>(ref a), ref As<T, double>(ref panel), panelStride, k,
                    ref As<T, double>(ref c), ref As<T, double>(ref init), zeroInit);
                return;
            }
        }
        Tile1x8<T, TV, TOps>(ref a, ref panel, panelStride, k, ref c, ref init, zeroInit);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref TTo As<TFrom, TTo>(ref TFrom source) => ref Unsafe.As<TFrom, TTo>(ref source);

    // c (8, 2W) = init + a (8, k) · panel (k, 2W); 16 independent accumulator chains hide the FMA latency.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    // c (6, 2W) = init + a (6, k) · panel (k, 2W); 12 chains, for 16-register files.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile6x2<T, TV, TOps>(
        ref T a, nint lda, ref T panel, int k, ref T c, nint ldc, ref T init, nint ldInit, bool zeroInit)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        nint w = TOps.Count, nr = 2 * w;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        TV c40 = default, c41 = default, c50 = default, c51 = default;
        if (!zeroInit)
        {
            ref T r = ref init;
            c00 = TOps.Load(ref r); c01 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c10 = TOps.Load(ref r); c11 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c20 = TOps.Load(ref r); c21 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c30 = TOps.Load(ref r); c31 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c40 = TOps.Load(ref r); c41 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c50 = TOps.Load(ref r); c51 = TOps.Load(ref Unsafe.Add(ref r, w));
        }

        ref T a0 = ref a;
        ref T a1 = ref Unsafe.Add(ref a0, lda);
        ref T a2 = ref Unsafe.Add(ref a1, lda);
        ref T a3 = ref Unsafe.Add(ref a2, lda);
        ref T a4 = ref Unsafe.Add(ref a3, lda);
        ref T a5 = ref Unsafe.Add(ref a4, lda);
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
            b = ref Unsafe.Add(ref b, nr);
        }


        ref T o = ref c;
        TOps.Store(c00, ref o); TOps.Store(c01, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c10, ref o); TOps.Store(c11, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c20, ref o); TOps.Store(c21, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c30, ref o); TOps.Store(c31, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c40, ref o); TOps.Store(c41, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c50, ref o); TOps.Store(c51, ref Unsafe.Add(ref o, w));
    }

    // c (4, 2W) = init + a (4, k) · panel (k, 2W); 8 chains, for the rows a plan of 6- or 8-row tiles leaves over.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x2<T, TV, TOps>(
        ref T a, nint lda, ref T panel, int k, ref T c, nint ldc, ref T init, nint ldInit, bool zeroInit)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        nint w = TOps.Count, nr = 2 * w;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        if (!zeroInit)
        {
            ref T r = ref init;
            c00 = TOps.Load(ref r); c01 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c10 = TOps.Load(ref r); c11 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c20 = TOps.Load(ref r); c21 = TOps.Load(ref Unsafe.Add(ref r, w)); r = ref Unsafe.Add(ref r, ldInit);
            c30 = TOps.Load(ref r); c31 = TOps.Load(ref Unsafe.Add(ref r, w));
        }

        ref T a0 = ref a;
        ref T a1 = ref Unsafe.Add(ref a0, lda);
        ref T a2 = ref Unsafe.Add(ref a1, lda);
        ref T a3 = ref Unsafe.Add(ref a2, lda);
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
            b = ref Unsafe.Add(ref b, nr);
        }

        ref T o = ref c;
        TOps.Store(c00, ref o); TOps.Store(c01, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c10, ref o); TOps.Store(c11, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c20, ref o); TOps.Store(c21, ref Unsafe.Add(ref o, w)); o = ref Unsafe.Add(ref o, ldc);
        TOps.Store(c30, ref o); TOps.Store(c31, ref Unsafe.Add(ref o, w));
    }

    // c (1, 8W) = init + a (1, k) · 4 panels (k, 2W) each, panelStride apart: the matrix-vector kernel. Eight
    // independent chains per k keep the FMA pipes busy where a single panel's two chains would wait on latency.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x8<T, TV, TOps>(
        ref T a, ref T panel, nint panelStride, int k, ref T c, ref T init, bool zeroInit)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        nint w = TOps.Count, nr = 2 * w;
        TV c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        if (!zeroInit)
        {
            c0 = TOps.Load(ref init); c1 = TOps.Load(ref Unsafe.Add(ref init, w));
            c2 = TOps.Load(ref Unsafe.Add(ref init, 2 * w)); c3 = TOps.Load(ref Unsafe.Add(ref init, 3 * w));
            c4 = TOps.Load(ref Unsafe.Add(ref init, 4 * w)); c5 = TOps.Load(ref Unsafe.Add(ref init, 5 * w));
            c6 = TOps.Load(ref Unsafe.Add(ref init, 6 * w)); c7 = TOps.Load(ref Unsafe.Add(ref init, 7 * w));
        }
        ref T b0 = ref panel;
        ref T b1 = ref Unsafe.Add(ref b0, panelStride);
        ref T b2 = ref Unsafe.Add(ref b1, panelStride);
        ref T b3 = ref Unsafe.Add(ref b2, panelStride);
        for (nint p = 0; p < k; p++)
        {
            TV x = TOps.Broadcast(Unsafe.Add(ref a, p));
            nint o = p * nr;
            c0 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref b0, o)), c0);
            c1 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref b0, o + w)), c1);
            c2 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref b1, o)), c2);
            c3 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref b1, o + w)), c3);
            c4 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref b2, o)), c4);
            c5 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref b2, o + w)), c5);
            c6 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref b3, o)), c6);
            c7 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref b3, o + w)), c7);
        }
        TOps.Store(c0, ref c); TOps.Store(c1, ref Unsafe.Add(ref c, w));
        TOps.Store(c2, ref Unsafe.Add(ref c, 2 * w)); TOps.Store(c3, ref Unsafe.Add(ref c, 3 * w));
        TOps.Store(c4, ref Unsafe.Add(ref c, 4 * w)); TOps.Store(c5, ref Unsafe.Add(ref c, 5 * w));
        TOps.Store(c6, ref Unsafe.Add(ref c, 6 * w)); TOps.Store(c7, ref Unsafe.Add(ref c, 7 * w));
    }

    // c (1, 2W) = init + a (1, k) · panel (k, 2W): one panel of one row.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
