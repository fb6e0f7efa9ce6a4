using System.Globalization;
using ElmanRnn.Benchmarks.Cases;
using ElmanRnn.Benchmarks.Contenders;

namespace ElmanRnn.Benchmarks.Quick;

/// <summary>The medians of one case at one thread count, and what the targets of the performance issue say about them.
/// <see cref="OtherCores"/>: cores that other processes used meanwhile (see <see cref="CpuLoad"/>);
/// <see cref="PeakNow"/>: the FMA peak for this row's element type and thread count, measured just before and after
/// it (the better of the two), which shows what the machine could give at the time.</summary>
internal sealed record Measurement(
    BenchCase Case, int Threads, IReadOnlyDictionary<string, double> MedianSeconds, int Rounds, double OtherCores, double PeakNow,
    IReadOnlyList<(string Name, string Reason)> Refused, IReadOnlyList<string> Agreement)
{
    /// <summary>Ratio targets over libtorch on one thread. The variants of (c) have none of their own.</summary>
    private static readonly (string Case, double Ratio)[] OneThreadLibTorch =
        [("a", 20), ("b", 4), ("c", 1.5), ("d", 1.25), ("e", 1.25)];

    /// <summary>Ratio targets over libtorch on two threads: only the cases with enough work to split.</summary>
    private static readonly (string Case, double Ratio)[] TwoThreadLibTorch = [("c", 1.3), ("d", 1.3), ("e", 1.3)];

    /// <summary>Cases that must reach <see cref="PeakFraction"/> of the path's 1-thread FMA peak on one thread.</summary>
    private static readonly string[] PeakCases = ["c", "d", "e"];

    private const double PeakFraction = 0.85;

    /// <summary>Case (e) at two threads against our own one-thread time: how well the second core is used.</summary>
    public const string ScalingCase = "e";

    private const double ScalingTarget = 1.8;

    /// <summary>The targets in words, for the summary line under the table.</summary>
    public static string TargetsInWords { get; } = string.Create(CultureInfo.InvariantCulture,
        $"1 thread: {Ratios(OneThreadLibTorch)} libtorch and {string.Join(", ", PeakCases.Select(c => $"({c})"))} at " +
        $"≥{PeakFraction:0%} of the path's 1-thread FMA peak; 2 threads: {Ratios(TwoThreadLibTorch)} libtorch and " +
        $"({ScalingCase}) ≥{ScalingTarget:0.##}× our own 1-thread speed; " +
        $"ahead of ONNX Runtime on every fp32 case and thread count");

    /// <summary>For the <see cref="ScalingCase"/> row at 2 threads: our 1- and 2-thread calls timed in alternating
    /// pairs, which the scaling target is judged from when present.</summary>
    public Scaling? PairedScaling { get; init; }

    public double? Median(string contender) =>
        MedianSeconds.TryGetValue(contender, out double seconds) ? seconds : null;

    /// <summary>The contender's median over ours: how many times faster ours is.</summary>
    public double? SpeedUpOver(string contender) =>
        Median(contender) is { } theirs && Median(Names.Ours) is { } ours ? theirs / ours : null;

    public double? OursGflops => Median(Names.Ours) is { } ours ? Case.Flops / ours / 1e9 : null;

    /// <summary>Ratio target over libtorch for this case and thread count, if there is one (the issue sets none
    /// beyond two threads).</summary>
    public double? LibTorchTarget => Threads switch
    {
        1 => Lookup(OneThreadLibTorch),
        2 => Lookup(TwoThreadLibTorch),
        _ => null,
    };

    /// <summary>Each target that applies, with its verdict: (description, met, or null when it cannot be judged).
    /// <paramref name="run"/>: every row of the run, for the target that compares two thread counts.</summary>
    public IReadOnlyList<(string Target, bool? Met)> Targets(Machine machine, IReadOnlyList<Measurement> run)
    {
        var targets = new List<(string, bool?)>();
        if (LibTorchTarget is { } ratio)
            targets.Add((Invariant($"≥{ratio:0.##}× libtorch"), SpeedUpOver(Names.LibTorch) is { } s ? s >= ratio : null));
        if (Threads == 1 && PeakCases.Contains(Case.Id))
            targets.Add((Invariant($"≥{PeakFraction:0%} of peak"),
                OursGflops is { } g ? g >= PeakFraction * machine.PeakGflops(Case.Double, Threads) : null));
        if (Threads == 2 && Case.Id == ScalingCase)
        {
            // From alternating pairs when they were measured (Scaling); otherwise from the same run's 1-thread row,
            // never another run's: that would compare different machine states.
            var oneThread = run.FirstOrDefault(r => r.Case == Case && r.Threads == 1);
            double? speedUp = PairedScaling is { } paired
                ? (paired.TwoCores ? paired.MedianRatio : null)
                : oneThread?.Median(Names.Ours) is { } one && Median(Names.Ours) is { } two ? one / two : null;
            targets.Add((Invariant($"≥{ScalingTarget:0.##}× ours at 1 thread{(PairedScaling is null ? "" : " (paired)")}"),
                speedUp is { } r ? r >= ScalingTarget : null));
        }
        if (!Case.Double)
            targets.Add(("ahead of ONNX Runtime", SpeedUpOver(Names.OnnxRuntime) is { } s ? s > 1 : null));
        return targets;
    }

    private double? Lookup((string Case, double Ratio)[] table) =>
        table.Where(t => t.Case == Case.Id).Select(t => (double?)t.Ratio).FirstOrDefault();

    private static string Ratios((string Case, double Ratio)[] table) =>
        string.Join(", ", table.Select(t => Invariant($"({t.Case}) ≥{t.Ratio:0.##}×")));

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}
