namespace ElmanRnn.Tests.Rnn;

/// <summary>Spec §6 and cases 19, 34–36: relations between output and h_n that must hold exactly.
/// Oracle: the identities themselves (bitwise, since both sides are the same computed values).</summary>
public class IdentityTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void UnidirectionalLastOutputIsLastLayersFinalState(bool batchFirst, bool training)
    {
        var random = new Random(34);
        var layer = new RnnLayer<double>(new() { InputSize = 4, HiddenSize = 6, NumLayers = 2, BatchFirst = batchFirst, Dropout = 0.5 }, random)
            { Training = training };
        var (output, hn) = layer.Forward(RnnTestKit.Input<double>(TestTensors.Random(random, 5 * 3 * 4), batchFirst ? [3, 5, 4] : [5, 3, 4]));
        double[] o = output.ToDoubles(), h = hn.ToDoubles();
        for (int n = 0; n < 3; n++)
        {
            int row = batchFirst ? n * 5 + 4 : 4 * 3 + n;   // output[:, -1] or output[-1]
            o.AsSpan(row * 6, 6).ToArray().Should().Equal(h.AsSpan((1 * 3 + n) * 6, 6).ToArray());
        }
    }

    [Fact]
    public void BidirectionalFinalStatesSitAtOppositeEnds()
    {
        // output[-1, :, :H] == h_n[2]; output[0, :, H:] == h_n[3]; output[-1, :, H:] != h_n[3].
        var random = new Random(35);
        const int l = 5, n = 3, hidden = 4;
        var layer = new RnnLayer<double>(new() { InputSize = 2, HiddenSize = hidden, NumLayers = 2, Bidirectional = true }, random)
            { Training = false };
        var (output, hn) = layer.Forward(RnnTestKit.Input<double>(TestTensors.Random(random, l * n * 2), l, n, 2));
        double[] o = output.ToDoubles(), h = hn.ToDoubles();
        for (int b = 0; b < n; b++)
        {
            o.AsSpan(((l - 1) * n + b) * 2 * hidden, hidden).ToArray().Should().Equal(h.AsSpan((2 * n + b) * hidden, hidden).ToArray());
            o.AsSpan(b * 2 * hidden + hidden, hidden).ToArray().Should().Equal(h.AsSpan((3 * n + b) * hidden, hidden).ToArray());
            o.AsSpan(((l - 1) * n + b) * 2 * hidden + hidden, hidden).ToArray().Should().NotEqual(h.AsSpan((3 * n + b) * hidden, hidden).ToArray());
        }
    }

    [Fact]
    public void SingleLayerBidirectionalIsForwardPlusFlippedReverse()
    {
        // Spec case 36: D=2 equals a forward RNN on x ⊕ an RNN with the reverse weights on flipped x, flipped back.
        var random = new Random(36);
        const int l = 6, n = 2, inputSize = 3, hidden = 5;
        var bi = new RnnLayer<double>(new() { InputSize = inputSize, HiddenSize = hidden, Bidirectional = true }, random) { Training = false };
        var dict = bi.StateDict();
        var forward = new RnnLayer<double>(new() { InputSize = inputSize, HiddenSize = hidden }) { Training = false };
        var reverse = new RnnLayer<double>(new() { InputSize = inputSize, HiddenSize = hidden }) { Training = false };
        forward.LoadStateDict(dict.Where(kv => !kv.Key.EndsWith("_reverse")).ToDictionary());
        reverse.LoadStateDict(dict.Where(kv => kv.Key.EndsWith("_reverse")).ToDictionary(kv => kv.Key.Replace("_reverse", ""), kv => kv.Value));

        double[] x = TestTensors.Random(random, l * n * inputSize);
        double[] flipped = Flip(x, l, n * inputSize);
        var (both, hn) = bi.Forward(RnnTestKit.Input<double>(x, l, n, inputSize));
        var (fwd, fwdHn) = forward.Forward(RnnTestKit.Input<double>(x, l, n, inputSize));
        var (rev, revHn) = reverse.Forward(RnnTestKit.Input<double>(flipped, l, n, inputSize));
        double[] revBack = Flip(rev.ToDoubles(), l, n * hidden);
        double[] b2 = both.ToDoubles(), f = fwd.ToDoubles();
        for (int row = 0; row < l * n; row++)
        {
            b2.AsSpan(row * 2 * hidden, hidden).ToArray().Should().Equal(f.AsSpan(row * hidden, hidden).ToArray());
            b2.AsSpan(row * 2 * hidden + hidden, hidden).ToArray().Should().Equal(revBack.AsSpan(row * hidden, hidden).ToArray());
        }
        hn.ToDoubles().Should().Equal(fwdHn.ToDoubles().Concat(revHn.ToDoubles()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UnbatchedEqualsBatchOfOne(bool batchFirst)
    {
        // Spec case 19: bitwise, and batch_first is irrelevant for unbatched input.
        var random = new Random(19);
        var options = new RnnOptions { InputSize = 10, HiddenSize = 20, NumLayers = 2, BatchFirst = batchFirst };
        var layer = new RnnLayer<float>(options, random) { Training = false };
        double[] x = TestTensors.Random(random, 5 * 10), h0 = TestTensors.Random(random, 2 * 20);
        var single = layer.Forward(RnnTestKit.Input<float>(x, 5, 10), RnnTestKit.Input<float>(h0, 2, 20));
        var batched = layer.Forward(RnnTestKit.Input<float>(x, batchFirst ? [1, 5, 10] : [5, 1, 10]), RnnTestKit.Input<float>(h0, 2, 1, 20));
        single.Output.Shape().Should().Equal(5, 20);
        single.Hn.Shape().Should().Equal(2, 20);
        single.Output.ToDoubles().Should().Equal(batched.Output.ToDoubles());
        single.Hn.ToDoubles().Should().Equal(batched.Hn.ToDoubles());
    }

    [Fact]
    public void ASequenceGivesTheSameBitsAloneAndInsideABatch()
    {
        // Determinism contract (DESIGN.md): every element is one fixed-order reduction, whatever the batch size.
        var random = new Random(77);
        var layer = new RnnLayer<float>(new() { InputSize = 37, HiddenSize = 45, NumLayers = 2, Bidirectional = true }, random) { Training = false };
        const int l = 4, n = 11;
        double[] x = TestTensors.Random(random, l * n * 37);
        double[] all = layer.Forward(RnnTestKit.Input<float>(x, l, n, 37)).Output.ToDoubles();
        for (int b = 0; b < n; b++)
        {
            double[] one = Enumerable.Range(0, l).SelectMany(t => x.AsSpan((t * n + b) * 37, 37).ToArray()).ToArray();
            double[] alone = layer.Forward(RnnTestKit.Input<float>(one, l, 37)).Output.ToDoubles();
            for (int t = 0; t < l; t++)
                alone.AsSpan(t * 90, 90).ToArray().Should().Equal(all.AsSpan((t * n + b) * 90, 90).ToArray());
        }
    }

    private static double[] Flip(double[] values, int steps, int rowWidth)
    {
        var result = new double[values.Length];
        for (int t = 0; t < steps; t++)
            Array.Copy(values, t * rowWidth, result, (steps - 1 - t) * rowWidth, rowWidth);
        return result;
    }
}
