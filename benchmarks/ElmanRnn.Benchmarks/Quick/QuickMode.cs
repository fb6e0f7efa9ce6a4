using System.Diagnostics;
using ElmanRnn.Benchmarks.Cases;
using ElmanRnn.Benchmarks.Contenders;

namespace ElmanRnn.Benchmarks.Quick;

/// <summary>
/// The quick comparison: for each thread count and case, the contenders run round-robin (ours, libtorch, ONNX
/// Runtime, ours, ...) so that drifting machine load hits all of them alike; the median per contender over the
/// rounds is reported. Runs in about three minutes for everything.
/// </summary>
internal static class QuickMode
{
    /// <summary>Rounds measured at least, even when that takes longer than the time budget.</summary>
    public const int MinRounds = 9;

    private const int MaxRounds = 400;

    /// <summary>Shortest timed sample: calls faster than this are repeated inside one sample, so that timer
    /// resolution and call overhead do not dominate.</summary>
    private const double MinSampleSeconds = 0.002;

    public static int Run(IReadOnlyList<string> args)
    {
        QuickOptions options;
        try
        {
            options = QuickOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"{e.Message}\n{QuickOptions.Usage}");
            return 2;
        }

        if (options.WaitQuietMinutes > 0)
            WaitForQuiet(TimeSpan.FromMinutes(options.WaitQuietMinutes));
        var started = Stopwatch.StartNew();
        string loadBefore = Machine.LoadAverage();
        Console.Error.WriteLine($"load average before: {loadBefore}; measuring the FMA peak...");
        var runLoad = CpuLoad.Now();
        var peaksBefore = Peaks.Measure();
        Console.Error.WriteLine($"FMA peak: {peaksBefore.Describe()}");

        var results = new List<Measurement>();
        foreach (int threads in options.Threads)
        {
            foreach (var benchCase in options.Cases)
            {
                var measurement = Measure(benchCase, threads, options);
                results.Add(measurement);
                Console.Error.WriteLine(
                    $"  {benchCase.Id,-8} {threads} thread(s): "
                    + string.Join(", ", measurement.MedianSeconds.Select(m => $"{m.Key} {Report.Time(m.Value)}"))
                    + $" ({measurement.Rounds} rounds, others used {measurement.OtherCores:0.00} cores, peak now {measurement.PeakNow:0}; check {string.Join(", ", measurement.Agreement)})"
                    + string.Concat(measurement.Refused.Select(r => $"; {r.Name} refused: {r.Reason}")));
            }
        }

        // Our own 2-thread speed-up is judged from alternating pairs, not from two rows measured minutes apart.
        int scaled = results.FindIndex(r => r.Case.Id == Measurement.ScalingCase && r.Threads == 2);
        if (scaled >= 0 && options.Threads.Contains(1) && options.Contenders.Contains(Names.Ours))
        {
            var scaling = Scaling.Measure(results[scaled].Case, options);
            results[scaled] = results[scaled] with { PairedScaling = scaling };
            Console.Error.WriteLine($"  {scaling.Describe()}");
        }

        // The peak is measured before and after the run and around every row, and the best of each is the
        // machine's: a busy moment (or, on a VM, two vCPUs placed on one physical core) can only lower a measured
        // peak, never raise it.
        var peaksAfter = Peaks.Measure();
        var machine = Machine.Current(peaksBefore, peaksAfter, results);
        string loadAfter = Machine.LoadAverage();
        var report = new Report(machine, results, loadBefore, loadAfter, CpuLoad.Now().OthersSince(runLoad),
            started.Elapsed);
        if (options.OursInto)
            Console.WriteLine("ElmanRnn (--ours-into): output and h_n are written into tensors made once.\n");
        Console.WriteLine(report.Markdown());
        if (options.WriteDocs)
            PerformanceDoc.Write(report);
        return 0;
    }

    private static Measurement Measure(BenchCase benchCase, int threads, QuickOptions options)
    {
        WarmUpJit(benchCase, threads);
        using var set = ContenderSet.Create(benchCase, threads, options.OursInto);
        var contenders = set.Valid.Where(c => options.Contenders.Contains(c.Name)).ToList();
        double seconds = options.Seconds;
        int gap = options.GapMilliseconds;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        // Warm-up: a few rounds (at least 0.5 s) also estimate each contender's time per call.
        var fastest = contenders.ToDictionary(c => c.Name, _ => double.MaxValue);
        var warmUp = Stopwatch.StartNew();
        for (int round = 0; round < 3 || warmUp.Elapsed.TotalSeconds < 0.5; round++)
            foreach (var contender in contenders)
                fastest[contender.Name] = Math.Min(fastest[contender.Name], Time(contender, 1));
        var repeats = contenders.ToDictionary(
            c => c.Name, c => Math.Max(1, (int)Math.Ceiling(MinSampleSeconds / fastest[c.Name])));

        double peakNow = PeakNow(benchCase, threads);
        var samples = contenders.ToDictionary(c => c.Name, _ => new List<double>());
        var load = CpuLoad.Now();
        var measuring = Stopwatch.StartNew();
        int rounds = 0;
        while (rounds < MinRounds || (measuring.Elapsed.TotalSeconds < seconds && rounds < MaxRounds))
        {
            foreach (var contender in contenders)
            {
                if (gap > 0)
                    Thread.Sleep(gap);
                samples[contender.Name].Add(Time(contender, repeats[contender.Name]));
            }
            rounds++;
        }

        return new Measurement(benchCase, threads,
            samples.ToDictionary(s => s.Key, s => Median(s.Value)), rounds, CpuLoad.Now().OthersSince(load),
            Math.Max(peakNow, PeakNow(benchCase, threads)),
            set.Refused, set.Agreement);
    }

    /// <summary>
    /// Brings our code to its steady state before a big case is timed: the JIT promotes a method to fully optimised
    /// tier-1 code only after ~30 calls, which a case taking 100 ms per call would spend seconds reaching. A copy of
    /// the case with the same structure (layers, directions, batch of one or many, packing, element type, size)
    /// but only a few steps and rows runs 40 times, then the background compiler gets a moment to finish.
    /// </summary>
    private static void WarmUpJit(BenchCase benchCase, int threads)
    {
        var small = benchCase with { SeqLen = Math.Min(benchCase.SeqLen, 4), Batch = Math.Min(benchCase.Batch, 16) };
        using IContender ours = small.Double
            ? new OursContender<double>(CaseData<double>.Create(small), threads)
            : new OursContender<float>(CaseData<float>.Create(small), threads);
        for (int i = 0; i < 40; i++)
            ours.Run();
        Thread.Sleep(200);
    }

    private static double PeakNow(BenchCase benchCase, int threads) => benchCase.Double
        ? FmaPeak.Measure<double>(threads, secondsPerRun: 0.04, runs: 3)
        : FmaPeak.Measure<float>(threads, secondsPerRun: 0.04, runs: 3);

    private static void WaitForQuiet(TimeSpan limit)
    {
        var waiting = Stopwatch.StartNew();
        while (true)
        {
            var start = CpuLoad.Now();
            Thread.Sleep(5000);
            double others = CpuLoad.Now().OthersSince(start);
            if (others < 0.1)
            {
                Console.Error.WriteLine($"machine quiet (others used {others:0.00} cores over 5 s)");
                return;
            }
            if (waiting.Elapsed > limit)
            {
                Console.Error.WriteLine($"machine still busy after {limit.TotalMinutes:0.#} min (others used {others:0.00} cores); measuring anyway");
                return;
            }
            Console.Error.WriteLine($"waiting for a quiet machine: others used {others:0.00} cores over 5 s");
        }
    }

    private static double Time(IContender contender, int repeats)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < repeats; i++)
            contender.Run();
        return Stopwatch.GetElapsedTime(start).TotalSeconds / repeats;
    }

    /// <summary>The median (the mean of the middle two for an even count).</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
