// Times RnnLayer<float>.Forward as a consumer app sees it, in whichever way this app was built (JIT or NativeAOT).
//   (no argument)  steady: RNN(256, 256), L = 64, N = 16, eval mode, 1 thread; warm ~2 s, then the median of the calls
//   first-calls    in this fresh process: each of case a's first 1000 calls (L = 1, N = 1, H = 64) and case b's first
//                  20 (L = 100, N = 1, H = 128), then case b's steady time after ~2 s of warm-up; also how many methods
//                  the JIT compiled, and in how long, before and during case a's first call and case b's first call
using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ElmanRnn;

// Simd.Path is internal: the library takes its vector width from Vector256.IsHardwareAccelerated (on a CPU without
// AVX-512) and fuses multiply and add when Fma.IsSupported.
Console.WriteLine($"runtime: {(System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled ? "JIT" : "NativeAOT")}, " +
                  $"Vector256.IsHardwareAccelerated={Vector256.IsHardwareAccelerated}, Fma.IsSupported={Fma.IsSupported}");

string mode = args.Length > 0 ? args[0] : "steady";
switch (mode)
{
    case "steady":
        Steady();
        break;
    case "first-calls":
        FirstCalls();
        break;
    default:
        Console.Error.WriteLine($"Unknown mode '{mode}'. Expected no argument (steady) or 'first-calls'.");
        return 2;
}
return 0;

static (RnnLayer<float> Layer, Tensor<float> Input) Make(int seqLen, int batch, int size)
{
    var layer = new RnnLayer<float>(new RnnOptions { InputSize = size, HiddenSize = size }, new Random(1))
    {
        Training = false,
        MaxDegreeOfParallelism = 1,
    };
    var random = new Random(2);
    var data = new float[seqLen * batch * size];   // (L, N, H_in)
    for (int i = 0; i < data.Length; i++)
        data[i] = (float)(random.NextDouble() * 2 - 1);
    return (layer, Tensor.Create(data, [seqLen, batch, size]));
}

static double Micro(long ticks) => ticks * 1e6 / Stopwatch.Frequency;

// Warms for `warm` seconds, then returns the median of `count` calls in µs.
static double SteadyMedian(RnnLayer<float> layer, Tensor<float> input, double warm, int count)
{
    var clock = Stopwatch.StartNew();
    while (clock.Elapsed.TotalSeconds < warm)
        layer.Forward(input);
    var times = new double[count];
    for (int i = 0; i < count; i++)
    {
        long start = Stopwatch.GetTimestamp();
        layer.Forward(input);
        times[i] = Micro(Stopwatch.GetTimestamp() - start);
    }
    Array.Sort(times);
    return times[count / 2];
}

static void Steady()
{
    var (layer, input) = Make(seqLen: 64, batch: 16, size: 256);
    double median = SteadyMedian(layer, input, warm: 2, count: 200);
    Console.WriteLine($"steady RNN(256, 256) L=64 N=16 fp32 1 thread: median {median / 1000:F3} ms of 200 calls");
}

// Methods the JIT compiled and its time spent compiling, in this process so far (all threads; under NativeAOT both 0)
// and on this thread (what a call waits for; tier-1 recompilation runs on a background thread).
static (long All, long Thread, double AllMs, double ThreadMs) JitSoFar() =>
    (System.Runtime.JitInfo.GetCompiledMethodCount(), System.Runtime.JitInfo.GetCompiledMethodCount(currentThread: true),
     System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds,
     System.Runtime.JitInfo.GetCompilationTime(currentThread: true).TotalMilliseconds);

static string JitDuring((long All, long Thread, double AllMs, double ThreadMs) before)
{
    var now = JitSoFar();
    return $"{now.Thread - before.Thread} methods in {now.ThreadMs - before.ThreadMs:F1} ms on this thread " +
           $"({now.All - before.All} in {now.AllMs - before.AllMs:F1} ms on all threads)";
}

static void FirstCalls()
{
    var startup = JitSoFar();
    Console.WriteLine($"JIT before case a: {startup.Thread} methods in {startup.ThreadMs:F1} ms on this thread " +
                      $"({startup.All} in {startup.AllMs:F1} ms on all threads)");
    var (a, inputA) = Make(seqLen: 1, batch: 1, size: 64);
    var timesA = new double[1000];
    var beforeA = JitSoFar();
    string jitA = "";
    for (int i = 0; i < timesA.Length; i++)
    {
        long start = Stopwatch.GetTimestamp();
        a.Forward(inputA);
        timesA[i] = Micro(Stopwatch.GetTimestamp() - start);
        if (i == 0)
            jitA = JitDuring(beforeA);
    }
    Console.WriteLine($"JIT during case a's 1st call: {jitA}");
    Console.WriteLine($"case a: first call {timesA[0]:F1} µs, mean of first 1000 {timesA.Average():F2} µs, " +
                      $"mean of calls 2..1000 {timesA.Skip(1).Average():F2} µs");

    var (b, inputB) = Make(seqLen: 100, batch: 1, size: 128);
    var timesB = new double[20];
    var beforeB = JitSoFar();
    string jitB = "";
    for (int i = 0; i < timesB.Length; i++)
    {
        long start = Stopwatch.GetTimestamp();
        b.Forward(inputB);
        timesB[i] = Micro(Stopwatch.GetTimestamp() - start);
        if (i == 0)
            jitB = JitDuring(beforeB);
    }
    Console.WriteLine($"JIT during case b's 1st call: {jitB}");
    double steadyB = SteadyMedian(b, inputB, warm: 2, count: 1000);
    double steadyA = SteadyMedian(a, inputA, warm: 1, count: 10000);
    Console.WriteLine($"case a steady median {steadyA:F2} µs");
    Console.WriteLine($"case b steady median {steadyB:F1} µs");
    Console.WriteLine("case b calls 1..20 (µs, ×steady): " +
                      string.Join(" ", timesB.Select((t, i) => $"{i + 1}:{t:F0}({t / steadyB:F1}×)")));
}
