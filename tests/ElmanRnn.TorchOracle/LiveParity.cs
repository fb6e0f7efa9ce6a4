using System.Globalization;
using System.Numerics;
using ElmanRnn.Layout;
using TorchSharp;
using NumericsTensor = System.Numerics.Tensors.Tensor;

namespace ElmanRnn.TorchOracle;

/// <summary>
/// Compares ElmanRnn's <see cref="RnnLayer{T}"/> with libtorch on random configurations: both get the same
/// parameters, input and h0, in eval mode, and must agree on output, h_n and every gradient of Backward (against autograd) within <see cref="Tolerance"/>.
/// </summary>
internal static class LiveParity
{
    private sealed record Outcome(int Index, RnnCase Case, double Error);

    public static int Run(int count, int seed)
    {
        torch.set_num_threads(1);  // libtorch's speed is irrelevant here, and one thread keeps reruns identical
        var random = new Random(seed);
        var outcomes = new List<Outcome>();
        for (var index = 0; index < count; index++)
        {
            var c = RandomCase(random);
            var caseSeed = random.Next();
            using var scope = torch.NewDisposeScope();
            outcomes.Add(new Outcome(index, c, c.DType == torch.ScalarType.Float32
                ? Compare<float>(c, caseSeed)
                : Compare<double>(c, caseSeed)));
        }

        return Report(count, seed, outcomes);
    }

    /// <summary>Options, sizes and input form drawn independently. Sizes are mostly small, sometimes up to 70 so that
    /// the kernels' tile edges are crossed; dropout is sometimes set, which eval mode must ignore.</summary>
    private static RnnCase RandomCase(Random random)
    {
        int Size() => random.Next(4) == 0 ? random.Next(17, 71) : random.Next(1, 17);

        var kind = (InputKind)random.Next(4);
        var packed = kind == InputKind.Packed;
        var numLayers = random.Next(1, 4);
        var seqLen = random.Next(packed ? 2 : 1, 13);
        var batch = kind == InputKind.Unbatched ? 1 : random.Next(packed ? 2 : 1, 7);
        return new RnnCase
        {
            Nonlinearity = random.Next(2) == 0 ? "tanh" : "relu",
            NumLayers = numLayers,
            Bidirectional = random.Next(2) == 1,
            Bias = random.Next(4) != 0,
            Kind = kind,
            HasH0 = random.Next(2) == 1,
            InputSize = Size(),
            HiddenSize = Size(),
            SeqLen = seqLen,
            Batch = batch,
            Lengths = packed ? Fixtures.UnsortedLengths(random, seqLen, batch) : null,
            // PyTorch warns about dropout with a single layer; only draw it where it is meaningful.
            Dropout = numLayers > 1 && random.Next(2) == 1 ? 0.5 : 0,
            DType = random.Next(2) == 0 ? torch.ScalarType.Float32 : torch.ScalarType.Float64,
        };
    }

    /// <summary>Runs one case through libtorch and ElmanRnn; returns the relative error (see
    /// <see cref="Tolerance.Relative"/>) over output and h_n.</summary>
    private static double Compare<T>(RnnCase c, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        torch.manual_seed(seed);
        var rnn = TorchRnn.Create(c);
        var input = torch.randn(c.InputShape, c.DType);
        var h0 = c.HasH0 ? torch.randn(c.HiddenShape, c.DType) : null;
        var (expectedOutput, expectedHn) = TorchRnn.Forward(rnn, c, input, h0);

        var layer = new RnnLayer<T>(new RnnOptions
        {
            InputSize = c.InputSize,
            HiddenSize = c.HiddenSize,
            NumLayers = c.NumLayers,
            Nonlinearity = c.Nonlinearity == "relu" ? Nonlinearity.Relu : Nonlinearity.Tanh,
            Bias = c.Bias,
            BatchFirst = c.BatchFirst,
            Dropout = c.Dropout,
            Bidirectional = c.Bidirectional,
        }) { Training = false };
        layer.LoadStateDict(TorchRnn.Parameters(rnn).ToDictionary(p => p.Name, p => ToNumerics<T>(p.Tensor)));
        var ourInput = ToNumerics<T>(input);
        var ourH0 = h0 is null ? null : ToNumerics<T>(h0);

        var scale = Math.Max(Tolerance.MaxAbs(expectedOutput), Tolerance.MaxAbs(expectedHn));
        double Error(RnnResult<T> result) => Tolerance.Relative(
            Math.Max(MaxAbsDifference(result.Output, expectedOutput), MaxAbsDifference(result.Hn, expectedHn)), scale);

        double gradientError = GradientError(rnn, c, layer, input, h0, ourInput, ourH0);
        if (c.Kind != InputKind.Packed)
            return Math.Max(gradientError, Error(layer.Forward(ourInput, ourH0)));

        // The same route as libtorch's (pack with enforceSorted: false, run, pad back to the caller's order), and
        // the padded-plus-lengths convenience overload, which must agree with it.
        var packed = PackedSequence.PackPadded(ourInput, c.Lengths, batchFirst: false, enforceSorted: false);
        var (packedOutput, packedHn) = layer.Forward(packed, ourH0);
        var viaPackedSequence = new RnnResult<T>(PackedSequence.PadPacked(packedOutput).Padded, packedHn);
        return Math.Max(gradientError, Math.Max(Error(viaPackedSequence), Error(layer.Forward(ourInput, c.Lengths, ourH0))));
    }

    /// <summary>
    /// Backward against libtorch's autograd for loss = Σ output·gO + Σ h_n·gH with random gO, gH: the gradients of the
    /// input (padded input through pack_padded_sequence for packed cases, our lengths overload), h0 and every
    /// parameter, each relative to max(1, its peak magnitude); the worst of them.
    /// </summary>
    private static double GradientError<T>(TorchSharp.Modules.RNN rnn, RnnCase c, RnnLayer<T> layer, torch.Tensor input,
        torch.Tensor? h0, System.Numerics.Tensors.Tensor<T> ourInput, System.Numerics.Tensors.Tensor<T>? ourH0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = input.detach().clone().requires_grad_(true);
        var h = h0?.detach().clone().requires_grad_(true);
        var (output, hn) = TorchRnn.Forward(rnn, c, x, h);
        var gO = torch.randn(output.shape, c.DType);
        var gH = torch.randn(hn.shape, c.DType);
        foreach (var p in rnn.parameters())
            p.grad?.zero_();
        ((output * gO).sum() + (hn * gH).sum()).backward();

        var tape = new RnnTape<T>();
        layer.ZeroGrad();
        RnnGradients<T> ours;
        if (c.Kind == InputKind.Packed)
        {
            layer.Forward(ourInput, c.Lengths, ourH0, tape);
            ours = layer.Backward(tape, ToNumerics<T>(gO), ToNumerics<T>(gH));
        }
        else
        {
            layer.Forward(ourInput, ourH0, tape);
            ours = layer.Backward(tape, ToNumerics<T>(gO), ToNumerics<T>(gH));
        }
        double Of(System.Numerics.Tensors.Tensor<T> actual, torch.Tensor expected) =>
            Tolerance.Relative(MaxAbsDifference(actual, expected), Tolerance.MaxAbs(expected));
        double worst = Of(ours.Input, x.grad!);
        if (h is not null)
            worst = Math.Max(worst, ours.H0 is null ? double.PositiveInfinity : Of(ours.H0, h.grad!));
        var theirs = rnn.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!);
        foreach (var p in layer.Parameters())
            worst = Math.Max(worst, Of(p.Grad, theirs[p.Name]));
        return worst;
    }

    private static System.Numerics.Tensors.Tensor<T> ToNumerics<T>(torch.Tensor t) where T : unmanaged =>
        NumericsTensor.Create(t.contiguous().data<T>().ToArray(), t.shape.Select(d => (nint)d).ToArray());

    /// <summary>max |actual − expected| over all elements, or +∞ when the shapes differ.</summary>
    private static double MaxAbsDifference<T>(System.Numerics.Tensors.Tensor<T> actual, torch.Tensor expected)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!actual.Lengths.ToArray().Select(l => (long)l).SequenceEqual(expected.shape))
            return double.PositiveInfinity;
        var ours = new T[actual.FlattenedLength];
        actual.FlattenTo(ours);
        var theirs = expected.contiguous().data<T>().ToArray();
        var max = 0.0;
        for (var i = 0; i < ours.Length; i++)
        {
            var difference = Math.Abs(double.CreateChecked(ours[i]) - double.CreateChecked(theirs[i]));
            if (!(difference <= max))  // also catches NaN
                max = double.IsNaN(difference) ? double.PositiveInfinity : difference;
        }

        return max;
    }

    private static int Report(int count, int seed, List<Outcome> outcomes)
    {
        Console.WriteLine($"live parity: {count} random cases from seed {seed}, ElmanRnn vs libtorch 2.10 (eval mode)");

        var failures = new List<Outcome>();
        foreach (var dtype in new[] { torch.ScalarType.Float32, torch.ScalarType.Float64 })
        {
            var ofType = outcomes.Where(o => o.Case.DType == dtype).ToList();
            var tolerance = Tolerance.For(dtype);
            var worst = ofType.MaxBy(o => o.Error);
            Console.WriteLine(worst is null
                ? $"  {Name(dtype)}: no cases"
                : $"  {Name(dtype)}: {ofType.Count} cases, max relative error {Format(worst.Error)} "
                  + $"(tolerance {Format(tolerance)}), worst {Describe(worst)}");
            failures.AddRange(ofType.Where(o => !(o.Error <= tolerance)));
        }

        foreach (var failure in failures)
            Console.WriteLine($"  FAIL {Describe(failure)}: relative error {Format(failure.Error)}");
        Console.WriteLine(failures.Count == 0
            ? $"  all {outcomes.Count} cases within tolerance"
            : $"  {failures.Count} of {outcomes.Count} cases exceed the tolerance");
        return failures.Count == 0 ? 0 : 1;
    }

    private static string Describe(Outcome o) =>
        $"#{o.Index} {o.Case.Name} I={o.Case.InputSize} H={o.Case.HiddenSize} L={o.Case.SeqLen} N={o.Case.Batch}"
        + (o.Case.Lengths is null ? "" : $" lengths=[{string.Join(',', o.Case.Lengths)}]")
        + (o.Case.Dropout > 0 ? $" dropout={o.Case.Dropout.ToString(CultureInfo.InvariantCulture)}" : "");

    private static string Name(torch.ScalarType dtype) => dtype == torch.ScalarType.Float32 ? "float32" : "float64";

    private static string Format(double value) => value.ToString("0.###e+0", CultureInfo.InvariantCulture);
}
