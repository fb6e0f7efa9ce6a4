using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace ElmanRnn.Benchmarks.Quick;

/// <summary>
/// <c>quick --training [--threads 1,2] [--seconds 3] [--gap-ms 3]</c>: one training step of case c (L=100, N=32,
/// RNN(256 → 256), fp32, tanh with bias), 1 and 2 layers. Ours: forward with a tape into the loop's own output and
/// h_n alone, backward alone (the same tape, replayed), ZeroGrad + forward + backward, and that step with the
/// forward that returns a new output; libtorch: zero grads + forward + loss = (output·gradOutput).sum() +
/// loss.backward(). The input is data, as in training: libtorch's does not require grad, so autograd skips d/dinput,
/// and ours is given no gradInput to fill, so it skips it too. Warmed by time; samples alternate between the
/// contenders with a pause before each; medians reported.
/// </summary>
internal static class TrainingMode
{
    public const string Usage =
        "usage: quick --training [--threads 1,2] [--seconds 3] [--gap-ms 3]\n" +
        "  training step of case c (L=100, N=32, RNN(256 -> 256), fp32, tanh), 1 and 2 layers: ours forward (with\n" +
        "  tape, into the loop's tensors), ours backward, ours forward+backward (also with the forward that returns a\n" +
        "  new output) vs libtorch forward+backward (loss = (output*gradOutput).sum()); prints medians in ms,\n" +
        "  libtorch/ours (fwd+bwd) and ours backward/forward.";

    private const int SeqLen = 100, Batch = 32, Size = 256;

    public static int Run(IReadOnlyList<string> args)
    {
        IReadOnlyList<int> threads = [1, 2];
        double seconds = 3;
        int gap = 3;
        try
        {
            for (int i = 0; i < args.Count; i++)
            {
                string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                switch (args[i])
                {
                    case "--training":
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
        Console.WriteLine($"machine: {Machine.LoadAverage()} (load average); {VectorPath.Current.Describe()}");
        Console.WriteLine("| case | threads | ours fwd (tape) ms | ours bwd ms | ours fwd+bwd ms | libtorch fwd+bwd ms | libtorch / ours | ours bwd / fwd | ours fwd+bwd, returned output ms | libtorch / that |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int t in threads)
        {
            foreach (int layers in new[] { 1, 2 })
            {
                var r = Measure(layers, t, seconds, gap);
                Console.WriteLine(string.Create(inv,
                    $"| c RNN(256→256)×{layers}, L=100, N=32 | {t} | {r.Fwd * 1e3:0.00} | {r.Bwd * 1e3:0.00} | {r.Step * 1e3:0.00} | {r.Torch * 1e3:0.00} | {r.Torch / r.Step:0.00}× | {r.Bwd / r.Fwd:0.00}× | {r.Returned * 1e3:0.00} | {r.Torch / r.Returned:0.00}× |"));
                Console.Error.WriteLine(string.Create(inv,
                    $"  ×{layers} {t} thread(s): max |grad ours - libtorch| = {r.MaxDiff:0.0e0}; samples {r.Samples}"));
            }
        }
        return 0;
    }

    private static (double Fwd, double Bwd, double Step, double Returned, double Torch, double MaxDiff, int Samples) Measure(
        int layers, int threads, double seconds, int gap)
    {
        var random = new Random(20260502);
        float bound = 1 / MathF.Sqrt(Size);
        float Uniform() => (float)(random.NextDouble() * 2 - 1) * bound;
        float[] Randoms(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var weights = new Dictionary<string, (float[] Values, long[] Shape)>();
        for (int l = 0; l < layers; l++)
        {
            weights[$"weight_ih_l{l}"] = (Enumerable.Range(0, Size * Size).Select(_ => Uniform()).ToArray(), [Size, Size]);
            weights[$"weight_hh_l{l}"] = (Enumerable.Range(0, Size * Size).Select(_ => Uniform()).ToArray(), [Size, Size]);
            weights[$"bias_ih_l{l}"] = (Enumerable.Range(0, Size).Select(_ => Uniform()).ToArray(), [Size]);
            weights[$"bias_hh_l{l}"] = (Enumerable.Range(0, Size).Select(_ => Uniform()).ToArray(), [Size]);
        }
        float[] x = Randoms(SeqLen * Batch * Size), gy = Randoms(SeqLen * Batch * Size);
        nint[] shape = [SeqLen, Batch, Size];

        // Ours.
        var layer = new RnnLayer<float>(new RnnOptions
        {
            InputSize = Size, HiddenSize = Size, NumLayers = layers, Nonlinearity = Nonlinearity.Tanh, Bias = true,
        }) { MaxDegreeOfParallelism = threads };
        layer.LoadStateDict(weights.ToDictionary(w => w.Key, w => System.Numerics.Tensors.Tensor.Create(w.Value.Values, w.Value.Shape.Select(s => (nint)s).ToArray())));
        var input = System.Numerics.Tensors.Tensor.Create(x, shape);
        var gradOutput = System.Numerics.Tensors.Tensor.Create(gy, shape);
        var tape = new RnnTape<float>();
        // The loop's own result tensors, written in place every step: a new 3.2 MB output per call comes from the
        // GC's large-object heap, often as pages never touched, and each first touch is a page fault (see
        // docs/performance.md, "Training"); the last column measures that step too.
        var output = System.Numerics.Tensors.Tensor.Create(new float[SeqLen * Batch * Size], shape);
        var hn = System.Numerics.Tensors.Tensor.Create(new float[layers * Batch * Size], [layers, Batch, Size]);
        void OursForward() => layer.Forward(input, null, output, hn, tape);
        void OursBackward() => layer.Backward(tape, gradOutput, null, gradInput: null, gradH0: null);
        void OursStep()
        {
            layer.ZeroGrad();
            layer.Forward(input, null, output, hn, tape);
            layer.Backward(tape, gradOutput, null, gradInput: null, gradH0: null);
        }
        void OursStepReturningOutput()
        {
            layer.ZeroGrad();
            layer.Forward(input, null, tape);
            layer.Backward(tape, gradOutput, null, gradInput: null, gradH0: null);
        }

        // libtorch.
        torch.set_num_threads(threads);
        var rnn = nn.RNN(Size, Size, layers, nn.NonLinearities.Tanh, bias: true, batchFirst: false, dropout: 0,
            bidirectional: false, dtype: ScalarType.Float32);
        rnn.train();
        using (torch.no_grad())
        {
            foreach (var (name, parameter) in rnn.named_parameters())
            {
                using var value = torch.tensor(weights[name].Values, weights[name].Shape);
                parameter.copy_(value);
            }
        }
        var tx = torch.tensor(x, [SeqLen, Batch, Size]);
        var tgy = torch.tensor(gy, [SeqLen, Batch, Size]);
        var torchParams = rnn.parameters().ToArray();
        void TorchStep()
        {
            using var scope = torch.NewDisposeScope();
            foreach (var p in torchParams)
                p.grad?.zero_();
            var (output, _) = rnn.call(tx);
            var loss = (output * tgy).sum();
            loss.backward();
        }

        // Check: the gradients of one step agree.
        OursStep();
        TorchStep();
        double maxDiff = 0;
        foreach (var p in layer.Parameters())
        {
            var theirs = rnn.named_parameters().First(np => np.name == p.Name).parameter.grad!.data<float>().ToArray();
            int k = 0;
            foreach (float v in p.Grad)
                maxDiff = Math.Max(maxDiff, Math.Abs(v - theirs[k++]));
        }

        // Warm by time: 1 s of alternating calls, then forward once more so the tape matches the backward timed.
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 1.5)
        {
            OursStep();
            OursForward();
            OursBackward();
            OursStepReturningOutput();
            TorchStep();
        }
        OursForward();

        var fwd = new List<double>();
        var bwd = new List<double>();
        var step = new List<double>();
        var returned = new List<double>();
        var tor = new List<double>();
        var measuring = Stopwatch.StartNew();
        while (measuring.Elapsed.TotalSeconds < seconds || fwd.Count < 9)
        {
            Thread.Sleep(gap);
            fwd.Add(Time(OursForward));
            Thread.Sleep(gap);
            bwd.Add(Time(OursBackward));
            Thread.Sleep(gap);
            step.Add(Time(OursStep));
            Thread.Sleep(gap);
            returned.Add(Time(OursStepReturningOutput));
            Thread.Sleep(gap);
            tor.Add(Time(TorchStep));
        }

        tx.Dispose();
        tgy.Dispose();
        rnn.Dispose();
        return (QuickMode.Median(fwd), QuickMode.Median(bwd), QuickMode.Median(step), QuickMode.Median(returned), QuickMode.Median(tor), maxDiff, fwd.Count);
    }

    private static double Time(Action call)
    {
        long start = Stopwatch.GetTimestamp();
        call();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
