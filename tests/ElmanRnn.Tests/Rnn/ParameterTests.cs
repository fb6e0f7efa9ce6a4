using System.Numerics.Tensors;

namespace ElmanRnn.Tests.Rnn;

/// <summary>Spec §2 and cases 12–15, 62, 65: names, shapes, order, initialisation, loading.</summary>
public class ParameterTests
{
    [Fact]
    public void StateDictHasTorchNamesShapesAndOrder()
    {
        var dict = new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 20, NumLayers = 2, Bidirectional = true }).StateDict();
        dict.Select(kv => $"{kv.Key} {DescribeShape(kv.Value)}").Should().Equal(
            "weight_ih_l0 [20, 10]", "weight_hh_l0 [20, 20]", "bias_ih_l0 [20]", "bias_hh_l0 [20]",
            "weight_ih_l0_reverse [20, 10]", "weight_hh_l0_reverse [20, 20]", "bias_ih_l0_reverse [20]", "bias_hh_l0_reverse [20]",
            "weight_ih_l1 [20, 40]", "weight_hh_l1 [20, 20]", "bias_ih_l1 [20]", "bias_hh_l1 [20]",
            "weight_ih_l1_reverse [20, 40]", "weight_hh_l1_reverse [20, 20]", "bias_ih_l1_reverse [20]", "bias_hh_l1_reverse [20]");
        dict.Values.Sum(t => t.FlattenedLength).Should().Be(3760);
    }

    [Fact]
    public void WithoutBiasNoBiasParametersExist()
    {
        new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 20, Bidirectional = true, Bias = false }).StateDict().Keys
            .Should().Equal("weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse");
    }

    [Fact]
    public void EveryParameterIsDrawnFromTheUniformBound()
    {
        // Oracle: U(-k, k), k = 1/sqrt(400) = 0.05; mean 0 and variance k²/3 within 5 standard errors.
        var layer = new RnnLayer<double>(new() { InputSize = 5, HiddenSize = 400 }, new Random(1));
        double[] all = layer.StateDict().Values.SelectMany(t => t.ToDoubles()).ToArray();
        all.Should().OnlyContain(v => v >= -0.05 && v <= 0.05);
        double mean = all.Average(), variance = all.Select(v => (v - mean) * (v - mean)).Average();
        double expectedVariance = 0.05 * 0.05 / 3;
        mean.Should().BeApproximately(0, 5 * Math.Sqrt(expectedVariance / all.Length));
        variance.Should().BeApproximately(expectedVariance, expectedVariance * 0.02);
        foreach (var (name, tensor) in layer.StateDict())
            tensor.ToDoubles().Distinct().Count().Should().BeGreaterThan(1, name + " must be drawn, not constant");
    }

    [Fact]
    public void SameSeedGivesSameParametersAndResetRedraws()
    {
        var options = new RnnOptions { InputSize = 3, HiddenSize = 4, NumLayers = 2 };
        var a = new RnnLayer<float>(options, new Random(42));
        var b = new RnnLayer<float>(options, new Random(42));
        Flat(a).Should().Equal(Flat(b));
        double[] before = Flat(a);
        a.ResetParameters();
        Flat(a).Should().NotEqual(before);
        Flat(a).Should().OnlyContain(v => Math.Abs(v) <= 0.5);
    }

    [Fact]
    public void LoadedValuesAreUsedByTheNextForward()
    {
        // Spec case 62: with W_hh = 0 and b_hh = 0 there is no recurrence: output_t = tanh(x_t·W_ihᵀ + b_ih).
        var random = new Random(5);
        var layer = new RnnLayer<double>(new() { InputSize = 3, HiddenSize = 4 }, random) { Training = false };
        layer.LoadStateDict(new Dictionary<string, Tensor<double>>
        {
            ["weight_hh_l0"] = Tensor.Create(new double[16], [4, 4]),
            ["bias_hh_l0"] = Tensor.Create(new double[4], [4]),
        }, strict: false);
        var dict = layer.StateDict();
        double[] wih = dict["weight_ih_l0"].ToDoubles(), bih = dict["bias_ih_l0"].ToDoubles();
        double[] x = TestTensors.Random(random, 5 * 3);
        double[] output = layer.Forward(RnnTestKit.Input<double>(x, 5, 3)).Output.ToDoubles();
        for (int t = 0; t < 5; t++)
            for (int j = 0; j < 4; j++)
            {
                double pre = bih[j];
                for (int k = 0; k < 3; k++) pre += x[t * 3 + k] * wih[j * 3 + k];
                output[t * 4 + j].Should().BeApproximately(Math.Tanh(pre), 1e-15);
            }
    }

    [Fact]
    public void StrictLoadReportsEveryProblemAtOnceAndChangesNothing()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 20 }, new Random(1));
        double[] before = Flat(layer);
        var bad = layer.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        bad.Remove("bias_hh_l0");
        bad.Remove("bias_ih_l0");
        bad["weight_ih_l0"] = Tensor.Create(new float[12], [3, 4]);
        bad["foo"] = Tensor.Create(new float[1], [1]);
        Action load = () => layer.LoadStateDict(bad);
        load.Should().Throw<ArgumentException>()
            .WithMessage("*Missing key(s) in state_dict: \"bias_ih_l0\", \"bias_hh_l0\"*")
            .WithMessage("*Unexpected key(s) in state_dict: \"foo\"*")
            .WithMessage("*size mismatch for weight_ih_l0: copying a param with shape [3, 4] from checkpoint, the shape in current model is [20, 10]*");
        Flat(layer).Should().Equal(before);
    }

    [Fact]
    public void NonStrictLoadIgnoresMissingAndUnexpectedButNotShapes()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 2, HiddenSize = 3 });
        layer.LoadStateDict(new Dictionary<string, Tensor<float>> { ["foo"] = Tensor.Create(new float[1], [1]) }, strict: false);
        Action load = () => layer.LoadStateDict(
            new Dictionary<string, Tensor<float>> { ["bias_ih_l0"] = Tensor.Create(new float[2], [2]) }, strict: false);
        load.Should().Throw<ArgumentException>().WithMessage("*size mismatch for bias_ih_l0*");
    }

    [Fact]
    public void LoadAcceptsStridedTensors()
    {
        // A (3, 2) view with strides (1, 3) over [0..5] is the transpose of [[0,1,2],[3,4,5]]: rows [0,3],[1,4],[2,5].
        var layer = new RnnLayer<float>(new() { InputSize = 2, HiddenSize = 3 });
        var strided = Tensor.Create(new float[] { 0, 1, 2, 3, 4, 5 }, [3, 2], [1, 3]);
        layer.LoadStateDict(new Dictionary<string, Tensor<float>> { ["weight_ih_l0"] = strided }, strict: false);
        layer.StateDict()["weight_ih_l0"].ToDoubles().Should().Equal(0, 3, 1, 4, 2, 5);
    }

    [Fact]
    public void StateDictIsASnapshot()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 2, HiddenSize = 3 });
        var dict = layer.StateDict();
        double first = dict["weight_ih_l0"].ToDoubles()[0];
        dict["weight_ih_l0"].Fill(99f);
        layer.StateDict()["weight_ih_l0"].ToDoubles()[0].Should().Be(first);
    }

    private static string DescribeShape(Tensor<float> t) => "[" + string.Join(", ", t.Lengths.ToArray()) + "]";

    private static double[] Flat<T>(RnnLayer<T> layer) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> =>
        layer.StateDict().Values.SelectMany(t => t.ToDoubles()).ToArray();
}
