using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ElmanRnn.Benchmarks.Quick;

/// <summary>
/// The machine's measured fused-multiply-add peak: independent accumulator chains of the widest accelerated vector,
/// enough to cover FMA latency × throughput on current cores and no more than the register file holds with the two
/// operands — 16 zmm chains with AVX-512's 32 registers, 12 ymm chains with AVX2's 16 (16 chains there spilled and
/// reported ~55 GFLOP/s on a ~100 GFLOP/s core) — in a loop that the JIT
/// compiles fully optimised (<see cref="MethodImplOptions.AggressiveOptimization"/>: no tier-0 or OSR code). The best
/// of several runs counts; for N threads, N copies run at once and the total over the wall time counts.
/// </summary>
internal static class FmaPeak
{
    private static int Accumulators => Vector512.IsHardwareAccelerated ? 16 : 12;

    /// <summary>Width of the vectors measured, in bits.</summary>
    public static int VectorBits => Vector512.IsHardwareAccelerated ? 512 : 256;

    /// <summary>Peak GFLOP/s (one FMA = 2 flops) on <paramref name="threads"/> threads.</summary>
    public static double Measure<T>(int threads, double secondsPerRun = 0.15, int runs = 5)
        where T : unmanaged
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

    private static long Calibrate<T>(double seconds) where T : unmanaged
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

    private static double FlopsPerIteration<T>() where T : unmanaged =>
        2.0 * Accumulators * (VectorBits / 8) / Unsafe.SizeOf<T>();

    private static void Loop<T>(long iterations) where T : unmanaged
    {
        double sink = typeof(T) == typeof(double)
            ? (Vector512.IsHardwareAccelerated ? Loop<Vector512<double>, V512D>(iterations) : Loop12<Vector256<double>, V256D>(iterations))
            : (Vector512.IsHardwareAccelerated ? Loop<Vector512<float>, V512F>(iterations) : Loop12<Vector256<float>, V256F>(iterations));
        if (double.IsNaN(sink))
            Console.Error.WriteLine("FMA loop diverged");   // keeps the result observable
    }

    /// <summary>acc_i = acc_i · a + b on 16 independent chains. a &lt; 1 keeps the values bounded; the sum at the end
    /// keeps the loop from being optimised away. Instantiated per vector type (all value types), so each
    /// instantiation is its own fully specialised code.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Loop<TVector, TOps>(long iterations)
        where TVector : struct
        where TOps : IVectorOps<TVector>
    {
        TVector a = TOps.Create(0.999), b = TOps.Create(0.001);
        TVector c0 = TOps.Create(0.0), c1 = TOps.Create(0.1), c2 = TOps.Create(0.2), c3 = TOps.Create(0.3),
            c4 = TOps.Create(0.4), c5 = TOps.Create(0.5), c6 = TOps.Create(0.6), c7 = TOps.Create(0.7),
            c8 = TOps.Create(0.8), c9 = TOps.Create(0.9), c10 = TOps.Create(1.0), c11 = TOps.Create(1.1),
            c12 = TOps.Create(1.2), c13 = TOps.Create(1.3), c14 = TOps.Create(1.4), c15 = TOps.Create(1.5);
        for (long i = 0; i < iterations; i++)
        {
            c0 = TOps.Fma(c0, a, b); c1 = TOps.Fma(c1, a, b); c2 = TOps.Fma(c2, a, b); c3 = TOps.Fma(c3, a, b);
            c4 = TOps.Fma(c4, a, b); c5 = TOps.Fma(c5, a, b); c6 = TOps.Fma(c6, a, b); c7 = TOps.Fma(c7, a, b);
            c8 = TOps.Fma(c8, a, b); c9 = TOps.Fma(c9, a, b); c10 = TOps.Fma(c10, a, b); c11 = TOps.Fma(c11, a, b);
            c12 = TOps.Fma(c12, a, b); c13 = TOps.Fma(c13, a, b); c14 = TOps.Fma(c14, a, b); c15 = TOps.Fma(c15, a, b);
        }
        return TOps.Sum(c0) + TOps.Sum(c1) + TOps.Sum(c2) + TOps.Sum(c3) + TOps.Sum(c4) + TOps.Sum(c5)
             + TOps.Sum(c6) + TOps.Sum(c7) + TOps.Sum(c8) + TOps.Sum(c9) + TOps.Sum(c10) + TOps.Sum(c11)
             + TOps.Sum(c12) + TOps.Sum(c13) + TOps.Sum(c14) + TOps.Sum(c15);
    }

    /// <summary>The same on 12 chains, for 16-register files (12 accumulators + a + b = 14 registers).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Loop12<TVector, TOps>(long iterations)
        where TVector : struct
        where TOps : IVectorOps<TVector>
    {
        TVector a = TOps.Create(0.999), b = TOps.Create(0.001);
        TVector c0 = TOps.Create(0.0), c1 = TOps.Create(0.1), c2 = TOps.Create(0.2), c3 = TOps.Create(0.3),
            c4 = TOps.Create(0.4), c5 = TOps.Create(0.5), c6 = TOps.Create(0.6), c7 = TOps.Create(0.7),
            c8 = TOps.Create(0.8), c9 = TOps.Create(0.9), c10 = TOps.Create(1.0), c11 = TOps.Create(1.1);
        for (long i = 0; i < iterations; i++)
        {
            c0 = TOps.Fma(c0, a, b); c1 = TOps.Fma(c1, a, b); c2 = TOps.Fma(c2, a, b); c3 = TOps.Fma(c3, a, b);
            c4 = TOps.Fma(c4, a, b); c5 = TOps.Fma(c5, a, b); c6 = TOps.Fma(c6, a, b); c7 = TOps.Fma(c7, a, b);
            c8 = TOps.Fma(c8, a, b); c9 = TOps.Fma(c9, a, b); c10 = TOps.Fma(c10, a, b); c11 = TOps.Fma(c11, a, b);
        }
        return TOps.Sum(c0) + TOps.Sum(c1) + TOps.Sum(c2) + TOps.Sum(c3) + TOps.Sum(c4) + TOps.Sum(c5)
             + TOps.Sum(c6) + TOps.Sum(c7) + TOps.Sum(c8) + TOps.Sum(c9) + TOps.Sum(c10) + TOps.Sum(c11);
    }

    private interface IVectorOps<TVector>
    {
        static abstract TVector Create(double value);
        static abstract TVector Fma(TVector x, TVector y, TVector z);
        static abstract double Sum(TVector x);
    }

    private readonly struct V512F : IVectorOps<Vector512<float>>
    {
        public static Vector512<float> Create(double value) => Vector512.Create((float)value);
        public static Vector512<float> Fma(Vector512<float> x, Vector512<float> y, Vector512<float> z) => Vector512.FusedMultiplyAdd(x, y, z);
        public static double Sum(Vector512<float> x) => Vector512.Sum(x);
    }

    private readonly struct V512D : IVectorOps<Vector512<double>>
    {
        public static Vector512<double> Create(double value) => Vector512.Create(value);
        public static Vector512<double> Fma(Vector512<double> x, Vector512<double> y, Vector512<double> z) => Vector512.FusedMultiplyAdd(x, y, z);
        public static double Sum(Vector512<double> x) => Vector512.Sum(x);
    }

    private readonly struct V256F : IVectorOps<Vector256<float>>
    {
        public static Vector256<float> Create(double value) => Vector256.Create((float)value);
        public static Vector256<float> Fma(Vector256<float> x, Vector256<float> y, Vector256<float> z) => Vector256.FusedMultiplyAdd(x, y, z);
        public static double Sum(Vector256<float> x) => Vector256.Sum(x);
    }

    private readonly struct V256D : IVectorOps<Vector256<double>>
    {
        public static Vector256<double> Create(double value) => Vector256.Create(value);
        public static Vector256<double> Fma(Vector256<double> x, Vector256<double> y, Vector256<double> z) => Vector256.FusedMultiplyAdd(x, y, z);
        public static double Sum(Vector256<double> x) => Vector256.Sum(x);
    }
}
