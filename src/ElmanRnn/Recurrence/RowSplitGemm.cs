using System.Numerics;
using ElmanRnn.Kernels;
using ElmanRnn.Threading;

namespace ElmanRnn.Recurrence;

/// <summary>
/// C = A·Wᵀ (from zero) with C's rows split across a worker team in whole register tiles: the backward's large
/// products (dX over all rows, dW over the weight rows). A row's result does not depend on which part computes it, so
/// the split never changes a bit.
/// </summary>
internal sealed unsafe class RowSplitGemm<T> : ITeamJob where T : unmanaged, IFloatingPointIeee754<T>
{
    private const long MinWorkPerThread = 1 << 21;   // below ~2 M multiply-adds a wake-up costs more than it saves

    [ThreadStatic]
    private static RowSplitGemm<T>? t_job;

    // Pinned for the duration of Run: a (m, K) rows lda apart, c (m, N) rows ldc apart.
    private T* _a, _c;
    private int _aLength, _cLength, _lda, _m, _ldc;
    private PackedMatrix<T> _w = null!;

    public static void Run(WorkerTeam? team, int parts, ReadOnlySpan<T> a, int lda, int m, PackedMatrix<T> w,
        Span<T> c, int ldc)
    {
        long work = (long)m * w.N * w.K;
        parts = team is null ? 1 : (int)Math.Clamp(Math.Min(parts, work / MinWorkPerThread), 1, team.MaxParts);
        parts = Math.Min(parts, Math.Max(1, m / Gemm.TileRows));
        if (parts == 1)
        {
            Gemm.Run(a, lda, m, w, c, ldc, GemmInit.Zero, default, Activation.Identity);
            return;
        }
        RowSplitGemm<T> job = t_job ??= new RowSplitGemm<T>();
        fixed (T* pa = a, pc = c)
        {
            job._a = pa;
            job._c = pc;
            (job._aLength, job._cLength) = (a.Length, c.Length);
            (job._lda, job._m, job._ldc, job._w) = (lda, m, ldc, w);
            try
            {
                team!.Run(job, parts);
            }
            finally
            {
                job._a = job._c = null;
                job._w = null!;
            }
        }
    }

    public void Execute(int part, int parts)
    {
        int chunk = (_m + parts - 1) / parts;
        chunk = (chunk + Gemm.TileRows - 1) / Gemm.TileRows * Gemm.TileRows;
        int first = Math.Min(_m, part * chunk), count = Math.Min(_m, first + chunk) - first;
        if (count == 0)
            return;
        var a = new ReadOnlySpan<T>(_a, _aLength);
        var c = new Span<T>(_c, _cLength);
        Gemm.Run(a.Slice(first * _lda), _lda, count, _w, c.Slice(first * _ldc), _ldc, GemmInit.Zero, default,
            Activation.Identity);
    }

    public void Abort() { }
}
