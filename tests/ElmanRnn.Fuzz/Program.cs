using System.Diagnostics;
using System.Runtime.InteropServices;
using ElmanRnn;
using ElmanRnn.Fuzz;
using SharpFuzz;

// Usage (see README.md):
//   dotnet ElmanRnn.Fuzz.dll TARGET                     under afl-fuzz: SharpFuzz's out-of-process fork server
//   dotnet ElmanRnn.Fuzz.dll TARGET --replay PATH...    runs files (directories recursively) in-process, reports findings
//   dotnet ElmanRnn.Fuzz.dll state --seeds DIR          writes valid RnnState files as the state target's seed corpus
// TARGET is one of: safetensors, pt, pickle, npy, state, checkpoint.

if (args.Length == 0 || !Targets.All.TryGetValue(args[0], out Action<byte[]>? target))
{
    Console.Error.WriteLine($"usage: ElmanRnn.Fuzz TARGET [--replay PATH... | --seeds DIR]; TARGET is one of {string.Join(", ", Targets.All.Keys)}");
    return 2;
}

// Outside afl-fuzz the instrumented assemblies still write coverage: give them a map of the size SharpFuzz uses.
unsafe
{
    if (Environment.GetEnvironmentVariable("__AFL_SHM_ID") is null)
        SharpFuzz.Common.Trace.SharedMem = (byte*)NativeMemory.AllocZeroed(1 << 16);
}

if (args.Length >= 3 && args[1] == "--seeds" && args[0] == "state")
{
    WriteStateSeeds(args[2]);
    return 0;
}

if (args.Length >= 3 && args[1] == "--replay")
    return Replay(args[0], target, args[2..]);

// The out-of-process server restarts the .NET child after a stack overflow, an OOM kill or an afl-fuzz timeout,
// which the in-process Fuzzer.Run cannot survive.
Fuzzer.OutOfProcess.Run(stream =>
{
    var input = new MemoryStream();
    stream.CopyTo(input);
    target(input.ToArray());
});
return 0;

static int Replay(string name, Action<byte[]> target, string[] paths)
{
    // Longer than any reader needs for inputs of this size; afl-fuzz's own -t is the limit while fuzzing.
    TimeSpan limit = TimeSpan.FromSeconds(10);
    string[] files = paths
        .SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories) : [p])
        .Where(f => Path.GetFileName(f) != "README.txt") // afl-fuzz's note in crashes/
        .Order(StringComparer.Ordinal)
        .ToArray();
    int failures = 0;
    var clock = Stopwatch.StartNew();
    foreach (string file in files)
    {
        byte[] data = File.ReadAllBytes(file);
        Exception? escaped = null;
        // A thread per input, so that a hang is reported with its file instead of stalling the replay.
        var run = new Thread(() =>
        {
            try
            {
                target(data);
            }
            catch (Exception e)
            {
                escaped = e;
            }
        });
        run.Start();
        if (!run.Join(limit))
        {
            Console.WriteLine($"HANG  {file}: still running after {limit.TotalSeconds} s");
            Console.WriteLine($"replay {name}: {files.Length} inputs, stopped at a hang");
            Environment.Exit(1);
        }
        if (escaped is not null)
        {
            failures++;
            Console.WriteLine($"CRASH {file}: {escaped.GetType().FullName}: {escaped.Message}");
            Console.WriteLine(string.Join(Environment.NewLine, escaped.StackTrace?.Split(Environment.NewLine).Take(8) ?? []));
        }
    }
    Console.WriteLine($"replay {name}: {files.Length} inputs, {failures} failures, {clock.Elapsed.TotalSeconds:F1} s");
    return failures == 0 ? 0 : 1;
}

// No state file is committed (the format is ours and tests write it on the fly), so the seeds are written here:
// a few architectures and both element types, each as RnnState.WriteTo produces it.
static void WriteStateSeeds(string directory)
{
    Directory.CreateDirectory(directory);
    var random = new Random(11);
    (int Input, int Hidden, int Layers, bool Bias, Nonlinearity Phi, int Batch)[] shapes =
        [(3, 4, 1, true, Nonlinearity.Tanh, 1), (2, 3, 2, false, Nonlinearity.Relu, 2)];
    foreach (var s in shapes)
    {
        var options = new RnnOptions { InputSize = s.Input, HiddenSize = s.Hidden, NumLayers = s.Layers, Bias = s.Bias, Nonlinearity = s.Phi };
        using (var file = File.Create(Path.Combine(directory, $"f32_{s.Input}_{s.Hidden}_{s.Layers}.state")))
            new RnnLayer<float>(options, random).CreateState(s.Batch).WriteTo(file);
        using (var file = File.Create(Path.Combine(directory, $"f64_{s.Input}_{s.Hidden}_{s.Layers}.state")))
            new RnnLayer<double>(options, random).CreateState(s.Batch).WriteTo(file);
    }
}
