using System.Numerics.Tensors;
using ElmanRnn.Layout;

namespace ElmanRnn.Tests.Rnn;

/// <summary>
/// Determinism contract (DESIGN.md): threads split rows and columns, never a reduction, so every thread count gives
/// bitwise the same result. Oracle: the single-threaded run (itself checked against the reference elsewhere). Sizes
/// are above the thresholds at which the layer hands work to other threads (split panels per step, directions
/// concurrently, split projection rows).
/// </summary>
public class ThreadingTests
{
    public static IEnumerable<object[]> Configurations() =>
    [
        [1, false, false, 32, 256],   // unidirectional: W_hh panels split per step
        [2, false, false, 16, 200],   // bidirectional: directions concurrently
        [2, true, false, 24, 96],     // 2 layers, inner dropout inactive in eval
        [1, false, true, 1, 512],     // batch 1, matrix-vector steps split by panels
        [2, true, true, 9, 130],      // packed, bidirectional, ragged lengths
    ];

    [Theory]
    [MemberData(nameof(Configurations))]
    public void AnyThreadCountGivesTheSameBits(int directions, bool twoLayers, bool packed, int batch, int hidden)
    {
        var random = new Random(hidden);
        var options = new RnnOptions { InputSize = 48, HiddenSize = hidden, NumLayers = twoLayers ? 2 : 1, Bidirectional = directions == 2, Dropout = twoLayers ? 0.3 : 0 };
        var layer = new RnnLayer<float>(options, random) { Training = false };
        const int steps = 12;
        var x = Tensor.Create(TestTensors.Random(random, steps * batch * 48).Select(v => (float)v).ToArray(), [steps, batch, 48]);
        int[] lengths = Enumerable.Range(0, batch).Select(i => 1 + (i * 7) % steps).ToArray();

        double[][] Run(int threads)
        {
            layer.MaxDegreeOfParallelism = threads;
            var (output, hn) = packed ? layer.Forward(x, lengths) : layer.Forward(x);
            return [output.ToDoubles(), hn.ToDoubles()];
        }

        double[][] single = Run(1);
        foreach (int threads in new[] { 2, 3, 8 })
        {
            double[][] parallel = Run(threads);
            parallel[0].Should().Equal(single[0], $"output with {threads} threads");
            parallel[1].Should().Equal(single[1], $"h_n with {threads} threads");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]   // ragged lengths: steps with fewer rows, partners' columns of short steps
    public void A_late_partner_has_its_steps_taken_back_without_changing_a_bit(bool packed)
    {
        // Oracle: the single-threaded run. The partner sleeps 3 ms before every 7th step, as if its vCPU were taken
        // away; part 0 takes those steps back and computes them itself, and the partner's late results are dropped.
        var random = new Random(17);
        var layer = new RnnLayer<float>(new() { InputSize = 32, HiddenSize = 256 }, random)
        {
            Training = false, MaxDegreeOfParallelism = 1,
        };
        const int steps = 40, batch = 16;
        var x = Tensor.Create(TestTensors.Random(random, steps * batch * 32).Select(v => (float)v).ToArray(), [steps, batch, 32]);
        int[] lengths = Enumerable.Range(0, batch).Select(i => steps - (i * 5) % steps).ToArray();
        double[][] Run()
        {
            var (output, hn) = packed ? layer.Forward(x, lengths) : layer.Forward(x);
            return [output.ToDoubles(), hn.ToDoubles()];
        }
        double[][] single = Run();
        layer.MaxDegreeOfParallelism = 2;
        long takenBefore = Threading.StepTakeBack.StepsTakenBack;
        Threading.StepTakeBack.TestPartnerStallMs = 3;
        try
        {
            // Another test may hold the shared worker team for a moment (the call then runs alone): try a few times.
            for (int attempt = 0; attempt < 5 && Threading.StepTakeBack.StepsTakenBack == takenBefore; attempt++)
            {
                double[][] parallel = Run();
                parallel[0].Should().Equal(single[0]);
                parallel[1].Should().Equal(single[1]);
            }
        }
        finally
        {
            Threading.StepTakeBack.TestPartnerStallMs = 0;
        }
        if (Threading.WorkerTeam.Shared.MaxParts > 1)
            Threading.StepTakeBack.StepsTakenBack.Should().BeGreaterThan(takenBefore, "the stalled partner's steps were taken back");
    }

    [Fact]
    public void ConcurrentForwardCallsOnOneLayerAgree()
    {
        // Only one call at a time gets the worker team; the others run on their own thread. All must agree.
        var random = new Random(4);
        var layer = new RnnLayer<float>(new() { InputSize = 64, HiddenSize = 256 }, random) { Training = false };
        var x = Tensor.Create(TestTensors.Random(random, 10 * 32 * 64).Select(v => (float)v).ToArray(), [10, 32, 64]);
        double[] expected = layer.Forward(x).Output.ToDoubles();
        var results = new double[8][];
        Parallel.For(0, results.Length, i => results[i] = layer.Forward(x).Output.ToDoubles());
        results.Should().AllSatisfy(r => r.Should().Equal(expected));
    }

    [Fact]
    public void MaxDegreeOfParallelismMustBePositive()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 2, HiddenSize = 2 });
        layer.MaxDegreeOfParallelism.Should().Be(Environment.ProcessorCount);
        Action zero = () => layer.MaxDegreeOfParallelism = 0;
        zero.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*at least 1*");
    }
}
