using System.Globalization;
using System.Runtime.InteropServices;

namespace ElmanRnn.Benchmarks.Quick;

/// <summary>What the numbers were measured on: CPU, cores, runtime, the library's SIMD path, and that path's FMA peak
/// (the best of the measurements before and after the run and around each row; the first two are kept for the
/// record).</summary>
internal sealed record Machine(string Cpu, int Cores, string Runtime, VectorPath Path, Peaks Peak, Peaks Before, Peaks After)
{
    public static Machine Current(Peaks before, Peaks after, IReadOnlyList<Measurement> rows)
    {
        double Best(bool isDouble, int threads, double measured) => rows
            .Where(r => r.Case.Double == isDouble && r.Threads == threads)
            .Select(r => r.PeakNow).Append(measured).Max();

        var best = before.Max(after);
        best = new Peaks(Best(false, 1, best.Float1), Best(false, 2, best.Float2), Best(true, 1, best.Double1),
            Best(true, 2, best.Double2));
        return new(CpuModel(), Environment.ProcessorCount, RuntimeInformation.FrameworkDescription,
            VectorPath.Current, best, before, after);
    }

    /// <summary>The peak in GFLOP/s for an element type and thread count (threads beyond 2: the 2-thread figure
    /// scaled linearly).</summary>
    public double PeakGflops(bool isDouble, int threads)
    {
        var (one, two) = isDouble ? (Peak.Double1, Peak.Double2) : (Peak.Float1, Peak.Float2);
        return threads <= 1 ? one : two * threads / 2;
    }

    /// <summary>The 1-, 5- and 15-minute load averages, as <c>uptime</c> prints them.</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Cpu}, {Cores} cores, {Runtime}, {Path.Describe()}; FMA peak {Peak.Describe()} " +
        $"(measured before the run: {Before.Float1:0} / {Before.Float2:0}, after: {After.Float1:0} / {After.Float2:0} fp32)");

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
}
