using System.Numerics.Tensors;
using ElmanRnn.Layout;

namespace ElmanRnn.Tests.Gradients;

/// <summary>
/// Backward against central finite differences of our own float64 forward (itself checked against libtorch), for
/// loss = Σ output·gO + Σ h_n·gH. Oracle: (L(θ+ε) - L(θ-ε)) / 2ε with ε = 1e-6, whose truncation (~ε²) and rounding
/// (~1e-16/ε) errors are far below the tolerance 1e-7·max(1, |grad|) used here. Each element of the input, h0 and
/// every parameter is perturbed (parameters through their live <see cref="Parameter{T}.Value"/>, which also pins that
/// writes there reach the next forward).
/// </summary>
public class FiniteDifferenceTests
{
    private const double Epsilon = 1e-6, Tolerance = 1e-7;

    public enum Form { TimeMajor, BatchFirst, Unbatched, Packed, Lengths }

    public static TheoryData<Nonlinearity, bool, int, bool, Form, bool> Cases()
    {
        var data = new TheoryData<Nonlinearity, bool, int, bool, Form, bool>();
        foreach (var act in new[] { Nonlinearity.Tanh, Nonlinearity.Relu })
            foreach (bool bias in new[] { true, false })
                foreach (int layers in new[] { 1, 2, 3 })
                    foreach (bool bi in new[] { false, true })
                        foreach (Form form in Enum.GetValues<Form>())
                            foreach (bool h0 in new[] { true, false })
                                if ((layers + (bias ? 1 : 0) + (int)form + (h0 ? 1 : 0)) % 2 == 0 || layers == 1)
                                    data.Add(act, bias, layers, bi, form, h0);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_matches_finite_differences(Nonlinearity act, bool bias, int layers, bool bi, Form form, bool withH0)
    {
        var random = new Random(HashCode.Combine(act, bias, layers, bi, form, withH0) & 0x7fffffff);
        const int inputSize = 3, hidden = 4, steps = 4, batch = 3;
        var layer = new RnnLayer<double>(new RnnOptions
        {
            InputSize = inputSize, HiddenSize = hidden, NumLayers = layers, Nonlinearity = act, Bias = bias,
            Bidirectional = bi, BatchFirst = form == Form.BatchFirst,
        }, new Random(7)) { Training = false };
        int d = bi ? 2 : 1, n = form == Form.Unbatched ? 1 : batch;
        nint[] inputShape = form switch
        {
            Form.Unbatched => [steps, inputSize],
            Form.BatchFirst => [batch, steps, inputSize],
            Form.Packed => [9, inputSize],   // lengths 4, 3, 2 in sorted order: batch sizes 3, 3, 2, 1
            _ => [steps, batch, inputSize],
        };
        int[] lengths = [3, 4, 2];
        var input = Tensor.Create(TestTensors.Random(random, (int)inputShape.Aggregate((a, b) => a * b)), inputShape);
        nint[] h0Shape = form == Form.Unbatched ? [layers * d, hidden] : [layers * d, n, hidden];
        Tensor<double>? h0 = withH0 ? Tensor.Create(TestTensors.Random(random, layers * d * n * hidden), h0Shape) : null;
        PackedSequence<double> Packed(Tensor<double> data) =>
            new(data, [3, 3, 2, 1], sortedIndices: [1, 0, 2], unsortedIndices: [1, 0, 2]);

        (Tensor<double> Output, Tensor<double> Hn) Run(RnnTape<double>? tape) => form switch
        {
            Form.Packed => tape is null ? Unpack(layer.Forward(Packed(input), h0)) : Unpack(layer.Forward(Packed(input), h0, tape)),
            Form.Lengths => tape is null ? Tuple(layer.Forward(input, lengths, h0)) : Tuple(layer.Forward(input, lengths, h0, tape)),
            _ => tape is null ? Tuple(layer.Forward(input, h0)) : Tuple(layer.Forward(input, h0, tape)),
        };
        var tape = new RnnTape<double>();
        var (output, hn) = Run(tape);
        var gradOutput = Tensor.Create(TestTensors.Random(random, (int)output.FlattenedLength), output.Lengths.ToArray());
        var gradHn = Tensor.Create(TestTensors.Random(random, (int)hn.FlattenedLength), hn.Lengths.ToArray());
        layer.ZeroGrad();
        var grads = layer.Backward(tape, gradOutput, gradHn);
        var parameterGrads = layer.Parameters().Select(p => p.Grad.ToDoubles()).ToArray();

        double Loss()
        {
            var (o, h) = Run(null);
            double sum = 0;
            var (of, gf, hf, ghf) = (o.ToDoubles(), gradOutput.ToDoubles(), h.ToDoubles(), gradHn.ToDoubles());
            for (int i = 0; i < of.Length; i++) sum += of[i] * gf[i];
            for (int i = 0; i < hf.Length; i++) sum += hf[i] * ghf[i];
            return sum;
        }
        void Check(string what, Tensor<double> value, double[] analytic)
        {
            var numeric = new double[analytic.Length];
            for (int i = 0; i < numeric.Length; i++)
            {
                double saved = Get(value, i);
                Set(value, i, saved + Epsilon);
                double plus = Loss();
                Set(value, i, saved - Epsilon);
                double minus = Loss();
                Set(value, i, saved);
                numeric[i] = (plus - minus) / (2 * Epsilon);
            }
            TestTensors.RelativeError(analytic, numeric).Should().BeLessThan(Tolerance, what);
        }

        Check("input", input, grads.Input.ToDoubles());
        grads.Input.Lengths.ToArray().Should().Equal(inputShape);
        if (withH0)
            Check("h0", h0!, grads.H0!.ToDoubles());
        else
            grads.H0.Should().BeNull();
        var parameters = layer.Parameters();
        for (int i = 0; i < parameters.Count; i++)
            Check(parameters[i].Name, parameters[i].Value, parameterGrads[i]);
        if (form == Form.Lengths)
        {
            // spec case 61: the padded input's gradient is exactly zero past each length
            double[] g = grads.Input.ToDoubles();
            for (int t = 0; t < steps; t++)
                for (int j = 0; j < batch; j++)
                    if (t >= lengths[j])
                        g.AsSpan((t * batch + j) * inputSize, inputSize).ToArray().Should().OnlyContain(v => v == 0);
        }
    }

    // The test's own tensors are dense (Tensor.Create over one array): element i of the flat memory.
    private static Span<double> Flat(Tensor<double> t) =>
        System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref t.GetPinnableReference(), (int)t.FlattenedLength);

    private static double Get(Tensor<double> t, int i) => Flat(t)[i];

    private static void Set(Tensor<double> t, int i, double v) => Flat(t)[i] = v;

    private static (Tensor<double>, Tensor<double>) Tuple(RnnResult<double> r) => (r.Output, r.Hn);

    private static (Tensor<double>, Tensor<double>) Unpack(PackedRnnResult<double> r) => (r.Output.Data, r.Hn);
}
