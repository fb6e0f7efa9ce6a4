using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ElmanRnn.Kernels;

namespace ElmanRnn.Benchmarks.Quick;

/// <summary>
/// The machine's measured multiply-add peak on the path the library takes (<see cref="VectorPath"/>): independent
/// accumulator chains of the library's own vector width and its own <c>MultiplyAdd</c> (one FMA where
/// <see cref="Simd.HasFma"/>, else a multiply and an add, as the kernels then do), enough chains to cover latency ×
/// throughput on current cores and no more than the register file holds with the two operands — 16 zmm chains with
/// AVX-512's 32 registers, 12 chains with the 16 registers of x64 without AVX-512 (ymm for AVX2, xmm for the 128-bit
/// and scalar paths; 16 ymm chains spilled and reported ~55 GFLOP/s on a ~100 GFLOP/s core) — in a loop that the JIT
/// compiles fully optimised (<see cref="MethodImplOptions.AggressiveOptimization"/>: no tier-0 or OSR code). The best
/// of several runs counts; for N threads, N copies run at once and the total over the wall time counts.
/// </summary>
internal static class FmaPeak
{
    private static int Accumulators => Simd.Path == SimdPath.Vector512 ? 16 : 12;

    /// <summary>Peak GFLOP/s (one multiply-add = 2 flops) on <paramref name="threads"/> threads.</summary>
    public static double Measure<T>(int threads, double secondsPerRun = 0.15, int runs = 5)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long iterations = Calibrate<T>(secondsPerRun);
        double best = 0;
        for (int run = 0; run < runs; run++)
        {
            var start = new Barrier(threads + 1);
            var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
            {
                start.SignalAndWait();
                Loop<T>(iterations);
            }) { IsBackground = true }).ToList();
            workers.ForEach(w => w.Start());
            start.SignalAndWait();
            long begin = Stopwatch.GetTimestamp();
            workers.ForEach(w => w.Join());
            double seconds = Stopwatch.GetElapsedTime(begin).TotalSeconds;
            best = Math.Max(best, threads * FlopsPerIteration<T>() * iterations / seconds / 1e9);
        }
        return best;
    }

    private static long Calibrate<T>(double seconds) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long iterations = 1 << 16;
        while (true)
        {
            long begin = Stopwatch.GetTimestamp();
            Loop<T>(iterations);
            double elapsed = Stopwatch.GetElapsedTime(begin).TotalSeconds;
            if (elapsed > seconds / 4)
                return (long)(iterations * seconds / elapsed);
            iterations *= 2;
        }
    }

    private static double FlopsPerIteration<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
        2.0 * Accumulators * Simd.Width<T>();

    private static void Loop<T>(long iterations) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double sink = Simd.Path switch
        {
            SimdPath.Vector512 => Loop16<T, Vector512<T>, Vector512Ops<T>>(iterations),
            SimdPath.Vector256 => Loop12<T, Vector256<T>, Vector256Ops<T>>(iterations),
            SimdPath.Vector128 => Loop12<T, Vector128<T>, Vector128Ops<T>>(iterations),
            _ => Loop12<T, T, ScalarOps<T>>(iterations),
        };
        if (double.IsNaN(sink))
            Console.Error.WriteLine("FMA loop diverged");   // keeps the result observable
    }

    /// <summary>acc_i = acc_i · a + b on 16 independent chains. a &lt; 1 keeps the values bounded; the sum at the end
    /// keeps the loop from being optimised away. Instantiated per vector type (all value types), so each
    /// instantiation is its own fully specialised code.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Loop16<T, TVector, TOps>(long iterations)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TVector : struct
        where TOps : IVectorOps<TVector, T>
    {
        TVector a = Broadcast<T, TVector, TOps>(0.999), b = Broadcast<T, TVector, TOps>(0.001);
        TVector c0 = Broadcast<T, TVector, TOps>(0.0), c1 = Broadcast<T, TVector, TOps>(0.1),
            c2 = Broadcast<T, TVector, TOps>(0.2), c3 = Broadcast<T, TVector, TOps>(0.3),
            c4 = Broadcast<T, TVector, TOps>(0.4), c5 = Broadcast<T, TVector, TOps>(0.5),
            c6 = Broadcast<T, TVector, TOps>(0.6), c7 = Broadcast<T, TVector, TOps>(0.7),
            c8 = Broadcast<T, TVector, TOps>(0.8), c9 = Broadcast<T, TVector, TOps>(0.9),
            c10 = Broadcast<T, TVector, TOps>(1.0), c11 = Broadcast<T, TVector, TOps>(1.1),
            c12 = Broadcast<T, TVector, TOps>(1.2), c13 = Broadcast<T, TVector, TOps>(1.3),
            c14 = Broadcast<T, TVector, TOps>(1.4), c15 = Broadcast<T, TVector, TOps>(1.5);
        for (long i = 0; i < iterations; i++)
        {
            c0 = TOps.MultiplyAdd(c0, a, b); c1 = TOps.MultiplyAdd(c1, a, b);
            c2 = TOps.MultiplyAdd(c2, a, b); c3 = TOps.MultiplyAdd(c3, a, b);
            c4 = TOps.MultiplyAdd(c4, a, b); c5 = TOps.MultiplyAdd(c5, a, b);
            c6 = TOps.MultiplyAdd(c6, a, b); c7 = TOps.MultiplyAdd(c7, a, b);
            c8 = TOps.MultiplyAdd(c8, a, b); c9 = TOps.MultiplyAdd(c9, a, b);
            c10 = TOps.MultiplyAdd(c10, a, b); c11 = TOps.MultiplyAdd(c11, a, b);
            c12 = TOps.MultiplyAdd(c12, a, b); c13 = TOps.MultiplyAdd(c13, a, b);
            c14 = TOps.MultiplyAdd(c14, a, b); c15 = TOps.MultiplyAdd(c15, a, b);
        }
        TVector total = TOps.Add(
            TOps.Add(TOps.Add(TOps.Add(c0, c1), TOps.Add(c2, c3)), TOps.Add(TOps.Add(c4, c5), TOps.Add(c6, c7))),
            TOps.Add(TOps.Add(TOps.Add(c8, c9), TOps.Add(c10, c11)), TOps.Add(TOps.Add(c12, c13), TOps.Add(c14, c15))));
        return Sum<T, TVector, TOps>(total);
    }

    /// <summary>The same on 12 chains, for 16-register files (12 accumulators + a + b = 14 registers).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Loop12<T, TVector, TOps>(long iterations)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TVector : struct
        where TOps : IVectorOps<TVector, T>
    {
        TVector a = Broadcast<T, TVector, TOps>(0.999), b = Broadcast<T, TVector, TOps>(0.001);
        TVector c0 = Broadcast<T, TVector, TOps>(0.0), c1 = Broadcast<T, TVector, TOps>(0.1),
            c2 = Broadcast<T, TVector, TOps>(0.2), c3 = Broadcast<T, TVector, TOps>(0.3),
            c4 = Broadcast<T, TVector, TOps>(0.4), c5 = Broadcast<T, TVector, TOps>(0.5),
            c6 = Broadcast<T, TVector, TOps>(0.6), c7 = Broadcast<T, TVector, TOps>(0.7),
            c8 = Broadcast<T, TVector, TOps>(0.8), c9 = Broadcast<T, TVector, TOps>(0.9),
            c10 = Broadcast<T, TVector, TOps>(1.0), c11 = Broadcast<T, TVector, TOps>(1.1);
        for (long i = 0; i < iterations; i++)
        {
            c0 = TOps.MultiplyAdd(c0, a, b); c1 = TOps.MultiplyAdd(c1, a, b);
            c2 = TOps.MultiplyAdd(c2, a, b); c3 = TOps.MultiplyAdd(c3, a, b);
            c4 = TOps.MultiplyAdd(c4, a, b); c5 = TOps.MultiplyAdd(c5, a, b);
            c6 = TOps.MultiplyAdd(c6, a, b); c7 = TOps.MultiplyAdd(c7, a, b);
            c8 = TOps.MultiplyAdd(c8, a, b); c9 = TOps.MultiplyAdd(c9, a, b);
            c10 = TOps.MultiplyAdd(c10, a, b); c11 = TOps.MultiplyAdd(c11, a, b);
        }
        TVector total = TOps.Add(
            TOps.Add(TOps.Add(c0, c1), TOps.Add(c2, c3)),
            TOps.Add(TOps.Add(TOps.Add(c4, c5), TOps.Add(c6, c7)), TOps.Add(TOps.Add(c8, c9), TOps.Add(c10, c11))));
        return Sum<T, TVector, TOps>(total);
    }

    private static TVector Broadcast<T, TVector, TOps>(double value)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TVector : struct
        where TOps : IVectorOps<TVector, T> =>
        TOps.Broadcast(T.CreateTruncating(value));

    private static double Sum<T, TVector, TOps>(TVector x)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TVector : struct
        where TOps : IVectorOps<TVector, T>
    {
        Span<T> lanes = stackalloc T[TOps.Count];
        TOps.Store(x, ref lanes[0]);
        double sum = 0;
        foreach (T lane in lanes)
            sum += double.CreateTruncating(lane);
        return sum;
    }
}
