using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ElmanRnn.Kernels;

/// <summary>
/// A PyTorch weight W of shape (N, K) (out_features, in_features) laid out for C = A·Wᵀ: N is cut into panels of
/// <see cref="PanelWidth"/> columns (two vectors of the active SIMD path), and each panel is stored k-major, so the
/// micro-kernel streams one contiguous panel while it broadcasts A's elements from their rows.
/// Packing happens once per weight change, never per forward call.
/// </summary>
internal sealed class PackedMatrix<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int Alignment = 64;

    // panels: (PanelCount, K, PanelWidth) from _offset on; element (n, k) of W sits at [n / NR][k][n % NR]; columns
    // past N are zero. The array is pinned and the panels start on a cache line, so no full-width vector load of a
    // panel row ever straddles two lines (which halves load throughput).
    private readonly T[] _panels;
    private readonly int _offset;

    private unsafe PackedMatrix(int n, int k, int panelWidth, PackedMatrix<T>? reuse = null)
    {
        N = n;
        K = k;
        PanelWidth = panelWidth;
        PanelCount = (n + panelWidth - 1) / panelWidth;
        int length = PanelCount * k * panelWidth, slack = Alignment / sizeof(T);
        if (reuse is not null && reuse._panels.Length - reuse._offset >= length)
        {
            (_panels, _offset) = (reuse._panels, reuse._offset);   // pinned: the aligned start stays where it was
            return;
        }
        _panels = GC.AllocateArray<T>(length + slack, pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref _panels[0]);
        _offset = (int)((Alignment - address % Alignment) % Alignment) / sizeof(T);
    }

    /// <summary>Output columns of C (rows of W).</summary>
    public int N { get; private set; }

    /// <summary>Reduction length (columns of W).</summary>
    public int K { get; private set; }

    public int PanelWidth { get; }

    public int PanelCount { get; private set; }

    public ReadOnlySpan<T> Panel(int p) => _panels.AsSpan(_offset + p * K * PanelWidth, K * PanelWidth);

    /// <summary>Packs W (N, K), row-major, for the SIMD path this process runs on.</summary>
    public static PackedMatrix<T> Pack(ReadOnlySpan<T> w, int n, int k) => Pack(w, n, k, Gemm.PanelWidth<T>());

    internal static PackedMatrix<T> Pack(ReadOnlySpan<T> w, int n, int k, int panelWidth)
    {
        if (w.Length != n * k)
            throw new ArgumentException($"Expected {n}x{k} = {n * k} weight elements, got {w.Length}.", nameof(w));
        var packed = new PackedMatrix<T>(n, k, panelWidth);
        for (int row = 0; row < n; row++)
        {
            int panel = row / panelWidth, lane = row % panelWidth;
            Span<T> dst = packed._panels.AsSpan(packed._offset + panel * k * panelWidth);
            ReadOnlySpan<T> src = w.Slice(row * k, k);
            for (int p = 0; p < k; p++)
                dst[p * panelWidth + lane] = src[p];
        }
        return packed;
    }

    /// <summary>
    /// An empty operand W = Mᵀ of shape (N = cols, K = rows) for C = A·M, filled row by row of M with
    /// <see cref="SetTransposedRow"/>: for M gathered from several places (the backward's previous states). Takes over
    /// <paramref name="reuse"/>'s storage when it is large enough, so a training loop packs into the same memory every
    /// call; <paramref name="reuse"/> must not be used afterwards.
    /// </summary>
    public static PackedMatrix<T> Transposed(int rows, int cols, PackedMatrix<T>? reuse)
    {
        int panelWidth = Gemm.PanelWidth<T>();
        int panelCount = (cols + panelWidth - 1) / panelWidth;
        if (reuse is null || reuse.PanelWidth != panelWidth || reuse._panels.Length - reuse._offset < panelCount * rows * panelWidth)
            return new(cols, rows, panelWidth, reuse);
        // Large enough: reshaped in place, so a training loop (whose layers alternate shapes) allocates nothing.
        (reuse.N, reuse.K, reuse.PanelCount) = (cols, rows, panelCount);
        return reuse;
    }

    /// <summary>Row <paramref name="p"/> of M (cols elements): column p of every panel, zero past N.</summary>
    public void SetTransposedRow(int p, ReadOnlySpan<T> row)
    {
        if ((uint)p >= (uint)K || row.Length != N)
            throw new InvalidOperationException($"Row {p} of {N} elements does not fit a ({K}, {N}) matrix (got {row.Length}).");
        // Full panels: PanelWidth elements each, 16-byte vectors copied inline. A span copy per panel (a memmove
        // call for 64 bytes) cost more than the bytes: 1.1 ms of the backward's 1.2 ms to pack (3200, 256) floats.
        int full = N / PanelWidth, bytes = PanelWidth * Unsafe.SizeOf<T>();
        nint panelStride = (nint)K * PanelWidth;
        ref byte src = ref Unsafe.As<T, byte>(ref MemoryMarshal.GetReference(row));
        ref byte dst = ref Unsafe.As<T, byte>(ref _panels[_offset + (nint)p * PanelWidth]);
        if (bytes % Vector128<byte>.Count == 0)
        {
            for (int panel = 0; panel < full; panel++)
            {
                ref byte to = ref Unsafe.Add(ref dst, panel * panelStride * Unsafe.SizeOf<T>());
                for (int b = 0; b < bytes; b += Vector128<byte>.Count)
                    Vector128.LoadUnsafe(ref src, (nuint)b).StoreUnsafe(ref to, (nuint)b);
                src = ref Unsafe.Add(ref src, bytes);
            }
        }
        else
            full = 0;
        for (int panel = full, first = full * PanelWidth; panel < PanelCount; panel++, first += PanelWidth)
        {
            Span<T> to = _panels.AsSpan(_offset + (panel * K + p) * PanelWidth, PanelWidth);
            int width = Math.Min(PanelWidth, N - first);
            row.Slice(first, width).CopyTo(to);
            to[width..].Clear();
        }
    }

    /// <summary>
    /// Packs the transpose of M (rows, cols), row-major, i.e. W = Mᵀ of shape (N = cols, K = rows), for C = A·M:
    /// the backward's products (dX = dZ·W_ih, dh = dz·W_hh, dW = dZᵀ·X over the saved rows). Each panel row reads
    /// a contiguous stretch of one row of M.
    /// </summary>
    public static PackedMatrix<T> PackTransposed(ReadOnlySpan<T> m, int rows, int cols, PackedMatrix<T>? reuse = null)
    {
        if (m.Length != (long)rows * cols)
            throw new ArgumentException($"Expected {rows}x{cols} = {(long)rows * cols} elements, got {m.Length}.", nameof(m));
        PackedMatrix<T> packed = Transposed(rows, cols, reuse);
        for (int p = 0; p < rows; p++)
            packed.SetTransposedRow(p, m.Slice(p * cols, cols));
        return packed;
    }
}
