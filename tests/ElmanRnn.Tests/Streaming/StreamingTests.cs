using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Tests.Rnn;

namespace ElmanRnn.Tests.Streaming;

/// <summary>
/// Streaming contract (DESIGN.md, issue "Streaming and zero-allocation inference"): Step over any chunking is bitwise
/// one Forward over the concatenated input with the same h0. Oracle: Forward itself (checked against the naive
/// reference and libtorch elsewhere), plus one direct comparison with the naive reference (float64, ≤ 1e-12).
/// </summary>
public class StreamingTests
{
    public static IEnumerable<object[]> Configurations()
    {
        // layers, hidden, input, batch, relu, bias, double, threads, with h0
        yield return [1, 3, 2, 1, false, true, false, 1, false];
        yield return [2, 16, 5, 3, true, true, true, 1, true];
        yield return [3, 7, 4, 2, false, false, false, 2, true];
        yield return [2, 9, 1, 5, true, false, true, 2, false];
        yield return [1, 256, 32, 1, false, true, false, 2, true];    // batch 1, W_hh panels split across threads
        yield return [2, 128, 48, 32, false, true, false, 2, false];  // per-step GEMM split across threads
        yield return [2, 130, 17, 4, true, true, true, 3, true];
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void AnyChunkingEqualsOneForwardBitwise(int layers, int hidden, int inputSize, int batch, bool relu, bool bias,
        bool useDouble, int threads, bool withH0)
    {
        if (useDouble) Check<double>(layers, hidden, inputSize, batch, relu, bias, threads, withH0);
        else Check<float>(layers, hidden, inputSize, batch, relu, bias, threads, withH0);
    }

    private static void Check<T>(int layers, int hidden, int inputSize, int batch, bool relu, bool bias, int threads, bool withH0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(hidden * 31 + layers);
        var options = new RnnOptions
        {
            InputSize = inputSize, HiddenSize = hidden, NumLayers = layers, Bias = bias,
            Nonlinearity = relu ? Nonlinearity.Relu : Nonlinearity.Tanh,
        };
        var layer = new RnnLayer<T>(options, random) { Training = false, MaxDegreeOfParallelism = threads };
        const int steps = 23;
        var xValues = TestTensors.Random(random, steps * batch * inputSize).Select(T.CreateChecked).ToArray();
        Tensor<T>? h0 = withH0 ? TestTensors.Create<T>(TestTensors.Random(random, layers * batch * hidden), layers, batch, hidden) : null;
        var (expectedOutput, expectedHn) = layer.Forward(Tensor.Create(xValues, [steps, batch, inputSize]), h0);
        T[] expected = Flat(expectedOutput);

        int[][] chunkings =
        [
            Enumerable.Repeat(1, steps).ToArray(),
            [7, 7, 7, 2],
            [5, 0, 11, 1, 6],
            [steps],
        ];
        foreach (int[] chunks in chunkings)
        {
            RnnState<T> state = layer.CreateState(batch, h0);
            var output = new T[steps * batch * hidden];
            int done = 0;
            foreach (int chunk in chunks)
            {
                layer.Step(state, xValues.AsSpan(done * batch * inputSize, chunk * batch * inputSize),
                    output.AsSpan(done * batch * hidden, chunk * batch * hidden));
                done += chunk;
            }
            output.Should().Equal(expected, $"output for chunks [{string.Join(", ", chunks)}]");
            Flat(state.Hidden).Should().Equal(Flat(expectedHn), $"h_n for chunks [{string.Join(", ", chunks)}]");
        }
    }

    [Fact]
    public void SteppingMatchesTheNaiveReference()
    {
        // Oracle: the independent MathNet reference RNN; float64, ≤ 1e-12 relative to max(1, peak |value|).
        var random = new Random(12);
        var layer = new RnnLayer<double>(new() { InputSize = 3, HiddenSize = 6, NumLayers = 2 }, random) { Training = false };
        double[] x = TestTensors.Random(random, 9 * 2 * 3);
        var (output, hn) = RnnTestKit.Reference(layer, x, steps: 9, batch: 2);
        var state = layer.CreateState(2);
        var actual = new double[9 * 2 * 6];
        for (int t = 0; t < 9; t++)
            layer.Step(state, x.AsSpan(t * 6, 6), actual.AsSpan(t * 12, 12));
        TestTensors.RelativeError(actual, output).Should().BeLessThanOrEqualTo(1e-12);
        TestTensors.RelativeError(state.Hidden.ToDoubles(), hn).Should().BeLessThanOrEqualTo(1e-12);
    }

    [Fact]
    public void TrainingModeAppliesDropoutBetweenLayersAsForwardDoes()
    {
        // Oracle: Forward on an identically seeded layer. With two layers the masks are drawn in the same order
        // (layer 0's output, step by step), so one-step chunks reproduce Forward's training-mode result exactly.
        var options = new RnnOptions { InputSize = 4, HiddenSize = 8, NumLayers = 2, Dropout = 0.5 };
        var streaming = new RnnLayer<double>(options, new Random(5));
        var whole = new RnnLayer<double>(options, new Random(5));
        var eval = new RnnLayer<double>(options, new Random(5)) { Training = false };
        double[] x = TestTensors.Random(new Random(6), 6 * 4);
        var expected = whole.Forward(Tensor.Create(x, [6, 1, 4])).Output.ToDoubles();
        var state = streaming.CreateState();
        var output = new double[6 * 8];
        for (int t = 0; t < 6; t++)
            streaming.Step(state, x.AsSpan(t * 4, 4), output.AsSpan(t * 8, 8));
        output.Should().Equal(expected);
        output.Should().NotEqual(eval.Forward(Tensor.Create(x, [6, 1, 4])).Output.ToDoubles(), "dropout is active in training");
    }

    [Fact]
    public void BidirectionalLayerCannotStream()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 2, HiddenSize = 3, Bidirectional = true });
        var act = () => layer.CreateState();
        act.Should().Throw<NotSupportedException>().WithMessage("*bidirectional*reverse direction starts at the last step*");
    }

    [Fact]
    public void ResetReturnsEveryStreamToZeros()
    {
        // Oracle: a freshly created state (zeros) stepping the same input.
        var layer = new RnnLayer<float>(new() { InputSize = 2, HiddenSize = 4, NumLayers = 2 }, new Random(1)) { Training = false };
        float[] x = TestTensors.Random(new Random(2), 3 * 2 * 2).Select(v => (float)v).ToArray();
        var state = layer.CreateState(2);
        var scratch = new float[3 * 2 * 4];
        layer.Step(state, x, scratch);
        state.Reset();
        state.Hidden.ToDoubles().Should().OnlyContain(v => v == 0);
        var afterReset = new float[scratch.Length];
        layer.Step(state, x, afterReset);
        var fresh = new float[scratch.Length];
        layer.Step(layer.CreateState(2), x, fresh);
        afterReset.Should().Equal(fresh);
    }

    [Fact]
    public void ResetOfOneSlotRestartsThatStreamOnly()
    {
        // Oracle: streams run alone (batch 1) — slot 1 restarted from zeros, slots 0 and 2 uninterrupted.
        var layer = new RnnLayer<double>(new() { InputSize = 3, HiddenSize = 5, NumLayers = 2 }, new Random(3)) { Training = false };
        var random = new Random(4);
        double[][] first = [.. Enumerable.Range(0, 3).Select(_ => TestTensors.Random(random, 4 * 3))];   // (4 steps, 3) per stream
        double[][] second = [.. Enumerable.Range(0, 3).Select(_ => TestTensors.Random(random, 4 * 3))];

        var state = layer.CreateState(3);
        var output = new double[4 * 3 * 5];
        layer.Step(state, Interleave(first, 4, 3), output);
        state.Reset(1);
        layer.Step(state, Interleave(second, 4, 3), output);

        for (int slot = 0; slot < 3; slot++)
        {
            var alone = layer.CreateState();
            var aloneOutput = new double[4 * 5];
            if (slot != 1)
                layer.Step(alone, first[slot], aloneOutput);
            layer.Step(alone, second[slot], aloneOutput);
            var got = Enumerable.Range(0, 4).SelectMany(t => output.Skip((t * 3 + slot) * 5).Take(5)).ToArray();
            got.Should().Equal(aloneOutput, $"slot {slot}");
        }
    }

    [Fact]
    public void ResetOfASlotOutsideTheBatchIsRefused()
    {
        var state = new RnnLayer<float>(new() { InputSize = 1, HiddenSize = 2 }).CreateState(2);
        var act = () => state.Reset(2);
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("slot must be in 0..1*");
    }

    [Fact]
    public void HiddenIsALiveViewForReadingAndInjectingState()
    {
        // Oracle: Forward with h0 (injected state) and its h_n (read state).
        var layer = new RnnLayer<double>(new() { InputSize = 2, HiddenSize = 3, NumLayers = 2 }, new Random(7)) { Training = false };
        double[] h0 = TestTensors.Random(new Random(8), 2 * 3);
        double[] x = TestTensors.Random(new Random(9), 5 * 2);
        var (expected, expectedHn) = layer.Forward(Tensor.Create(x, [5, 1, 2]), Tensor.Create(h0, [2, 1, 3]));

        var state = layer.CreateState();
        state.Hidden.Lengths.ToArray().Should().Equal(2, 1, 3);
        Tensor.Create(h0, [2, 1, 3]).CopyTo(state.Hidden);
        var output = new double[5 * 3];
        layer.Step(state, x, output);
        output.Should().Equal(expected.ToDoubles());
        state.Hidden.ToDoubles().Should().Equal(expectedHn.ToDoubles());
    }

    [Fact]
    public void OneLayerSharedByManyThreadsGivesEachStreamItsOwnResult()
    {
        // Oracle: each stream stepped alone on one thread before the concurrent run.
        var layer = new RnnLayer<float>(new() { InputSize = 8, HiddenSize = 64, NumLayers = 2 }, new Random(10)) { Training = false };
        const int streams = 8, steps = 40;
        float[][] inputs = [.. Enumerable.Range(0, streams).Select(i => TestTensors.Random(new Random(100 + i), steps * 8).Select(v => (float)v).ToArray())];
        float[][] expected = [.. inputs.Select(x =>
        {
            var output = new float[steps * 64];
            layer.Step(layer.CreateState(), x, output);
            return output;
        })];
        var actual = new float[streams][];
        Parallel.For(0, streams, new ParallelOptions { MaxDegreeOfParallelism = streams }, i =>
        {
            var state = layer.CreateState();
            actual[i] = new float[steps * 64];
            for (int t = 0; t < steps; t++)
                layer.Step(state, inputs[i].AsSpan(t * 8, 8), actual[i].AsSpan(t * 64, 64));
        });
        for (int i = 0; i < streams; i++)
            actual[i].Should().Equal(expected[i], $"stream {i}");
    }

    [Fact]
    public void StepRejectsInputAndOutputOfWrongLengthsAndForeignStates()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 3, HiddenSize = 4 });
        var state = layer.CreateState(2);
        var wrongInput = () => layer.Step(state, new float[7], new float[8]);
        wrongInput.Should().Throw<ArgumentException>().WithMessage("input must hold whole steps of B·H_in = 2·3 = 6 values; got 7.*");
        var wrongOutput = () => layer.Step(state, new float[12], new float[8]);
        wrongOutput.Should().Throw<ArgumentException>().WithMessage("output must hold steps·B·H = 2·2·4 = 16 values; got 8.*");
        var other = new RnnLayer<float>(new() { InputSize = 3, HiddenSize = 5 }).CreateState(2);
        var foreign = () => layer.Step(other, new float[6], new float[8]);
        foreign.Should().Throw<ArgumentException>().WithMessage("The state was made for 1 layer(s) of RNN(3, 5); this layer is 1 layer(s) of RNN(3, 4).*");
        var nullState = () => layer.Step(null!, new float[6], new float[8]);
        nullState.Should().Throw<ArgumentNullException>();
    }

    [Fact]
    public void CreateStateRejectsBadBatchSizesAndH0Shapes()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 3, HiddenSize = 4, NumLayers = 2 });
        var zero = () => layer.CreateState(0);
        zero.Should().Throw<ArgumentOutOfRangeException>().WithMessage("batchSize must be in 1..*");
        var huge = () => layer.CreateState(int.MaxValue);
        huge.Should().Throw<ArgumentOutOfRangeException>().WithMessage("batchSize must be in 1..*");
        var badH0 = () => layer.CreateState(2, Tensor.Create(new float[2 * 3 * 4], [2, 3, 4]));
        badH0.Should().Throw<ArgumentException>().WithMessage("Expected hidden size (2, 2, 4), got [2, 3, 4].*");
        layer.CreateState(1, Tensor.Create(new float[2 * 4], [2, 4])).BatchSize.Should().Be(1, "an unbatched (NL, H) h0 is one stream");
    }

    [Fact]
    public void ADefaultH0IsMultipliedByWhhAsPyTorchDoes()
    {
        // Oracle: PyTorch computes h0·W_hhᵀ with a zero h0, and 0·NaN = NaN (IEEE 754), so a NaN in W_hh reaches the
        // first output even without h0; libtorch 2.10 gives NaN there.
        var layer = RnnTestKit.Scalar<float>(new() { InputSize = 1, HiddenSize = 1 });
        var dict = layer.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        dict["weight_hh_l0"] = Tensor.Create([float.NaN], [1, 1]);
        layer.LoadStateDict(dict);
        var (output, _) = layer.Forward(Tensor.Create([1f], [1, 1, 1]));
        float.IsNaN(output[0, 0, 0]).Should().BeTrue();
        var streamed = new float[1];
        layer.Step(layer.CreateState(), [1f], streamed);
        float.IsNaN(streamed[0]).Should().BeTrue();
    }

    private static double[] Interleave(double[][] streams, int steps, int features) =>
        [.. Enumerable.Range(0, steps).SelectMany(t => streams.SelectMany(s => s.Skip(t * features).Take(features)))];

    private static T[] Flat<T>(Tensor<T> tensor) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var flat = new T[tensor.FlattenedLength];
        tensor.FlattenTo(flat);
        return flat;
    }
}
