using System.Numerics;

namespace ElmanRnn.Tests.Rnn;

/// <summary>
/// Spec case 33 and the random sweep: RnnLayer against the independent MathNet reference
/// (<see cref="Reference.NaiveRnn"/>) on random configurations covering every option and input form.
/// Tolerance: max error relative to max(1, max |expected|) ≤ 1e-12 for float64, ≤ 1e-5 for float32.
/// </summary>
public class ReferenceComparisonTests
{
    public static IEnumerable<object[]> Seeds() => Enumerable.Range(0, 220).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(Seeds))]
    public void DoubleMatchesNaiveReference(int seed) => Compare<double>(seed, 1e-12);

    [Theory]
    [MemberData(nameof(Seeds))]
    public void FloatMatchesNaiveReference(int seed) => Compare<float>(seed + 10_000, 1e-5);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ThreeLayerBidirectionalMatchesReferenceLoop(bool relu)
    {
        // Spec case 33: float64, NL=3, D=2, N=4, L=7, both φ.
        var random = new Random(33);
        var layer = new RnnLayer<double>(new() { InputSize = 5, HiddenSize = 6, NumLayers = 3, Bidirectional = true,
            Nonlinearity = relu ? Nonlinearity.Relu : Nonlinearity.Tanh }, random) { Training = false };
        double[] x = TestTensors.Random(random, 7 * 4 * 5), h0 = TestTensors.Random(random, 6 * 4 * 6);
        var (output, hn) = layer.Forward(RnnTestKit.Input<double>(x, 7, 4, 5), RnnTestKit.Input<double>(h0, 6, 4, 6));
        var expected = RnnTestKit.Reference(layer, x, 7, 4, h0);
        TestTensors.RelativeError(output.ToDoubles(), expected.Output).Should().BeLessThanOrEqualTo(1e-12);
        TestTensors.RelativeError(hn.ToDoubles(), expected.Hn).Should().BeLessThanOrEqualTo(1e-12);
    }

    private static void Compare<T>(int seed, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(seed);
        // Sizes straddle the kernels' edges: 8-row blocks, 2-vector panels (32 floats / 16 doubles on AVX-512).
        int inputSize = random.Next(1, 40), hidden = random.Next(1, 40);
        int layers = random.Next(1, 4), directions = random.Next(1, 3), steps = random.Next(1, 8);
        int form = random.Next(3);                                   // 0 unbatched, 1 time-major, 2 batch-first
        int batch = form == 0 ? 1 : random.Next(0, 11);
        bool withH0 = random.Next(2) == 0;
        var options = new RnnOptions
        {
            InputSize = inputSize, HiddenSize = hidden, NumLayers = layers, Bidirectional = directions == 2,
            Nonlinearity = random.Next(2) == 0 ? Nonlinearity.Tanh : Nonlinearity.Relu,
            Bias = random.Next(4) != 0, BatchFirst = form == 2,
            Dropout = random.Next(3) == 0 ? 0.5 : 0,   // must be inert in eval mode
        };
        var layer = new RnnLayer<T>(options, random) { Training = false };

        double[] x = TestTensors.Random(random, steps * batch * inputSize, 2.0);            // (L, N, I)
        double[] h0 = TestTensors.Random(random, layers * directions * batch * hidden);      // (NL·D, N, H)
        var (output, hn) = form switch
        {
            0 => layer.Forward(RnnTestKit.Input<T>(x, steps, inputSize), withH0 ? RnnTestKit.Input<T>(h0, layers * directions, hidden) : null),
            1 => layer.Forward(RnnTestKit.Input<T>(x, steps, batch, inputSize), withH0 ? RnnTestKit.Input<T>(h0, layers * directions, batch, hidden) : null),
            _ => layer.Forward(RnnTestKit.Input<T>(RnnTestKit.SwapFirstTwo(x, steps, batch, inputSize), batch, steps, inputSize),
                withH0 ? RnnTestKit.Input<T>(h0, layers * directions, batch, hidden) : null),
        };
        var expected = RnnTestKit.Reference(layer, x, steps, batch, withH0 ? h0 : null);

        double[] actual = output.ToDoubles();
        if (form == 2)
            actual = RnnTestKit.SwapFirstTwo(actual, batch, steps, directions * hidden);
        string config = $"{options} relu={options.Nonlinearity == Nonlinearity.Relu} L={steps} N={batch} form={form} h0={withH0}";
        TestTensors.RelativeError(actual, expected.Output).Should().BeLessThanOrEqualTo(tolerance, config);
        TestTensors.RelativeError(hn.ToDoubles(), expected.Hn).Should().BeLessThanOrEqualTo(tolerance, config);
    }
}
