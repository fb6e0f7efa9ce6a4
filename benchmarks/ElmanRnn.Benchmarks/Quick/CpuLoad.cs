using System.Diagnostics;
using System.Globalization;

namespace ElmanRnn.Benchmarks.Quick;

/// <summary>
/// How much CPU other processes (and the hypervisor) took while something was measured: the machine's busy time
/// from <c>/proc/stat</c> minus this process's own CPU time, plus steal time, over the wall time, in cores. On a
/// 2-core machine 0.0 means the measurement had the machine to itself; 1.0 means another core's worth of work ran
/// beside it, which halves what a 2-thread run can get.
/// </summary>
internal readonly record struct CpuLoad(double BusySeconds, double StealSeconds, double OwnSeconds, long Timestamp)
{
    private const double TicksPerSecond = 100;   // USER_HZ, the unit of /proc/stat on Linux

    public static CpuLoad Now()
    {
        double busy = 0, steal = 0;
        try
        {
            // cpu  user nice system idle iowait irq softirq steal guest guest_nice
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            double Field(int i) => double.Parse(fields[i], CultureInfo.InvariantCulture) / TicksPerSecond;
            busy = Field(1) + Field(2) + Field(3) + Field(6) + Field(7);
            steal = Field(8);
        }
        catch (IOException)
        {
        }
        return new CpuLoad(busy, steal, Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds,
            Stopwatch.GetTimestamp());
    }

    /// <summary>Average number of cores that others (processes and steal) used since <paramref name="start"/>.</summary>
    public double OthersSince(CpuLoad start)
    {
        double wall = Stopwatch.GetElapsedTime(start.Timestamp, Timestamp).TotalSeconds;
        double others = (BusySeconds - start.BusySeconds) - (OwnSeconds - start.OwnSeconds)
                        + (StealSeconds - start.StealSeconds);
        return wall > 0 ? Math.Max(0, others / wall) : 0;
    }
}
