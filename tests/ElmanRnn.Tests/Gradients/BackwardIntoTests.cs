using System.Buffers;
using System.Numerics.Tensors;
using ElmanRnn.Layout;

namespace ElmanRnn.Tests.Gradients;

/// <summary>
/// Backward into caller tensors, and without d/dinput (PyTorch: the input does not require grad). Oracle: the
/// returning <c>Backward</c>, which the libtorch gradient fixtures and the live parity check pin; the same arithmetic
/// must give the same bits, and skipping d/dinput or d/dh0 must leave every other gradient bit for bit as it was.
/// </summary>
public class BackwardIntoTests
{
    public enum Form { TimeMajor, BatchFirst, Unbatched, Packed, Lengths }

    private sealed record Outcome(double[] Input, double[]? H0, double[][] Parameters);

    [Theory]
    [InlineData(Form.TimeMajor, false, false)]
    [InlineData(Form.TimeMajor, true, true)]
    [InlineData(Form.BatchFirst, true, false)]
    [InlineData(Form.BatchFirst, false, true)]
    [InlineData(Form.Unbatched, false, true)]
    [InlineData(Form.Packed, true, true)]
    [InlineData(Form.Packed, false, false)]
    [InlineData(Form.Lengths, true, true)]
    [InlineData(Form.Lengths, false, false)]
    public void Into_gives_the_returned_gradients_bit_for_bit_and_skipping_input_changes_nothing_else(
        Form form, bool bidirectional, bool withH0)
    {
        var returned = Run(form, bidirectional, withH0, into: false, wantInput: true);
        var into = Run(form, bidirectional, withH0, into: true, wantInput: true);
        var noInput = Run(form, bidirectional, withH0, into: true, wantInput: false);
        // h0 given but its gradient not asked for: its products are skipped, nothing else may move.
        var noH0 = Run(form, bidirectional, withH0, into: true, wantInput: true, wantH0: false);

        into.Input.Should().Equal(returned.Input);
        noH0.Input.Should().Equal(returned.Input);
        if (withH0)
        {
            into.H0.Should().Equal(returned.H0);
            noInput.H0.Should().Equal(returned.H0);
        }
        for (int i = 0; i < returned.Parameters.Length; i++)
        {
            into.Parameters[i].Should().Equal(returned.Parameters[i]);
            noInput.Parameters[i].Should().Equal(returned.Parameters[i]);
            noH0.Parameters[i].Should().Equal(returned.Parameters[i]);
        }
        noInput.Input.Should().OnlyContain(v => double.IsNaN(v), "the caller's gradInput was not given, so nothing is written");
    }

    // Two layers with dropout in training mode, so the skipped product sits below a dropped layer boundary; the
    // result tensors start as NaN so that any element left unwritten shows.
    private static Outcome Run(Form form, bool bidirectional, bool withH0, bool into, bool wantInput, bool wantH0 = true)
    {
        const int steps = 6, n = 3, k = 4, hidden = 5, layers = 2;
        int d = bidirectional ? 2 : 1;
        var opts = new RnnOptions
        {
            InputSize = k, HiddenSize = hidden, NumLayers = layers, Bidirectional = bidirectional, Dropout = 0.4,
            BatchFirst = form == Form.BatchFirst || form is Form.Lengths or Form.Packed && bidirectional,
        };
        var layer = new RnnLayer<double>(opts, new Random(5)) { Training = true };
        var random = new Random(6);
        int[] lengths = [4, 6, 2];
        bool unbatched = form == Form.Unbatched;
        int batch = unbatched ? 1 : n;
        nint[] inputShape = unbatched ? [steps, k] : opts.BatchFirst ? [n, steps, k] : [steps, n, k];
        var input = Tensor.Create(TestTensors.Random(random, steps * batch * k), inputShape);
        nint[] h0Shape = unbatched ? [layers * d, hidden] : [layers * d, n, hidden];
        Tensor<double>? h0 = withH0 ? Tensor.Create(TestTensors.Random(random, layers * d * batch * hidden), h0Shape) : null;
        var tape = new RnnTape<double>();

        Tensor<double> output, hn, inputShaped;
        switch (form)
        {
            case Form.Packed:
                var packed = PackedSequence.PackPadded(input, lengths, opts.BatchFirst, enforceSorted: false);
                var result = layer.Forward(packed, h0, tape);
                (output, hn, inputShaped) = (result.Output.Data, result.Hn, packed.Data);
                break;
            case Form.Lengths:
                (output, hn) = layer.Forward(input, lengths, h0, tape);
                inputShaped = input;
                break;
            default:
                (output, hn) = layer.Forward(input, h0, tape);
                inputShaped = input;
                break;
        }
        var gradOutput = Tensor.Create(TestTensors.Random(random, (int)output.FlattenedLength), output.Lengths.ToArray());
        var gradHn = Tensor.Create(TestTensors.Random(random, (int)hn.FlattenedLength), hn.Lengths.ToArray());

        if (!into)
        {
            var g = layer.Backward(tape, gradOutput, gradHn);
            return new Outcome(g.Input.ToDoubles(), g.H0?.ToDoubles(), Grads(layer));
        }
        var gradInput = Filled(inputShaped.Lengths.ToArray(), double.NaN);
        var gradH0 = withH0 && wantH0 ? Filled(h0Shape, double.NaN) : null;
        layer.Backward(tape, gradOutput, gradHn, wantInput ? gradInput : null, gradH0);
        return new Outcome(gradInput.ToDoubles(), gradH0?.ToDoubles(), Grads(layer));
    }

    [Theory]
    [InlineData(Form.TimeMajor, false, false, false)]
    [InlineData(Form.TimeMajor, true, true, false)]
    [InlineData(Form.TimeMajor, false, true, true)]
    [InlineData(Form.BatchFirst, true, true, false)]
    [InlineData(Form.BatchFirst, false, true, true)]
    [InlineData(Form.Unbatched, true, true, true)]
    [InlineData(Form.Unbatched, false, false, false)]
    public void A_forward_into_caller_tensors_records_the_same_tape(Form form, bool bidirectional, bool withH0, bool h0IsHn)
    {
        // Oracle: the allocating Forward with a tape, whose tape the libtorch gradient fixtures pin. Writing into the
        // caller's tensors (h0 possibly the same tensor as hn) must give the same output, h_n, dropout masks and
        // gradients, bit for bit; the result tensors start as NaN so that an element left unwritten shows.
        const int steps = 5, n = 3, k = 4, hidden = 6, layers = 2;
        int d = bidirectional ? 2 : 1;
        bool unbatched = form == Form.Unbatched;
        var opts = new RnnOptions
        {
            InputSize = k, HiddenSize = hidden, NumLayers = layers, Bidirectional = bidirectional, Dropout = 0.3,
            BatchFirst = form == Form.BatchFirst,
        };
        var random = new Random(11);
        int batch = unbatched ? 1 : n;
        nint[] inputShape = unbatched ? [steps, k] : opts.BatchFirst ? [n, steps, k] : [steps, n, k];
        nint[] outputShape = unbatched ? [steps, d * hidden] : opts.BatchFirst ? [n, steps, d * hidden] : [steps, n, d * hidden];
        nint[] hnShape = unbatched ? [layers * d, hidden] : [layers * d, n, hidden];
        var input = Tensor.Create(TestTensors.Random(random, steps * batch * k), inputShape);
        double[] h0Values = TestTensors.Random(random, layers * d * batch * hidden);
        var gradOutput = Tensor.Create(TestTensors.Random(random, steps * batch * d * hidden), outputShape);
        var gradHn = Tensor.Create(TestTensors.Random(random, layers * d * batch * hidden), hnShape);

        var reference = new RnnLayer<double>(opts, new Random(12)) { Training = true };
        var referenceTape = new RnnTape<double>();
        var (expectedOutput, expectedHn) = reference.Forward(input, withH0 ? Tensor.Create(h0Values, hnShape) : null, referenceTape);
        var expected = reference.Backward(referenceTape, gradOutput, gradHn);

        var layer = new RnnLayer<double>(opts, new Random(12)) { Training = true };
        var tape = new RnnTape<double>();
        var output = Filled(outputShape, double.NaN);
        var hn = h0IsHn ? Tensor.Create((double[])h0Values.Clone(), hnShape) : Filled(hnShape, double.NaN);
        Tensor<double>? h0 = !withH0 ? null : h0IsHn ? hn : Tensor.Create(h0Values, hnShape);
        layer.Forward(input, h0, output, hn, tape);
        var got = layer.Backward(tape, gradOutput, gradHn);

        output.ToDoubles().Should().Equal(expectedOutput.ToDoubles());
        hn.ToDoubles().Should().Equal(expectedHn.ToDoubles());
        got.Input.ToDoubles().Should().Equal(expected.Input.ToDoubles());
        if (withH0)
            got.H0!.ToDoubles().Should().Equal(expected.H0!.ToDoubles(), "the tape keeps h0 as it was before hn overwrote it");
        else
            got.H0.Should().BeNull();
        var grads = Grads(layer);
        var expectedGrads = Grads(reference);
        for (int i = 0; i < grads.Length; i++)
            grads[i].Should().Equal(expectedGrads[i]);

        layer.Invoking(l => l.Forward(input, null, Filled([steps + 1, n, d * hidden], 0), hn, tape))
            .Should().Throw<ArgumentException>().WithMessage("*output must have shape*got [6, 3,*");
    }

    [Theory]
    [InlineData(false, false, false)]
    [InlineData(true, true, false)]
    [InlineData(true, true, true)]
    [InlineData(false, true, true)]
    [InlineData(true, false, false)]
    public void A_packed_forward_into_caller_tensors_records_the_same_tape(bool unsorted, bool withH0, bool h0IsHn)
    {
        // Oracle: the allocating packed Forward with a tape (pinned by the libtorch gradient fixtures): the same output
        // data, h_n, masks and gradients, bit for bit, and a warm step into the caller's tensors allocates nothing.
        const int hidden = 6, layers = 2, d = 2, n = 4;
        int[] lengths = unsorted ? [3, 6, 1, 6] : [6, 6, 3, 1];
        var opts = new RnnOptions { InputSize = 3, HiddenSize = hidden, NumLayers = layers, Bidirectional = true, Dropout = 0.3 };
        var random = new Random(21);
        var padded = Tensor.Create(TestTensors.Random(random, 6 * n * 3), [6, n, 3]);
        var packed = PackedSequence.PackPadded(padded, lengths, batchFirst: false, enforceSorted: !unsorted);
        double[] h0Values = TestTensors.Random(random, layers * d * n * hidden);
        int rows = lengths.Sum();
        var gradOutput = Tensor.Create(TestTensors.Random(random, rows * d * hidden), [rows, d * hidden]);
        var gradHn = Tensor.Create(TestTensors.Random(random, layers * d * n * hidden), [layers * d, n, hidden]);

        var reference = new RnnLayer<double>(opts, new Random(22)) { Training = true };
        var referenceTape = new RnnTape<double>();
        var (expectedOutput, expectedHn) = reference.Forward(packed, withH0 ? Tensor.Create(h0Values, [layers * d, n, hidden]) : null, referenceTape);
        var expected = reference.Backward(referenceTape, gradOutput, gradHn);

        var layer = new RnnLayer<double>(opts, new Random(22)) { Training = true };
        var tape = new RnnTape<double>();
        var output = Filled([rows, d * hidden], double.NaN);
        var hn = h0IsHn ? Tensor.Create((double[])h0Values.Clone(), [layers * d, n, hidden]) : Filled([layers * d, n, hidden], double.NaN);
        Tensor<double>? h0 = !withH0 ? null : h0IsHn ? hn : Tensor.Create(h0Values, [layers * d, n, hidden]);
        layer.Forward(packed, h0, output, hn, tape);
        var got = layer.Backward(tape, gradOutput, gradHn);

        output.ToDoubles().Should().Equal(expectedOutput.Data.ToDoubles());
        hn.ToDoubles().Should().Equal(expectedHn.ToDoubles());
        got.Input.ToDoubles().Should().Equal(expected.Input.ToDoubles());
        if (withH0)
            got.H0!.ToDoubles().Should().Equal(expected.H0!.ToDoubles());
        var grads = Grads(layer);
        var expectedGrads = Grads(reference);
        for (int i = 0; i < grads.Length; i++)
            grads[i].Should().Equal(expectedGrads[i]);

        // A warm training step over the same packed batch: forward into, backward into without d/dinput.
        var gradH0 = withH0 ? Filled([layers * d, n, hidden], 0) : null;
        long allocated = 0;
        for (int i = 0; i < 4; i++)
        {
            if (h0IsHn)
                h0 = hn = Tensor.Create((double[])h0Values.Clone(), [layers * d, n, hidden]);
            long before = GC.GetAllocatedBytesForCurrentThread();
            layer.Forward(packed, h0, output, hn, tape);
            layer.Backward(tape, gradOutput, gradHn, null, gradH0);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        allocated.Should().Be(0);
    }

    [Fact]
    public void Wrong_result_tensors_are_refused_with_clear_messages()
    {
        var layer = new RnnLayer<double>(new RnnOptions { InputSize = 3, HiddenSize = 5, NumLayers = 2 }, new Random(3));
        var tape = new RnnTape<double>();
        layer.Forward(Tensor.Create(new double[4 * 2 * 3], [4, 2, 3]), null, tape);
        layer.Invoking(l => l.Backward(tape, null, null, Filled([4, 2, 4], 0), null))
            .Should().Throw<ArgumentException>().WithMessage("*gradInput must be shaped like*[4, 2, 3]*got [4, 2, 4]*");
        layer.Invoking(l => l.Backward(tape, null, null, null, Filled([2, 2, 5], 0)))
            .Should().Throw<ArgumentException>().WithMessage("*ran without h0*pass null for gradH0*");
        var strided = Filled([4, 2, 6], 0).Slice(new NRange(0, 4), new NRange(0, 2), new NRange(0, 3));
        layer.Invoking(l => l.Backward(tape, null, null, strided, null))
            .Should().Throw<ArgumentException>().WithMessage("*gradInput must be a dense row-major tensor*");

        layer.Forward(Tensor.Create(new double[4 * 2 * 3], [4, 2, 3]), Filled([2, 2, 5], 0), tape);
        layer.Invoking(l => l.Backward(tape, null, null, null, Filled([2, 5], 0)))
            .Should().Throw<ArgumentException>().WithMessage("*gradH0 must be shaped like*[2, 2, 5]*got [2, 5]*");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_warm_training_step_into_caller_tensors_allocates_nothing(int threads)
    {
        // Oracle: the runtime's allocation counter. Given where to write, neither the forward with a tape nor the
        // backward allocates (their workspaces live in the tape, and a tape keeps its shape records when they match).
        var layer = new RnnLayer<float>(new RnnOptions { InputSize = 32, HiddenSize = 64, NumLayers = 2 }, new Random(4))
        {
            Training = false, MaxDegreeOfParallelism = threads,
        };
        var random = new Random(7);
        var input = Tensor.Create(TestTensors.Random(random, 20 * 4 * 32).Select(v => (float)v).ToArray(), [20, 4, 32]);
        var h0 = Tensor.Create(new float[2 * 4 * 64], [2, 4, 64]);
        var output = Tensor.Create(new float[20 * 4 * 64], [20, 4, 64]);
        var hn = Tensor.Create(new float[2 * 4 * 64], [2, 4, 64]);
        var gradOutput = Tensor.Create(TestTensors.Random(random, 20 * 4 * 64).Select(v => (float)v).ToArray(), [20, 4, 64]);
        var gradH0 = Tensor.Create(new float[2 * 4 * 64], [2, 4, 64]);
        var tape = new RnnTape<float>();
        layer.Parameters();   // a training loop holds them
        long forward = 0, backward = 0;
        for (int i = 0; i < 4; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            layer.Forward(input, h0, output, hn, tape);
            long between = GC.GetAllocatedBytesForCurrentThread();
            layer.Backward(tape, gradOutput, null, null, gradH0);
            long after = GC.GetAllocatedBytesForCurrentThread();
            (forward, backward) = (between - before, after - between);
        }
        forward.Should().Be(0);
        backward.Should().Be(0);
    }

    private static Tensor<double> Filled(nint[] shape, double value)
    {
        var values = new double[(int)shape.Aggregate((nint)1, (a, b) => a * b)];
        values.AsSpan().Fill(value);
        return Tensor.Create(values, shape);
    }

    private static double[][] Grads(RnnLayer<double> layer) => layer.Parameters().Select(p => p.Grad.ToDoubles()).ToArray();
}
