using System.Globalization;

namespace ElmanRnn.Benchmarks.Quick;

/// <summary>Measured FMA peaks in GFLOP/s, fp32 and fp64, on 1 and 2 threads.</summary>
internal sealed record Peaks(double Float1, double Float2, double Double1, double Double2)
{
    /// <summary>About 3 s: the four peaks, each the best of 5 runs.</summary>
    public static Peaks Measure()
    {
        int two = Math.Min(2, Environment.ProcessorCount);
        return new Peaks(FmaPeak.Measure<float>(1), FmaPeak.Measure<float>(two),
            FmaPeak.Measure<double>(1), FmaPeak.Measure<double>(two));
    }

    public Peaks Max(Peaks other) => new(Math.Max(Float1, other.Float1), Math.Max(Float2, other.Float2),
        Math.Max(Double1, other.Double1), Math.Max(Double2, other.Double2));

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"fp32 {Float1:0} GFLOP/s on 1 thread, {Float2:0} on 2; fp64 {Double1:0} / {Double2:0}");
}
