using System.Numerics.Tensors;

namespace ElmanRnn.Tests.Gradients;

/// <summary>
/// Backward in training mode reuses the forward's dropout masks. Oracle: central finite differences (ε = 1e-6,
/// tolerance 1e-7·max(1, |grad|)) where every evaluation builds a fresh layer from the same seed, so its first forward
/// draws the same initial weights and the same masks as the taped forward.
/// </summary>
public class DropoutGradientTests
{
    private const double Epsilon = 1e-6;

    private static RnnLayer<double> Make(double p, bool bi) => new(new RnnOptions
    {
        InputSize = 3, HiddenSize = 4, NumLayers = 3, Dropout = p, Bidirectional = bi,
    }, new Random(1234)) { Training = true };

    [Theory]
    [InlineData(0.5, false)]
    [InlineData(0.3, true)]
    [InlineData(1.0, false)]
    public void Backward_through_dropout_matches_finite_differences(double p, bool bi)
    {
        var random = new Random(5);
        var x = TestTensors.Random(random, 4 * 2 * 3);
        var input = Tensor.Create(x, [4, 2, 3]);
        var layer = Make(p, bi);
        var tape = new RnnTape<double>();
        var (output, hn) = layer.Forward(input, null, tape);
        var gO = TestTensors.Random(random, (int)output.FlattenedLength);
        var gH = TestTensors.Random(random, (int)hn.FlattenedLength);
        var grads = layer.Backward(tape, Tensor.Create(gO, output.Lengths.ToArray()), Tensor.Create(gH, hn.Lengths.ToArray()));

        // The taped forward is the untaped one: same masks from the same draws.
        var (plain, plainHn) = Make(p, bi).Forward(input);
        plain.ToDoubles().Should().Equal(output.ToDoubles());
        plainHn.ToDoubles().Should().Equal(hn.ToDoubles());

        double Loss(double[] values, int parameter, int index, double delta)
        {
            var fresh = Make(p, bi);
            if (parameter >= 0)
                Flat(fresh.Parameters()[parameter].Value)[index] += delta;
            var (o, h) = fresh.Forward(Tensor.Create(values, [4, 2, 3]));
            return o.ToDoubles().Zip(gO).Sum(z => z.First * z.Second) + h.ToDoubles().Zip(gH).Sum(z => z.First * z.Second);
        }
        var numeric = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            var plus = (double[])x.Clone(); plus[i] += Epsilon;
            var minus = (double[])x.Clone(); minus[i] -= Epsilon;
            numeric[i] = (Loss(plus, -1, 0, 0) - Loss(minus, -1, 0, 0)) / (2 * Epsilon);
        }
        TestTensors.RelativeError(grads.Input.ToDoubles(), numeric).Should().BeLessThan(1e-7);
        var parameters = layer.Parameters();
        for (int q = 0; q < parameters.Count; q++)
        {
            var analytic = parameters[q].Grad.ToDoubles();
            var fd = new double[analytic.Length];
            for (int i = 0; i < fd.Length; i++)
                fd[i] = (Loss(x, q, i, Epsilon) - Loss(x, q, i, -Epsilon)) / (2 * Epsilon);
            TestTensors.RelativeError(analytic, fd).Should().BeLessThan(1e-7, parameters[q].Name);
        }
    }

    private static Span<double> Flat(Tensor<double> t) =>
        System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref t.GetPinnableReference(), (int)t.FlattenedLength);
}
