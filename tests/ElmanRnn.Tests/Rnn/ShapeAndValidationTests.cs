using System.Numerics.Tensors;

namespace ElmanRnn.Tests.Rnn;

/// <summary>Spec §4 and cases 16–27: output and h_n shapes for every input form, and every bad-input error.
/// Oracle: the spec §4.1 shape table and PyTorch's error key phrases.</summary>
public class ShapeAndValidationTests
{
    public static IEnumerable<object[]> Grid()
    {
        foreach (string form in new[] { "unbatched", "time-major", "batch-first" })
            foreach (int d in new[] { 1, 2 })
                foreach (int layers in new[] { 1, 3 })
                    foreach (int n in new[] { 0, 1, 4 })
                        foreach (int l in new[] { 1, 6 })
                            if (form != "unbatched" || n == 1)
                                yield return [form, d, layers, n, l];
    }

    [Theory]
    [MemberData(nameof(Grid))]
    public void ShapesFollowTheTable(string form, int directions, int layers, int batch, int steps)
    {
        const int inputSize = 3, hidden = 5;
        var layer = new RnnLayer<float>(new()
        {
            InputSize = inputSize, HiddenSize = hidden, NumLayers = layers, Bidirectional = directions == 2,
            BatchFirst = form == "batch-first",
        });
        nint[] inputShape = form switch
        {
            "unbatched" => [steps, inputSize],
            "time-major" => [steps, batch, inputSize],
            _ => [batch, steps, inputSize],
        };
        var (output, hn) = layer.Forward(Tensor.Create(new float[steps * batch * inputSize], inputShape));
        nint width = directions * hidden;
        output.Shape().Should().Equal(form switch
        {
            "unbatched" => new nint[] { steps, width },
            "time-major" => [steps, batch, width],
            _ => [batch, steps, width],
        });
        hn.Shape().Should().Equal(form == "unbatched"
            ? new nint[] { layers * directions, hidden }
            : [layers * directions, batch, hidden]);
    }

    [Fact]
    public void BatchFirstNeverAppliesToHidden()
    {
        // Spec case 17.
        var layer = new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 20, NumLayers = 2, BatchFirst = true });
        var input = Tensor.Create(new float[3 * 5 * 10], [3, 5, 10]);
        layer.Forward(input, Tensor.Create(new float[2 * 3 * 20], [2, 3, 20])).Hn.Shape().Should().Equal(2, 3, 20);
        Action wrong = () => layer.Forward(input, Tensor.Create(new float[3 * 2 * 20], [3, 2, 20]));
        wrong.Should().Throw<ArgumentException>().WithMessage("Expected hidden size (2, 3, 20), got [3, 2, 20]*");
    }

    [Theory]
    [InlineData(new[] { 10 }, "*Expected input to be 2D or 3D, got 1D tensor*")]
    [InlineData(new[] { 1, 5, 3, 10 }, "*Expected input to be 2D or 3D, got 4D tensor*")]
    public void InputMustBe2DOr3D(int[] shape, string message)
    {
        var layer = new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 20 });
        Action run = () => layer.Forward(Tensor.Create(new float[shape.Aggregate(1, (a, b) => a * b)], shape.Select(x => (nint)x).ToArray()));
        run.Should().Throw<ArgumentException>().WithMessage(message);
    }

    [Fact]
    public void HiddenRankMustMatchInputRank()
    {
        // Spec case 20.
        var layer = new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 20, NumLayers = 2 });
        Action unbatched = () => layer.Forward(Tensor.Create(new float[50], [5, 10]), Tensor.Create(new float[40], [2, 1, 20]));
        unbatched.Should().Throw<ArgumentException>().WithMessage("*hx should also be 2-D*");
        Action batched = () => layer.Forward(Tensor.Create(new float[150], [5, 3, 10]), Tensor.Create(new float[40], [2, 20]));
        batched.Should().Throw<ArgumentException>().WithMessage("*hx should also be 3-D*");
    }

    [Fact]
    public void FeatureSizeMustMatch()
    {
        // Spec case 22.
        var layer = new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 20 });
        Action run = () => layer.Forward(Tensor.Create(new float[5 * 3 * 7], [5, 3, 7]));
        run.Should().Throw<ArgumentException>().WithMessage("input.size(-1) must be equal to input_size. Expected 10, got 7*");
    }

    [Theory]
    [InlineData(7, 4, 3, 2, 4, 5)]  // input batch 7
    [InlineData(6, 4, 3, 2, 7, 5)]  // hidden batch 7
    [InlineData(6, 4, 3, 2, 4, 7)]  // hidden size 7
    [InlineData(6, 4, 3, 7, 4, 5)]  // hidden first dim 7
    public void HiddenShapeMustMatchEverything(int inputBatch, int steps, int features, int hLayers, int hBatch, int hSize)
    {
        // Spec case 23 (test_rnn_args_check) for RNN(3, 5, 2).
        _ = steps;
        var layer = new RnnLayer<float>(new() { InputSize = 3, HiddenSize = 5, NumLayers = 2 });
        Action run = () => layer.Forward(
            Tensor.Create(new float[6 * inputBatch * features], [6, inputBatch, features]),
            Tensor.Create(new float[hLayers * hBatch * hSize], [hLayers, hBatch, hSize]));
        run.Should().Throw<ArgumentException>().WithMessage($"Expected hidden size (2, {inputBatch}, 5), got [{hLayers}, {hBatch}, {hSize}]*");
    }

    [Fact]
    public void UnbatchedHiddenErrorShowsTheBatchAxisAsPyTorchDoes()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 3, HiddenSize = 5, NumLayers = 2 });
        Action run = () => layer.Forward(Tensor.Create(new float[12], [4, 3]), Tensor.Create(new float[15], [3, 5]));
        run.Should().Throw<ArgumentException>().WithMessage("Expected hidden size (2, 1, 5), got [3, 1, 5]*");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SequenceLengthZeroIsAnError(bool bidirectional)
    {
        // Spec case 25: time-major, batch-first and unbatched.
        var options = new RnnOptions { InputSize = 5, HiddenSize = 6, Bidirectional = bidirectional };
        string message = "*Expected sequence length to be larger than 0 in RNN*";
        Action timeMajor = () => new RnnLayer<float>(options).Forward(Tensor.Create(new float[0], [0, 10, 5]));
        Action batchFirst = () => new RnnLayer<float>(options with { BatchFirst = true }).Forward(Tensor.Create(new float[0], [10, 0, 5]));
        Action unbatched = () => new RnnLayer<float>(options).Forward(Tensor.Create(new float[0], [0, 5]));
        timeMajor.Should().Throw<ArgumentException>().WithMessage(message);
        batchFirst.Should().Throw<ArgumentException>().WithMessage(message);
        unbatched.Should().Throw<ArgumentException>().WithMessage(message);
    }

    [Fact]
    public void BatchSizeZeroGivesEmptyResults()
    {
        // Spec case 26.
        var (output, hn) = new RnnLayer<float>(new() { InputSize = 3, HiddenSize = 4 }).Forward(Tensor.Create(new float[0], [5, 0, 3]));
        output.Shape().Should().Equal(5, 0, 4);
        hn.Shape().Should().Equal(1, 0, 4);
    }

    [Fact]
    public void NullInputIsRejected()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 3, HiddenSize = 4 });
        Action run = () => layer.Forward((Tensor<float>)null!);
        run.Should().Throw<ArgumentNullException>();
    }

    [Fact]
    public void ExplicitZeroHiddenEqualsDefault()
    {
        // Spec case 27: bitwise equal.
        var random = new Random(27);
        var layer = new RnnLayer<float>(new() { InputSize = 30, HiddenSize = 20, NumLayers = 2 }, random) { Training = false };
        var x = RnnTestKit.Input<float>(TestTensors.Random(random, 10 * 32 * 30), 10, 32, 30);
        var implicitZero = layer.Forward(x);
        var explicitZero = layer.Forward(x, Tensor.Create(new float[2 * 32 * 20], [2, 32, 20]));
        implicitZero.Output.ToDoubles().Should().Equal(explicitZero.Output.ToDoubles());
        implicitZero.Hn.ToDoubles().Should().Equal(explicitZero.Hn.ToDoubles());
    }

    [Fact]
    public void StridedInputAndHiddenAreRead()
    {
        // Oracle: the same values as a dense tensor. A (L=4, N=3, I=2) view with strides (2, 8, 1) over a
        // (N, L, I) buffer is the time-major view of batch-first data.
        var random = new Random(9);
        var layer = new RnnLayer<double>(new() { InputSize = 2, HiddenSize = 3 }, random) { Training = false };
        double[] batchFirst = TestTensors.Random(random, 3 * 4 * 2);
        var strided = Tensor.Create(batchFirst, [4, 3, 2], [2, 8, 1]);
        var dense = RnnTestKit.Input<double>(RnnTestKit.SwapFirstTwo(batchFirst, 3, 4, 2), 4, 3, 2);
        layer.Forward(strided).Output.ToDoubles().Should().Equal(layer.Forward(dense).Output.ToDoubles());
    }

    [Fact]
    public void SlicedViewsAreReadAndWrittenFromTheirOwnFirstElement()
    {
        // Regression (found by Properties/MetamorphicProperties): a row-major view that starts inside its array,
        // t.Slice(1.., ..), was read from the array's first element, because Tensor<T>.GetPinnableReference() ignores
        // the view's start. Oracle: the same values as a fresh dense tensor, and the untouched sentinel rows.
        var random = new Random(11);
        var layer = new RnnLayer<double>(new() { InputSize = 2, HiddenSize = 3 }, random) { Training = false };
        double[] x = TestTensors.Random(random, 4 * 2 * 2), h0 = TestTensors.Random(random, 1 * 2 * 3);
        var all = System.Buffers.NRange.All;
        var slicedX = Tensor.Create([-9.0, -9, -9, -9, .. x], [5, 2, 2]).Slice([new System.Buffers.NRange(1, 5), all, all]);
        var slicedH0 = Tensor.Create([-9.0, -9, -9, .. h0], [1, 3, 3]).Slice([all, new System.Buffers.NRange(1, 3), all]);
        var expected = layer.Forward(Tensor.Create(x, [4, 2, 2]), Tensor.Create(h0, [1, 2, 3]));

        var actual = layer.Forward(slicedX, slicedH0);
        actual.Output.ToDoubles().Should().Equal(expected.Output.ToDoubles());
        actual.Hn.ToDoubles().Should().Equal(expected.Hn.ToDoubles());

        // Caller-owned results that are sliced views: written at the view, the sentinel row before it untouched.
        double[] outputBuffer = Enumerable.Repeat(-7.0, 5 * 2 * 3).ToArray(), hnBuffer = Enumerable.Repeat(-7.0, 2 * 2 * 3).ToArray();
        var output = Tensor.Create(outputBuffer, [5, 2, 3]).Slice([new System.Buffers.NRange(1, 5), all, all]);
        var hn = Tensor.Create(hnBuffer, [2, 2, 3]).Slice([new System.Buffers.NRange(1, 2), all, all]);
        layer.Forward(Tensor.Create(x, [4, 2, 2]), Tensor.Create(h0, [1, 2, 3]), output, hn);
        outputBuffer.Skip(6).Should().Equal(expected.Output.ToDoubles());
        outputBuffer.Take(6).Should().OnlyContain(v => v == -7.0);
        hnBuffer.Skip(6).Should().Equal(expected.Hn.ToDoubles());
        hnBuffer.Take(6).Should().OnlyContain(v => v == -7.0);
    }
}
