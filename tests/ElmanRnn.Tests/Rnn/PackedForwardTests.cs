using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Layout;

namespace ElmanRnn.Tests.Rnn;

/// <summary>
/// Spec §5.9 and cases 54–59: the RNN over packed input. Oracles: the spec's hand values (float64, 1e-15), the
/// independent naive reference run per sequence over its own length (1e-12 float64 / 1e-5 float32 relative), and
/// the per-sequence property (each sequence alone, unbatched).
/// </summary>
public class PackedForwardTests
{
    // A = [[1],[2],[3]], B = [[2]]: pack_sequence([A, B]) → batch_sizes [2, 1, 1], rows A0, B0, A1, A2.
    private static PackedSequence<double> AB() =>
        PackedSequence.Pack([Tensor.Create(new double[] { 1, 2, 3 }, [3, 1]), Tensor.Create(new double[] { 2 }, [1, 1])]);

    [Fact]
    public void EachSequenceRunsOverItsOwnSteps()
    {
        // Case 54.
        var input = AB();
        var (output, hn) = RnnTestKit.Scalar<double>(new() { InputSize = 1, HiddenSize = 1 }).Forward(input);
        output.BatchSizes.Should().Equal(2, 1, 1);
        output.SortedIndices.Should().BeNull();
        output.UnsortedIndices.Should().BeNull();
        output.Data.ToDoubles().Should().Equal(
            [0.6640367702678491, 0.8617231593133063, 0.5621446952832613, 0.8448428080665055], Close);
        hn.Shape().Should().Equal(1, 2, 1);
        hn.ToDoubles().Should().Equal([0.8448428080665055, 0.8617231593133063], Close);
        var (padded, lengths) = PackedSequence.PadPacked(output);
        lengths.Should().Equal(3, 1);
        padded.ToDoubles().Should().Equal(
            [0.6640367702678491, 0.8617231593133063, 0.5621446952832613, 0, 0.8448428080665055, 0], Close);
    }

    [Fact]
    public void PaddedTensorWithoutLengthsProcessesThePadding()
    {
        // Case 55: the same batch as a zero-padded (3, 2, 1) tensor: B runs through the padding.
        var (output, hn) = RnnTestKit.Scalar<double>(new() { InputSize = 1, HiddenSize = 1 })
            .Forward(Tensor.Create(new double[] { 1, 2, 2, 0, 3, 0 }, [3, 2, 1]));
        double[] o = output.ToDoubles();
        new[] { o[1], o[3], o[5] }.Should().Equal([0.8617231593133063, -0.5092548269336145, 0.6691789805922301], Close);
        hn.ToDoubles()[1].Should().BeApproximately(0.6691789805922301, 1e-15);
    }

    [Fact]
    public void ReverseDirectionStartsAtEachSequencesOwnEnd()
    {
        // Case 56.
        var (output, hn) = RnnTestKit.Scalar<double>(new() { InputSize = 1, HiddenSize = 1, Bidirectional = true }).Forward(AB());
        double[] data = output.Data.ToDoubles();        // rows A0, B0, A1, A2; columns [forward, reverse]
        new[] { data[1], data[5], data[7] }.Should().Equal([0.9039254296374339, 0.986548384933308, 0.9950547536867305], Close);
        data[3].Should().BeApproximately(0.9640275800758169, 1e-15);
        hn.ToDoubles().Skip(2).Should().Equal([0.9039254296374339, 0.9640275800758169], Close);
    }

    [Fact]
    public void WithAReverseBiasPackedAndPaddedReverseResultsDiffer()
    {
        // Spec §5.10: zero biases hide the difference; a reverse bias shows it.
        var layer = RnnTestKit.Scalar<double>(new() { InputSize = 1, HiddenSize = 1, Bidirectional = true });
        layer.LoadStateDict(new Dictionary<string, Tensor<double>> { ["bias_ih_l0_reverse"] = Tensor.Create(new[] { 0.3 }, [1]) }, strict: false);
        double packedB = layer.Forward(AB()).Output.Data.ToDoubles()[3];
        double paddedB = layer.Forward(Tensor.Create(new double[] { 1, 2, 2, 0, 3, 0 }, [3, 2, 1])).Output.ToDoubles()[3];
        packedB.Should().BeApproximately(Math.Tanh(2 + 0.3), 1e-15);
        paddedB.Should().NotBe(packedB);
    }

    public static IEnumerable<object[]> PropertyCases() =>
        from directions in new[] { 1, 2 }
        from relu in new[] { false, true }
        from bias in new[] { false, true }
        from seed in new[] { 1, 2, 3 }
        select new object[] { directions, relu, bias, seed };

    [Theory]
    [MemberData(nameof(PropertyCases))]
    public void EverySequenceAloneGivesTheSameOutputsAndFinalStates(int directions, bool relu, bool bias, int seed)
    {
        // Case 57: lengths [3, 5, 1, 5] unsorted, NL = 2, random h0 in original order; exact in eval mode, since
        // every kernel computes a row the same way however many rows share the call.
        var random = new Random(seed);
        int[] lengths = [3, 5, 1, 5];
        const int inputSize = 3, hidden = 4, layers = 2, steps = 5;
        var layer = new RnnLayer<double>(new() { InputSize = inputSize, HiddenSize = hidden, NumLayers = layers, Bidirectional = directions == 2,
            Nonlinearity = relu ? Nonlinearity.Relu : Nonlinearity.Tanh, Bias = bias }, random) { Training = false };
        double[] x = TestTensors.Random(random, steps * 4 * inputSize), h0 = TestTensors.Random(random, layers * directions * 4 * hidden);
        var packed = PackedSequence.PackPadded(Tensor.Create(x, [steps, 4, inputSize]), lengths, enforceSorted: false);
        var (output, hn) = layer.Forward(packed, Tensor.Create(h0, [layers * directions, 4, hidden]));
        var (padded, _) = PackedSequence.PadPacked(output);
        double[] p = padded.ToDoubles(), h = hn.ToDoubles();
        int width = directions * hidden;
        for (int i = 0; i < 4; i++)
        {
            double[] xi = Enumerable.Range(0, lengths[i]).SelectMany(t => x.AsSpan((t * 4 + i) * inputSize, inputSize).ToArray()).ToArray();
            double[] h0i = Enumerable.Range(0, layers * directions).SelectMany(r => h0.AsSpan((r * 4 + i) * hidden, hidden).ToArray()).ToArray();
            var (alone, aloneHn) = layer.Forward(Tensor.Create(xi, [lengths[i], inputSize]), Tensor.Create(h0i, [layers * directions, hidden]));
            double[] a = alone.ToDoubles(), ah = aloneHn.ToDoubles();
            for (int t = 0; t < steps; t++)
            {
                double[] row = p.AsSpan((t * 4 + i) * width, width).ToArray();
                if (t < lengths[i]) row.Should().Equal(a.AsSpan(t * width, width).ToArray(), $"sequence {i} step {t}");
                else row.Should().OnlyContain(v => v == 0, "padding is exactly zero in both halves");
            }
            for (int r = 0; r < layers * directions; r++)
                h.AsSpan((r * 4 + i) * hidden, hidden).ToArray().Should().Equal(ah.AsSpan(r * hidden, hidden).ToArray());
        }
    }

    public static IEnumerable<object[]> Seeds() => Enumerable.Range(0, 60).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(Seeds))]
    public void DoubleMatchesNaiveReferenceOnRandomPackedBatches(int seed) => CompareWithReference<double>(seed, 1e-12);

    [Theory]
    [MemberData(nameof(Seeds))]
    public void FloatMatchesNaiveReferenceOnRandomPackedBatches(int seed) => CompareWithReference<float>(seed + 500, 1e-5);

    [Fact]
    public void PaddedInputWithLengthsEqualsPackForwardPad()
    {
        var random = new Random(8);
        int[] lengths = [2, 6, 4];
        var layer = new RnnLayer<float>(new() { InputSize = 3, HiddenSize = 5, NumLayers = 2, Bidirectional = true, BatchFirst = true }, random)
            { Training = false };
        var x = Tensor.Create(TestTensors.Random(random, 3 * 7 * 3).Select(v => (float)v).ToArray(), [3, 7, 3]);
        var h0 = Tensor.Create(TestTensors.Random(random, 4 * 3 * 5).Select(v => (float)v).ToArray(), [4, 3, 5]);
        var (output, hn) = layer.Forward(x, lengths, h0);
        var viaPacked = layer.Forward(PackedSequence.PackPadded(x, lengths, batchFirst: true, enforceSorted: false), h0);
        output.Shape().Should().Equal(3, 7, 10);
        output.ToDoubles().Should().Equal(PackedSequence.PadPacked(viaPacked.Output, batchFirst: true, totalLength: 7).Padded.ToDoubles());
        hn.ToDoubles().Should().Equal(viaPacked.Hn.ToDoubles());
    }

    [Fact]
    public void TrainingDropoutOnPackedInputVariesButPaddingStaysZero()
    {
        // Case 59.
        var random = new Random(59);
        var layer = new RnnLayer<float>(new() { InputSize = 3, HiddenSize = 4, NumLayers = 2, Dropout = 0.5 }, random);
        var x = Tensor.Create(TestTensors.Random(random, 5 * 3 * 3).Select(v => (float)v).ToArray(), [5, 3, 3]);
        var first = layer.Forward(x, [5, 2, 3]).Output.ToDoubles();
        var second = layer.Forward(x, [5, 2, 3]).Output.ToDoubles();
        first.Should().NotEqual(second);
        foreach (double[] o in new[] { first, second })
            for (int t = 0; t < 5; t++)
                for (int n = 0; n < 3; n++)
                    if (t >= new[] { 5, 2, 3 }[n])
                        o.AsSpan((t * 3 + n) * 4, 4).ToArray().Should().OnlyContain(v => v == 0);
    }

    [Fact]
    public void PackedInputErrorsNameWhatWasExpected()
    {
        // Case 58.
        var layer = new RnnLayer<double>(new() { InputSize = 1, HiddenSize = 2, NumLayers = 2 });
        Action wrongBatch = () => layer.Forward(AB(), Tensor.Create(new double[2 * 3 * 2], [2, 3, 2]));
        wrongBatch.Should().Throw<ArgumentException>().WithMessage("Expected hidden size (2, 2, 2), got [2, 3, 2]*");
        var wide = new PackedSequence<double>(Tensor.Create(new double[8], [4, 2]), [2, 1, 1]);
        Action wrongFeatures = () => layer.Forward(wide);
        wrongFeatures.Should().Throw<ArgumentException>().WithMessage("input.size(-1) must be equal to input_size. Expected 1, got 2*");
        var rank3 = new PackedSequence<double>(Tensor.Create(new double[4], [4, 1, 1]), [2, 1, 1]);
        Action wrongRank = () => layer.Forward(rank3);
        wrongRank.Should().Throw<ArgumentException>().WithMessage("input must have 2 dimensions, got 3*");
        Action nullInput = () => layer.Forward((PackedSequence<double>)null!);
        nullInput.Should().Throw<ArgumentNullException>();
    }

    [Fact]
    public void PaddedConvenienceRejectsBadLengths()
    {
        var layer = new RnnLayer<double>(new() { InputSize = 1, HiddenSize = 2 });
        var x = Tensor.Create(new double[3 * 2], [3, 2, 1]);
        Action tooLong = () => layer.Forward(x, [4, 1]);
        tooLong.Should().Throw<ArgumentException>();
        Action zero = () => layer.Forward(x, [3, 0]);
        zero.Should().Throw<ArgumentException>().WithMessage("*greater than 0*");
        Action count = () => layer.Forward(x, [3]);
        count.Should().Throw<ArgumentException>().WithMessage("*Expected `len(lengths)` to be equal to batch_size*");
        Action rank = () => layer.Forward(Tensor.Create(new double[3], [3, 1]), [3]);
        rank.Should().Throw<ArgumentException>().WithMessage("*Expected a padded 3D input*");
    }

    private static void CompareWithReference<T>(int seed, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(seed);
        int inputSize = random.Next(1, 20), hidden = random.Next(1, 40), layers = random.Next(1, 4), directions = random.Next(1, 3);
        int batch = random.Next(1, 12), steps = random.Next(1, 8);
        int[] lengths = Enumerable.Range(0, batch).Select(_ => random.Next(1, steps + 1)).ToArray();
        bool withH0 = random.Next(2) == 0;
        var options = new RnnOptions { InputSize = inputSize, HiddenSize = hidden, NumLayers = layers, Bidirectional = directions == 2,
            Nonlinearity = random.Next(2) == 0 ? Nonlinearity.Tanh : Nonlinearity.Relu, Bias = random.Next(4) != 0 };
        var layer = new RnnLayer<T>(options, random) { Training = false };
        double[] x = TestTensors.Random(random, steps * batch * inputSize, 2.0);
        double[] h0 = TestTensors.Random(random, layers * directions * batch * hidden);
        var (output, hn) = layer.Forward(RnnTestKit.Input<T>(x, steps, batch, inputSize), lengths,
            withH0 ? RnnTestKit.Input<T>(h0, layers * directions, batch, hidden) : null);
        var expected = RnnTestKit.Reference(layer, x, steps, batch, withH0 ? h0 : null, lengths);
        string config = $"{options} L={steps} lengths=[{string.Join(",", lengths)}] h0={withH0}";
        TestTensors.RelativeError(output.ToDoubles(), expected.Output).Should().BeLessThanOrEqualTo(tolerance, config);
        TestTensors.RelativeError(hn.ToDoubles(), expected.Hn).Should().BeLessThanOrEqualTo(tolerance, config);
    }

    private static bool Close(double actual, double expected) => Math.Abs(actual - expected) <= 1e-15;
}
