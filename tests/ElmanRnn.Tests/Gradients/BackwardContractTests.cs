using System.Numerics.Tensors;

namespace ElmanRnn.Tests.Gradients;

/// <summary>Backward's contract beyond the numbers: accumulation, errors, batch 0, float32, thread counts, spec 62.</summary>
public class BackwardContractTests
{
    private static RnnLayer<T> Layer<T>(bool bi = false, int layers = 2) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> =>
        new(new RnnOptions { InputSize = 3, HiddenSize = 5, NumLayers = layers, Bidirectional = bi }, new Random(3)) { Training = false };

    [Fact]
    public void Gradients_accumulate_until_ZeroGrad()
    {
        // Oracle: linearity — two identical backward passes give exactly twice one (x + x is exact in binary).
        var layer = Layer<double>();
        var input = Tensor.Create(TestTensors.Random(new Random(1), 4 * 2 * 3), [4, 2, 3]);
        var tape = new RnnTape<double>();
        var (output, _) = layer.Forward(input, null, tape);
        var g = Tensor.Create(TestTensors.Random(new Random(2), (int)output.FlattenedLength), output.Lengths.ToArray());
        layer.Backward(tape, g, null);
        var once = layer.Parameters().Select(p => p.Grad.ToDoubles()).ToArray();
        layer.Backward(tape, g, null);
        for (int i = 0; i < once.Length; i++)
            layer.Parameters()[i].Grad.ToDoubles().Should().Equal(once[i].Select(v => 2 * v));
        layer.ZeroGrad();
        layer.Parameters().Should().OnlyContain(p => p.Grad.ToDoubles().All(v => v == 0));
        layer.Parameters().Should().BeSameAs(layer.Parameters());
    }

    [Fact]
    public void Null_upstream_gradients_give_zero_gradients()
    {
        var layer = Layer<float>();
        var input = Tensor.Create(new float[4 * 2 * 3], [4, 2, 3]);
        var tape = new RnnTape<float>();
        layer.Forward(input, Tensor.Create(new float[2 * 2 * 5], [2, 2, 5]), tape);
        var g = layer.Backward(tape, null, null);
        g.Input.ToDoubles().Should().OnlyContain(v => v == 0);
        g.H0!.ToDoubles().Should().OnlyContain(v => v == 0);
        layer.Parameters().Should().OnlyContain(p => p.Grad.ToDoubles().All(v => v == 0));
    }

    [Fact]
    public void Batch_zero_runs_and_gives_empty_gradients()
    {
        // spec §8: batch-0 input, backward runs without error
        var layer = Layer<double>(bi: true);
        var tape = new RnnTape<double>();
        var (output, hn) = layer.Forward(Tensor.Create(Array.Empty<double>(), [3, 0, 3]), null, tape);
        var g = layer.Backward(tape, Tensor.Create(Array.Empty<double>(), output.Lengths.ToArray()), null);
        g.Input.Lengths.ToArray().Should().Equal(3, 0, 3);
        layer.Parameters().Should().OnlyContain(p => p.Grad.ToDoubles().All(v => v == 0));
    }

    [Fact]
    public void Wrong_tapes_and_shapes_are_refused_with_clear_messages()
    {
        var layer = Layer<double>();
        var other = Layer<double>();
        var tape = new RnnTape<double>();
        layer.Invoking(l => l.Backward(tape, null, null)).Should().Throw<ArgumentException>().WithMessage("*holds no forward*");
        var input = Tensor.Create(new double[4 * 2 * 3], [4, 2, 3]);
        layer.Forward(input, null, tape);
        other.Invoking(l => l.Backward(tape, null, null)).Should().Throw<ArgumentException>().WithMessage("*another RnnLayer*");
        layer.Invoking(l => l.Backward(tape, Tensor.Create(new double[4 * 2 * 4], [4, 2, 4]), null))
            .Should().Throw<ArgumentException>().WithMessage("*gradOutput must be shaped like*[4, 2, 5]*got [4, 2, 4]*");
        layer.Invoking(l => l.Backward(tape, null, Tensor.Create(new double[2 * 5], [2, 5])))
            .Should().Throw<ArgumentException>().WithMessage("*gradHn*[2, 2, 5]*got [2, 5]*");
        // A parameter changed between forward and backward: PyTorch's in-place modification error
        Flat(layer.Parameters()[0].Value)[0] += 1;
        layer.Invoking(l => l.Backward(tape, null, null)).Should().Throw<InvalidOperationException>().WithMessage("*modified*");
    }

    [Fact]
    public void Writes_to_parameter_values_reach_the_next_forward()
    {
        // spec case 62: zeroing W_hh and b_hh removes the recurrence: output_t = tanh(x_t·W_ihᵀ + b_ih) (hand oracle)
        var layer = Layer<double>(layers: 1);
        var p = layer.Parameters();
        p.Single(q => q.Name == "weight_hh_l0").Value.Fill(0);
        p.Single(q => q.Name == "bias_hh_l0").Value.Fill(0);
        var x = TestTensors.Random(new Random(4), 2 * 3);
        var (output, _) = layer.Forward(Tensor.Create(x, [2, 3]));
        var w = p.Single(q => q.Name == "weight_ih_l0").Value.ToDoubles();
        var b = p.Single(q => q.Name == "bias_ih_l0").Value.ToDoubles();
        var got = output.ToDoubles();
        for (int t = 0; t < 2; t++)
            for (int j = 0; j < 5; j++)
                got[t * 5 + j].Should().BeApproximately(Math.Tanh(b[j] + Enumerable.Range(0, 3).Sum(k => x[t * 3 + k] * w[j * 3 + k])), 1e-14);
    }

    [Theory]
    [InlineData(true)]    // 2 threads run the two directions concurrently
    [InlineData(false)]   // 2 threads split W_hh's panels, meeting after every step
    public void Gradients_are_bitwise_the_same_for_any_thread_count_and_alone_or_in_a_batch(bool bidirectional)
    {
        // Oracle: the same computation at 1 thread and alone; d/dinput rows never mix sequences.
        var opts = new RnnOptions { InputSize = 64, HiddenSize = 128, NumLayers = 2, Bidirectional = bidirectional };
        int width = bidirectional ? 256 : 128;
        var random = new Random(8);
        var x = Tensor.Create(TestTensors.Random(random, 50 * 4 * 64).Select(v => (float)v).ToArray(), [50, 4, 64]);
        var gO = TestTensors.Random(random, 50 * 4 * width).Select(v => (float)v).ToArray();
        float[] Run(int threads, out float[][] parameterGrads)
        {
            var layer = new RnnLayer<float>(opts, new Random(9)) { Training = false, MaxDegreeOfParallelism = threads };
            var tape = new RnnTape<float>();
            layer.Forward(x, null, tape);
            var g = layer.Backward(tape, Tensor.Create(gO, [50, 4, width]), null);
            parameterGrads = layer.Parameters().Select(p => p.Grad.ToDoubles().Select(v => (float)v).ToArray()).ToArray();
            return g.Input.ToDoubles().Select(v => (float)v).ToArray();
        }
        var one = Run(1, out var p1);
        var two = Run(2, out var p2);
        two.Should().Equal(one);
        for (int i = 0; i < p1.Length; i++) p2[i].Should().Equal(p1[i]);

        // sequence 1 alone: its gradOutput column, every other sequence absent
        var alone = new RnnLayer<float>(opts, new Random(9)) { Training = false };
        var xs = new float[50 * 64];
        var gs = new float[50 * width];
        var xf = x.ToDoubles();
        for (int t = 0; t < 50; t++)
        {
            for (int k = 0; k < 64; k++) xs[t * 64 + k] = (float)xf[(t * 4 + 1) * 64 + k];
            for (int k = 0; k < width; k++) gs[t * width + k] = gO[(t * 4 + 1) * width + k];
        }
        var tapeAlone = new RnnTape<float>();
        alone.Forward(Tensor.Create(xs, [50, 1, 64]), null, tapeAlone);
        var ga = alone.Backward(tapeAlone, Tensor.Create(gs, [50, 1, width]), null).Input.ToDoubles().Select(v => (float)v).ToArray();
        for (int t = 0; t < 50; t++)
            ga.AsSpan(t * 64, 64).ToArray().Should().Equal(one.AsSpan((t * 4 + 1) * 64, 64).ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Packed_gradients_with_h0_are_bitwise_the_same_for_any_thread_count(bool bidirectional)
    {
        // Oracle: the same computation at 1 thread. Lengths 40, 33, 40, 7, 21, 40 put sequences' ends (h_n) and the
        // reverse direction's starts (h0) inside the scan, where 2 threads split the steps' columns.
        var opts = new RnnOptions { InputSize = 48, HiddenSize = 160, NumLayers = 2, Bidirectional = bidirectional };
        int d = bidirectional ? 2 : 1, n = 6, steps = 40;
        int[] lengths = [40, 33, 40, 7, 21, 40];
        var random = new Random(81);
        var x = Tensor.Create(TestTensors.Random(random, steps * n * 48).Select(v => (float)v).ToArray(), [steps, n, 48]);
        var h0 = Tensor.Create(TestTensors.Random(random, 2 * d * n * 160).Select(v => (float)v).ToArray(), [2 * d, n, 160]);
        var gO = Tensor.Create(TestTensors.Random(random, steps * n * d * 160).Select(v => (float)v).ToArray(), [steps, n, d * 160]);
        var gHn = Tensor.Create(TestTensors.Random(random, 2 * d * n * 160).Select(v => (float)v).ToArray(), [2 * d, n, 160]);
        (double[] Input, double[] H0, double[][] Parameters) Run(int threads)
        {
            var layer = new RnnLayer<float>(opts, new Random(82)) { Training = false, MaxDegreeOfParallelism = threads };
            var tape = new RnnTape<float>();
            layer.Forward(x, lengths, h0, tape);
            var g = layer.Backward(tape, gO, gHn);
            return (g.Input.ToDoubles(), g.H0!.ToDoubles(), layer.Parameters().Select(p => p.Grad.ToDoubles()).ToArray());
        }
        // d/dh0 not asked for: the products into it are skipped, by whichever thread computes the step.
        (double[] Input, double[][] Parameters) RunWithoutH0Gradient(int threads)
        {
            var layer = new RnnLayer<float>(opts, new Random(82)) { Training = false, MaxDegreeOfParallelism = threads };
            var tape = new RnnTape<float>();
            layer.Forward(x, lengths, h0, tape);
            var gradInput = Tensor.Create(new float[steps * n * 48], [steps, n, 48]);
            layer.Backward(tape, gO, gHn, gradInput, null);
            return (gradInput.ToDoubles(), layer.Parameters().Select(p => p.Grad.ToDoubles()).ToArray());
        }
        var one = Run(1);
        var two = Run(2);
        two.Input.Should().Equal(one.Input);
        two.H0.Should().Equal(one.H0);
        for (int i = 0; i < one.Parameters.Length; i++) two.Parameters[i].Should().Equal(one.Parameters[i]);
        foreach (int threads in new[] { 1, 2 })
        {
            var skipped = RunWithoutH0Gradient(threads);
            skipped.Input.Should().Equal(one.Input);
            for (int i = 0; i < one.Parameters.Length; i++) skipped.Parameters[i].Should().Equal(one.Parameters[i]);
        }
    }

    [Fact]
    public void A_late_partner_has_its_backward_steps_taken_back_without_changing_a_bit()
    {
        // Oracle: the same computation at 1 thread. The partner sleeps 3 ms before every 7th step, as if its vCPU were
        // taken away; the calling thread takes those steps back (ragged lengths and h0: rows ending and starting
        // inside the scan, dh0 and dh_n written by whoever computes the step).
        var opts = new RnnOptions { InputSize = 32, HiddenSize = 256, NumLayers = 2 };
        int n = 16, steps = 40;
        int[] lengths = Enumerable.Range(0, n).Select(i => steps - (i * 5) % steps).ToArray();
        var random = new Random(91);
        var x = Tensor.Create(TestTensors.Random(random, steps * n * 32).Select(v => (float)v).ToArray(), [steps, n, 32]);
        var h0 = Tensor.Create(TestTensors.Random(random, 2 * n * 256).Select(v => (float)v).ToArray(), [2, n, 256]);
        var gO = Tensor.Create(TestTensors.Random(random, steps * n * 256).Select(v => (float)v).ToArray(), [steps, n, 256]);
        var gHn = Tensor.Create(TestTensors.Random(random, 2 * n * 256).Select(v => (float)v).ToArray(), [2, n, 256]);
        var layer = new RnnLayer<float>(opts, new Random(92)) { Training = false, MaxDegreeOfParallelism = 1 };
        (double[] Input, double[] H0, double[][] Parameters) Run()
        {
            layer.ZeroGrad();
            var tape = new RnnTape<float>();
            layer.Forward(x, lengths, h0, tape);
            var g = layer.Backward(tape, gO, gHn);
            return (g.Input.ToDoubles(), g.H0!.ToDoubles(), layer.Parameters().Select(p => p.Grad.ToDoubles()).ToArray());
        }
        var one = Run();
        layer.MaxDegreeOfParallelism = 2;
        long takenBefore = ElmanRnn.Threading.StepTakeBack.StepsTakenBack;
        ElmanRnn.Threading.StepTakeBack.TestPartnerStallMs = 3;
        try
        {
            // Another test may hold the shared worker team for a moment (the call then runs alone): try a few times.
            for (int attempt = 0; attempt < 5 && ElmanRnn.Threading.StepTakeBack.StepsTakenBack == takenBefore; attempt++)
            {
                var two = Run();
                two.Input.Should().Equal(one.Input);
                two.H0.Should().Equal(one.H0);
                for (int i = 0; i < one.Parameters.Length; i++) two.Parameters[i].Should().Equal(one.Parameters[i]);
            }
        }
        finally
        {
            ElmanRnn.Threading.StepTakeBack.TestPartnerStallMs = 0;
        }
        if (ElmanRnn.Threading.WorkerTeam.Shared.MaxParts > 1)
            ElmanRnn.Threading.StepTakeBack.StepsTakenBack.Should().BeGreaterThan(takenBefore);
    }

    private static Span<double> Flat(Tensor<double> t) =>
        System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref t.GetPinnableReference(), (int)t.FlattenedLength);
}
