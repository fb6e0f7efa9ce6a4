using System.Numerics.Tensors;

namespace ElmanRnn.Tests.Rnn;

/// <summary>Spec §3.4 and cases 37–39. Oracle: PyTorch's test_RNN_dropout construction — all weights 1, no bias,
/// ReLU, input ones(1, 1, 10), H = 1000 — whose values are exact: layer 0 gives 10 everywhere, layer 1 gives
/// Σ of 1000 (possibly dropped, scaled) copies of 10.</summary>
public class DropoutTests
{
    private static RnnLayer<double> AllOnes(double p, bool training, Random? random = null)
    {
        var layer = new RnnLayer<double>(new() { InputSize = 10, HiddenSize = 1000, NumLayers = 2, Bias = false, Dropout = p,
            Nonlinearity = Nonlinearity.Relu }, random ?? new Random(1)) { Training = training };
        layer.LoadStateDict(layer.StateDict().ToDictionary(kv => kv.Key, kv =>
        {
            var ones = new double[kv.Value.FlattenedLength];
            Array.Fill(ones, 1.0);
            return Tensor.Create(ones, kv.Value.Lengths);
        }));
        return layer;
    }

    private static readonly Tensor<double> Ones = Tensor.Create(Enumerable.Repeat(1.0, 10).ToArray(), [1, 1, 10]);

    [Theory]
    [InlineData(0.0, true)]
    [InlineData(0.5, false)]
    [InlineData(1.0, false)]
    public void WithoutActiveDropoutEveryOutputIsTenThousand(double p, bool training)
    {
        var (output, hn) = AllOnes(p, training).Forward(Ones);
        output.ToDoubles().Should().OnlyContain(v => v == 10000);
        hn.ToDoubles().Take(1000).Should().OnlyContain(v => v == 10);
    }

    [Fact]
    public void DropoutOfOneZeroesTheNextLayersInputButNotHn()
    {
        var (output, hn) = AllOnes(1.0, training: true).Forward(Ones);
        output.ToDoubles().Should().OnlyContain(v => v == 0);
        double[] h = hn.ToDoubles();
        h.Take(1000).Should().OnlyContain(v => v == 10, "h_n is stored before dropout");
        h.Skip(1000).Should().Equal(output.ToDoubles());
    }

    [Fact]
    public void SurvivorsAreScaledByOneOverOneMinusP()
    {
        const double p = 0.276;
        var (output, hn) = AllOnes(p, training: true).Forward(Ones);
        double[] o = output.ToDoubles();
        o.Distinct().Should().ContainSingle();
        double v = o[0];
        v.Should().BeInRange(8000, 12000);
        double multiples = v * (1 - p) / 10;
        multiples.Should().BeApproximately(Math.Round(multiples), 1e-6);
        hn.ToDoubles().Take(1000).Should().OnlyContain(x => x == 10);
    }

    [Fact]
    public void TrainingWithDropoutDrawsAFreshMaskEveryCall()
    {
        // Case 38: eval is deterministic; training with NL=2, p=0.5 differs between calls; NL=1 never drops.
        var random = new Random(38);
        var x = RnnTestKit.Input<float>(TestTensors.Random(random, 4 * 3 * 5), 4, 3, 5);
        var two = new RnnLayer<float>(new() { InputSize = 5, HiddenSize = 8, NumLayers = 2, Dropout = 0.5 }, random);
        two.Forward(x).Output.ToDoubles().Should().NotEqual(two.Forward(x).Output.ToDoubles());
        two.Forward(x).Hn.ToDoubles().Should().NotEqual(two.Forward(x).Hn.ToDoubles());
        two.Training = false;
        two.Forward(x).Output.ToDoubles().Should().Equal(two.Forward(x).Output.ToDoubles());
        var one = new RnnLayer<float>(new() { InputSize = 5, HiddenSize = 8, NumLayers = 1, Dropout = 0.5 }, random);
        one.Forward(x).Output.ToDoubles().Should().Equal(one.Forward(x).Output.ToDoubles());
    }

    [Theory]
    [InlineData(0.0, true)]
    [InlineData(1.0, true)]
    [InlineData(0.5, false)]
    [InlineData(0.7, false)]
    [InlineData(0.2, false)]
    public void RepeatCallsAgreeOnlyWhenPIsZeroOrOne(double p, bool equal)
    {
        // Case 39 (PyTorch mutates rnn.dropout; options are immutable here, so each p gets its own layer).
        var random = new Random(39);
        var layer = new RnnLayer<float>(new() { InputSize = 5, HiddenSize = 8, NumLayers = 2, Dropout = p }, random);
        var x = RnnTestKit.Input<float>(TestTensors.Random(random, 4 * 3 * 5), 4, 3, 5);
        double[] first = layer.Forward(x).Output.ToDoubles(), second = layer.Forward(x).Output.ToDoubles();
        if (equal) second.Should().Equal(first);
        else second.Should().NotEqual(first);
    }

    [Fact]
    public void SameSeedReproducesTrainingRuns()
    {
        double[] Run() => AllOnes(0.5, training: true, new Random(123)).Forward(Ones).Output.ToDoubles();
        Run().Should().Equal(Run());
    }

    [Fact]
    public void ConcurrentTrainingCallsEachDrawAWholeMaskFromTheSeededRandom()
    {
        // Each call's mask is one contiguous block of 1000 draws taken under the layer's lock, so 160 calls spread over
        // 8 threads produce exactly the outputs of 160 sequential calls on an identically seeded layer, in some order.
        // Oracle: the sequential run. (An unsynchronised System.Random corrupts its state and then returns zeros.)
        const int calls = 160;
        var sequential = AllOnes(0.5, training: true, new Random(77));
        double[] expected = Enumerable.Range(0, calls).Select(_ => sequential.Forward(Ones).Output.ToDoubles()[0]).Order().ToArray();
        var concurrent = AllOnes(0.5, training: true, new Random(77));
        var actual = new double[calls];
        Parallel.For(0, calls, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => actual[i] = concurrent.Forward(Ones).Output.ToDoubles()[0]);
        actual.Order().Should().Equal(expected);
    }
}
