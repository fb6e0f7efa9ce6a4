using System.Globalization;
using System.Runtime.InteropServices;

namespace ElmanRnn.Benchmarks.Quick;

/// <summary>What the numbers were measured on: CPU, cores, runtime, load, and the measured FMA peaks.</summary>
internal sealed record Machine(
    string Cpu, int Cores, string Runtime, int VectorBits,
    double PeakFloat1, double PeakFloat2, double PeakDouble1, double PeakDouble2)
{
    /// <summary>Measures the peaks (about 3 s) and reads the rest from the system.</summary>
    public static Machine Measure() => new(
        CpuModel(), Environment.ProcessorCount, RuntimeInformation.FrameworkDescription, FmaPeak.VectorBits,
        FmaPeak.Measure<float>(1), FmaPeak.Measure<float>(Math.Min(2, Environment.ProcessorCount)),
        FmaPeak.Measure<double>(1), FmaPeak.Measure<double>(Math.Min(2, Environment.ProcessorCount)));

    /// <summary>The measured peak in GFLOP/s for an element type and thread count (threads beyond 2 use the 2-thread
    /// figure scaled linearly).</summary>
    public double Peak(bool isDouble, int threads)
    {
        var (one, two) = isDouble ? (PeakDouble1, PeakDouble2) : (PeakFloat1, PeakFloat2);
        return threads <= 1 ? one : two * threads / 2;
    }

    /// <summary>The 1-, 5- and 15-minute load averages, as <c>uptime</c> prints them.</summary>
    public static string LoadAverage()
    {
        try
        {
            var fields = File.ReadAllText("/proc/loadavg").Split(' ');
            return string.Join(", ", fields.Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line is not null)
                return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
        }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Cpu}, {Cores} cores, {Runtime}, {VectorBits}-bit vectors; measured FMA peak fp32 {PeakFloat1:0} GFLOP/s " +
        $"(1 thread) / {PeakFloat2:0} (2 threads), fp64 {PeakDouble1:0} / {PeakDouble2:0}");
}
