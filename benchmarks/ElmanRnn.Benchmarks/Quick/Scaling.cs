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
/// <param name="PeakOne">The 1-thread fp32 FMA peak, the better of just before and just after the pairs.</param>
/// <param name="PeakTwo">The 2-thread fp32 FMA peak, the worse of just before and just after: whether the second
/// core was there the whole time.</param>
internal sealed record Scaling(
    BenchCase Case, IReadOnlyList<double> Ratios, double OneThreadMedian, double TwoThreadMedian, double PeakOne, double PeakTwo)
{
    /// <summary>The 2-thread peak must be at least this multiple of the 1-thread one for the machine to count as
    /// offering two cores; below it (a tenant on the second core, both vCPUs on one core) the target is not judged.</summary>
    private const double TwoCoresFactor = 1.6;

    public double MedianRatio => QuickMode.Median(Ratios);

    public bool TwoCores => PeakTwo >= TwoCoresFactor * PeakOne;

    public static Scaling Measure(BenchCase benchCase, QuickOptions options)
    {
        var data = CaseData<float>.Create(benchCase);
        using var one = new OursContender<float>(data, 1, options.OursInto);
        using var two = new OursContender<float>(data, 2, options.OursInto);
        for (int i = 0; i < 2; i++)
        {
            one.Run();
            two.Run();
        }

        var (oneBefore, twoBefore) = (FmaPeak.Measure<float>(1, 0.04, 3), FmaPeak.Measure<float>(2, 0.04, 3));
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
        var (oneAfter, twoAfter) = (FmaPeak.Measure<float>(1, 0.04, 3), FmaPeak.Measure<float>(2, 0.04, 3));
        return new Scaling(benchCase, ratios, QuickMode.Median(ones), QuickMode.Median(twos),
            Math.Max(oneBefore, oneAfter), Math.Min(twoBefore, twoAfter));
    }

    public string Describe() => FormattableString.Invariant(
        $"({Case.Id}) ours alone, 1 and 2 threads alternating: {Ratios.Count} pairs, 2-thread speed-up median {MedianRatio:0.00}× (range {Ratios.Min():0.00}–{Ratios.Max():0.00}×; medians {Report.Time(OneThreadMedian)} and {Report.Time(TwoThreadMedian)}); FMA peak around the pairs {PeakOne:0} GFLOP/s on 1 thread, {PeakTwo:0} on 2{(TwoCores ? "." : $": less than {TwoCoresFactor:0.#}× one core's, so the second core was not all there and the target is not judged.")}");

    private static double Time(IContender contender, int gapMilliseconds)
    {
        if (gapMilliseconds > 0)
            Thread.Sleep(gapMilliseconds);
        long start = Stopwatch.GetTimestamp();
        contender.Run();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
