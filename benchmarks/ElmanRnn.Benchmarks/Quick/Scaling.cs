using System.Diagnostics;
using ElmanRnn.Benchmarks.Cases;
using ElmanRnn.Benchmarks.Contenders;

namespace ElmanRnn.Benchmarks.Quick;

/// <summary>
/// Our 2-thread speed-up over our own 1 thread on one case, from calls timed in alternating pairs (1 thread, then
/// 2 threads, each after the same pause) with no other contender in between. The table's rows cannot give this
/// ratio: they are measured minutes apart, among libtorch's and ONNX Runtime's calls, on vCPUs whose speed (and
/// the other tenants' share of the second core) drifts by 1.2–1.5× from minute to minute on the machines we
/// measure on; a pair is a few hundred milliseconds apart, so each pair's ratio sees one machine state.
/// </summary>
/// <param name="Ratios">Each pair's 1-thread time over its 2-thread time.</param>
internal sealed record Scaling(BenchCase Case, IReadOnlyList<double> Ratios, double OneThreadMedian, double TwoThreadMedian)
{
    public double MedianRatio => QuickMode.Median(Ratios);

    public static Scaling Measure(BenchCase benchCase, QuickOptions options)
    {
        var data = CaseData<float>.Create(benchCase);
        using var one = new OursContender<float>(data, 1);
        using var two = new OursContender<float>(data, 2);
        for (int i = 0; i < 2; i++)
        {
            one.Run();
            two.Run();
        }

        var ratios = new List<double>();
        var ones = new List<double>();
        var twos = new List<double>();
        var measuring = Stopwatch.StartNew();
        while (ratios.Count < QuickMode.MinRounds || measuring.Elapsed.TotalSeconds < options.Seconds)
        {
            double t1 = Time(one, options.GapMilliseconds), t2 = Time(two, options.GapMilliseconds);
            ones.Add(t1);
            twos.Add(t2);
            ratios.Add(t1 / t2);
        }
        return new Scaling(benchCase, ratios, QuickMode.Median(ones), QuickMode.Median(twos));
    }

    public string Describe() => FormattableString.Invariant(
        $"({Case.Id}) ours alone, 1 and 2 threads alternating: {Ratios.Count} pairs, 2-thread speed-up median {MedianRatio:0.00}× (range {Ratios.Min():0.00}–{Ratios.Max():0.00}×; medians {Report.Time(OneThreadMedian)} and {Report.Time(TwoThreadMedian)}).");

    private static double Time(IContender contender, int gapMilliseconds)
    {
        if (gapMilliseconds > 0)
            Thread.Sleep(gapMilliseconds);
        long start = Stopwatch.GetTimestamp();
        contender.Run();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
