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
    public double? Median(string contender) =>
        MedianSeconds.TryGetValue(contender, out double seconds) ? seconds : null;

    /// <summary>The contender's median over ours: how many times faster ours is.</summary>
    public double? SpeedUpOver(string contender) =>
        Median(contender) is { } theirs && Median(Names.Ours) is { } ours ? theirs / ours : null;

    public double? OursGflops => Median(Names.Ours) is { } ours ? Case.Flops / ours / 1e9 : null;

    /// <summary>Ratio target over libtorch: (a) 20, (b) 4, (c) 2.5, (d) 2, (e) 2 on one thread; 1.5 on every case at
    /// two or more threads. The variants of (c) have no 1-thread target of their own.</summary>
    public double? LibTorchTarget => Threads >= 2
        ? 1.5
        : Case.Id switch { "a" => 20, "b" => 4, "c" => 2.5, "d" => 2, "e" => 2, _ => null };

    /// <summary>Fraction of the 1-thread peak that case (e) must reach on one thread.</summary>
    public double? PeakTarget => Case.Id == "e" && Threads == 1 ? 0.8 : null;

    /// <summary>Each target that applies, with its verdict: (description, met, or null when it cannot be judged).</summary>
    public IReadOnlyList<(string Target, bool? Met)> Targets(Machine machine)
    {
        var targets = new List<(string, bool?)>();
        if (LibTorchTarget is { } ratio)
            targets.Add(($"≥{ratio:0.##}× libtorch", SpeedUpOver(Names.LibTorch) is { } s ? s >= ratio : null));
        if (PeakTarget is { } fraction)
            targets.Add(($"≥{fraction:0%} of peak",
                OursGflops is { } g ? g >= fraction * machine.PeakGflops(Case.Double, Threads) : null));
        if (!Case.Double)
            targets.Add(("ahead of ONNX Runtime", SpeedUpOver(Names.OnnxRuntime) is { } s ? s > 1 : null));
        return targets;
    }
}
