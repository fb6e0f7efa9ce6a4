using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace ElmanRnn.Benchmarks.Quick;

/// <summary>
/// <c>quick --streaming [--cases s1,s2] [--threads 1,2] [--seconds 5] [--gap-ms 3]</c>: per-step latency of a stream,
/// batch 1, one time step per call, fp32, 2 layers, tanh with bias, eval mode. Ours: <c>layer.Step(state, x, output)</c>
/// with the state kept across calls; libtorch: <c>output, h = rnn(x_t, h)</c> under inference mode, h_n fed back as
/// h0. Both hold the same weights. Samples alternate between the contenders with a pause before each; the median
/// per-call latency is reported, with a memory bound: one step reads every weight once, so it cannot beat
/// weight bytes / (read bandwidth of a buffer that size), measured here by a vectorised sum.
/// </summary>
internal static class StreamingMode
{
    public const string Usage =
        "usage: quick --streaming [--cases s1,s2] [--threads 1,2] [--seconds 5] [--gap-ms 3]\n" +
        "  per-step streaming latency, batch 1, one step per call, fp32, 2-layer tanh RNN with bias, eval mode:\n" +
        "  s1 = RNN(32 -> 128), s2 = RNN(64 -> 256); ours Step(state, x, y) vs libtorch rnn(x_t, h) with h_n fed back;\n" +
        "  prints the median per-call latency, and the memory bound (weight bytes / measured read bandwidth of a\n" +
        "  buffer of the weights' size) with our ratio to it.";

    private sealed record StreamCase(string Id, int Input, int Hidden, int Layers);

    private static readonly StreamCase[] Cases = [new("s1", 32, 128, 2), new("s2", 64, 256, 2)];

    private const double SampleSeconds = 0.002;

    public static int Run(IReadOnlyList<string> args)
    {
        IReadOnlyList<StreamCase> cases = Cases;
        IReadOnlyList<int> threads = [1, 2];
        double seconds = 5;
        int gap = 3;
        try
        {
            for (int i = 0; i < args.Count; i++)
            {
                string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                switch (args[i])
                {
                    case "--streaming":
                        break;
                    case "--cases":
                        cases = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                            .Select(id => Cases.FirstOrDefault(c => c.Id == id)
                                          ?? throw new ArgumentException($"Unknown streaming case '{id}' (s1, s2)."))
                            .ToList();
                        break;
                    case "--threads":
                        threads = Value().Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToList();
                        break;
                    case "--seconds":
                        seconds = double.Parse(Value(), CultureInfo.InvariantCulture);
                        break;
                    case "--gap-ms":
                        gap = int.Parse(Value(), CultureInfo.InvariantCulture);
                        break;
                    default:
                        throw new ArgumentException($"Unknown option '{args[i]}'.");
                }
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine($"{e.Message}\n{Usage}");
            return 2;
        }

        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"machine: {Machine.LoadAverage()} (load average); AVX-512: {Vector512.IsHardwareAccelerated}");
        Console.WriteLine("| case | threads | weights | ours µs/step | libtorch µs/step | ours vs libtorch | read GB/s | bound µs | ours / bound |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int t in threads)
        {
            foreach (var c in cases)
            {
                var (ours, theirs, maxDiff) = Measure(c, t, seconds, gap);
                long parameters = ParameterCount(c);
                long bytes = 4 * parameters;
                double bandwidth = ReadBandwidth((int)parameters);
                double bound = bytes / bandwidth;
                Console.WriteLine(string.Create(inv,
                    $"| {c.Id} RNN({c.Input}→{c.Hidden})×{c.Layers} | {t} | {bytes / 1024.0:0} KB | {ours * 1e6:0.00} | {theirs * 1e6:0.00} | {theirs / ours:0.0}× | {bandwidth / 1e9:0.0} | {bound * 1e6:0.00} | {ours / bound:0.00}× |"));
                Console.Error.WriteLine(string.Create(inv, $"  {c.Id} {t} thread(s): max |ours - libtorch| over the run = {maxDiff:0.0e0}"));
            }
        }
        return 0;
    }

    private static long ParameterCount(StreamCase c)
    {
        long n = 0;
        for (int l = 0; l < c.Layers; l++)
            n += (long)c.Hidden * (l == 0 ? c.Input : c.Hidden) + (long)c.Hidden * c.Hidden + 2L * c.Hidden;
        return n;
    }

    private static (double Ours, double Torch, double MaxDiff) Measure(StreamCase c, int threads, double seconds, int gap)
    {
        var random = new Random(20260501);
        float bound = 1 / MathF.Sqrt(c.Hidden);
        float Uniform() => (float)(random.NextDouble() * 2 - 1) * bound;
        var weights = new Dictionary<string, (float[] Values, long[] Shape)>();
        for (int l = 0; l < c.Layers; l++)
        {
            int inSize = l == 0 ? c.Input : c.Hidden;
            weights[$"weight_ih_l{l}"] = (Enumerable.Range(0, c.Hidden * inSize).Select(_ => Uniform()).ToArray(), [c.Hidden, inSize]);
            weights[$"weight_hh_l{l}"] = (Enumerable.Range(0, c.Hidden * c.Hidden).Select(_ => Uniform()).ToArray(), [c.Hidden, c.Hidden]);
            weights[$"bias_ih_l{l}"] = (Enumerable.Range(0, c.Hidden).Select(_ => Uniform()).ToArray(), [c.Hidden]);
            weights[$"bias_hh_l{l}"] = (Enumerable.Range(0, c.Hidden).Select(_ => Uniform()).ToArray(), [c.Hidden]);
        }
        const int inputs = 64;   // a ring of distinct inputs
        var xs = Enumerable.Range(0, inputs * c.Input).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

        // Ours.
        var layer = new RnnLayer<float>(new RnnOptions
        {
            InputSize = c.Input, HiddenSize = c.Hidden, NumLayers = c.Layers, Nonlinearity = Nonlinearity.Tanh, Bias = true,
        }) { Training = false, MaxDegreeOfParallelism = threads };
        layer.LoadStateDict(weights.ToDictionary(w => w.Key, w => System.Numerics.Tensors.Tensor.Create(w.Value.Values, w.Value.Shape.Select(s => (nint)s).ToArray())));
        var state = layer.CreateState(batchSize: 1);
        var y = new float[c.Hidden];
        int oursNext = 0;
        void OursCalls(int n)
        {
            for (int i = 0; i < n; i++)
            {
                layer.Step(state, xs.AsSpan(oursNext * c.Input, c.Input), y);
                oursNext = (oursNext + 1) % inputs;
            }
        }

        // libtorch.
        torch.set_num_threads(threads);
        var rnn = nn.RNN(c.Input, c.Hidden, c.Layers, nn.NonLinearities.Tanh, bias: true, batchFirst: false, dropout: 0,
            bidirectional: false, dtype: ScalarType.Float32);
        rnn.eval();
        using (torch.no_grad())
        {
            foreach (var (name, parameter) in rnn.named_parameters())
            {
                using var value = torch.tensor(weights[name].Values, weights[name].Shape);
                parameter.copy_(value);
            }
        }
        var xt = Enumerable.Range(0, inputs).Select(i => torch.tensor(xs.AsSpan(i * c.Input, c.Input).ToArray(), [1, 1, c.Input])).ToArray();
        var h = torch.zeros([c.Layers, 1, c.Hidden], ScalarType.Float32);
        torch.Tensor lastOutput = torch.zeros([1, 1, c.Hidden], ScalarType.Float32);
        int torchNext = 0;
        void TorchCalls(int n)
        {
            using var inference = torch.inference_mode();
            for (int i = 0; i < n; i++)
            {
                var (output, hn) = rnn.call(xt[torchNext], h);
                h.Dispose();
                lastOutput.Dispose();
                h = hn;
                lastOutput = output;
                torchNext = (torchNext + 1) % inputs;
            }
        }

        // Both streams see the same inputs in the same order: check they agree (then restart both from zeros).
        double maxDiff = 0;
        for (int i = 0; i < 3 * inputs; i++)
        {
            OursCalls(1);
            TorchCalls(1);
            float[] theirs = lastOutput.data<float>().ToArray();
            for (int k = 0; k < c.Hidden; k++)
                maxDiff = Math.Max(maxDiff, Math.Abs(theirs[k] - y[k]));
        }
        if (maxDiff > 1e-4)
            throw new InvalidOperationException($"{c.Id}: ours and libtorch disagree by {maxDiff}.");

        // Calls per sample, so that one sample lasts about SampleSeconds.
        int Repeats(Action<int> calls)
        {
            long start = Stopwatch.GetTimestamp();
            calls(200);
            double per = Stopwatch.GetElapsedTime(start).TotalSeconds / 200;
            return Math.Max(1, (int)(SampleSeconds / per));
        }

        // Warm by time: 1 s each, alternating.
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 1)
        {
            OursCalls(1000);
            TorchCalls(100);
        }
        int oursRepeats = Repeats(OursCalls), torchRepeats = Repeats(TorchCalls);

        var oursSamples = new List<double>();
        var torchSamples = new List<double>();
        var measuring = Stopwatch.StartNew();
        while (measuring.Elapsed.TotalSeconds < seconds || oursSamples.Count < 9)
        {
            Thread.Sleep(gap);
            oursSamples.Add(Time(OursCalls, oursRepeats));
            Thread.Sleep(gap);
            torchSamples.Add(Time(TorchCalls, torchRepeats));
        }

        foreach (var x in xt)
            x.Dispose();
        h.Dispose();
        lastOutput.Dispose();
        rnn.Dispose();
        return (QuickMode.Median(oursSamples), QuickMode.Median(torchSamples), maxDiff);
    }

    /// <summary>A read-bound sum: eight independent vector accumulators, so add latency does not limit it.</summary>
    private static float Sum(float[] buffer)
    {
        ReadOnlySpan<float> s = buffer;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            int w = Vector512<float>.Count, i = 0;
            for (; i + 8 * w <= s.Length; i += 8 * w)
            {
                a0 += Vector512.Create(s.Slice(i, w)); a1 += Vector512.Create(s.Slice(i + w, w));
                a2 += Vector512.Create(s.Slice(i + 2 * w, w)); a3 += Vector512.Create(s.Slice(i + 3 * w, w));
                a4 += Vector512.Create(s.Slice(i + 4 * w, w)); a5 += Vector512.Create(s.Slice(i + 5 * w, w));
                a6 += Vector512.Create(s.Slice(i + 6 * w, w)); a7 += Vector512.Create(s.Slice(i + 7 * w, w));
            }
            float total = Vector512.Sum((a0 + a1) + (a2 + a3) + ((a4 + a5) + (a6 + a7)));
            for (; i < s.Length; i++)
                total += s[i];
            return total;
        }
        else
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            int w = Vector256<float>.Count, i = 0;
            for (; i + 8 * w <= s.Length; i += 8 * w)
            {
                a0 += Vector256.Create(s.Slice(i, w)); a1 += Vector256.Create(s.Slice(i + w, w));
                a2 += Vector256.Create(s.Slice(i + 2 * w, w)); a3 += Vector256.Create(s.Slice(i + 3 * w, w));
                a4 += Vector256.Create(s.Slice(i + 4 * w, w)); a5 += Vector256.Create(s.Slice(i + 5 * w, w));
                a6 += Vector256.Create(s.Slice(i + 6 * w, w)); a7 += Vector256.Create(s.Slice(i + 7 * w, w));
            }
            float total = Vector256.Sum((a0 + a1) + (a2 + a3) + ((a4 + a5) + (a6 + a7)));
            for (; i < s.Length; i++)
                total += s[i];
            return total;
        }
    }

    private static double Time(Action<int> calls, int repeats)
    {
        long start = Stopwatch.GetTimestamp();
        calls(repeats);
        return Stopwatch.GetElapsedTime(start).TotalSeconds / repeats;
    }

    /// <summary>Bytes per second of a vectorised sum over a float array of <paramref name="floats"/> elements, read
    /// repeatedly (so it sits in whatever cache level fits it, as the weights do between steps): median of samples.</summary>
    private static double ReadBandwidth(int floats)
    {
        var buffer = new float[floats];
        for (int i = 0; i < floats; i++)
            buffer[i] = i % 7;
        float sink = 0;
        int passes = Math.Max(1, (int)(SampleSeconds / (floats * 4 / 20e9)));
        for (int i = 0; i < 200; i++)
            sink += Sum(buffer);
        var samples = new List<double>();
        var measuring = Stopwatch.StartNew();
        while (measuring.Elapsed.TotalSeconds < 1 || samples.Count < 9)
        {
            long start = Stopwatch.GetTimestamp();
            for (int p = 0; p < passes; p++)
                sink += Sum(buffer);
            samples.Add(Stopwatch.GetElapsedTime(start).TotalSeconds / passes);
        }
        GC.KeepAlive(sink);
        return floats * 4.0 / QuickMode.Median(samples);
    }
}
