using System.Numerics.Tensors;
using ElmanRnn.Cli;
using ElmanRnn.Serialization;

namespace ElmanRnn.Tests.Cli;

/// <summary>
/// <c>elman-rnn train</c>: the adding problem's data against its definition (Hochreiter &amp; Schmidhuber 1997, as
/// documented on <see cref="AddingProblem"/>), the IRNN's initialisation against Le et al. (2015), short runs end to
/// end (files, keys, shapes, determinism, early stop, progress lines) and argument errors. The full-size run (minutes)
/// is not a test; docs/training.md records it.
/// </summary>
public sealed class TrainCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("elmanrnn-train-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string OutputDirectory => Path.Combine(_directory, "out");

    private static readonly string[] Tiny = ["--seq-len", "10", "--hidden", "8", "--batch", "4", "--held-out", "16"];

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 5)]
    [InlineData(10, 7)]
    [InlineData(101, 64)]
    public void EverySequenceHasOneMarkInEachHalfAndTheTargetIsTheSumOfTheMarkedValues(int steps, int batch)
    {
        // Oracle: the definition, read back from x: channel 1 is 0 or 1 with exactly one 1 in [0, L/2) and one in
        // [L/2, L); channel 0 in [0, 1); y is the float sum of the two marked values (exact: it is the same addition).
        var x = new float[steps * batch * 2];   // (L, N, 2)
        var y = new float[batch];
        AddingProblem.Fill(new Random(3), steps, batch, x, y);

        for (int n = 0; n < batch; n++)
        {
            var marked = new List<int>();
            for (int t = 0; t < steps; t++)
            {
                float value = x[(t * batch + n) * 2], mark = x[(t * batch + n) * 2 + 1];
                value.Should().BeInRange(0f, 1f).And.NotBe(1f);
                mark.Should().BeOneOf(0f, 1f);
                if (mark == 1)
                    marked.Add(t);
            }
            marked.Should().HaveCount(2, "exactly two steps are marked");
            marked[0].Should().BeLessThan(steps / 2, "the first mark is in the first half");
            marked[1].Should().BeGreaterThanOrEqualTo(steps / 2, "the second mark is in the second half");
            y[n].Should().Be(x[(marked[0] * batch + n) * 2] + x[(marked[1] * batch + n) * 2]);
        }
    }

    [Fact]
    public void WithTwoStepsBothAreMarkedAndTheTargetIsTheirSum()
    {
        // Hand-checkable: L = 2 leaves one choice per half, so x = [[v0, 1], [v1, 1]] and y = v0 + v1.
        var x = new float[2 * 1 * 2];
        var y = new float[1];
        AddingProblem.Fill(new Random(0), 2, 1, x, y);

        x[1].Should().Be(1);
        x[3].Should().Be(1);
        y[0].Should().Be(x[0] + x[2]);
    }

    [Fact]
    public void WrittenSequencesReplaceTheMarksOfTheLastBatch()
    {
        // The trainer refills one buffer every step; old marks must not survive. Oracle: a fresh buffer, same seed.
        var reused = new float[20 * 3 * 2];
        var fresh = new float[20 * 3 * 2];
        var y = new float[3];
        AddingProblem.Fill(new Random(1), 20, 3, reused, y);
        AddingProblem.Fill(new Random(2), 20, 3, reused, y);
        AddingProblem.Fill(new Random(2), 20, 3, fresh, y);

        reused.Should().Equal(fresh);
    }

    [Fact]
    public void TheTrivialPredictorScoresOneSixth()
    {
        // Oracle: the target is a sum of two independent U[0, 1): mean 1, variance 2/12, so always predicting 1 has
        // expected MSE 1/6. Tolerance: 5 standard errors of the sample mean of (y - 1)² over 100 000 draws; its
        // standard deviation is sqrt(E(y-1)^4 - 1/36) = sqrt(1/15 - 1/36) ≈ 0.198.
        const int count = 100_000;
        var x = new float[2 * count * 2];
        var y = new float[count];
        AddingProblem.Fill(new Random(7), 2, count, x, y);

        double mse = y.Average(v => (v - 1.0) * (v - 1.0));

        mse.Should().BeApproximately(AddingProblem.TrivialMse, 5 * 0.198 / Math.Sqrt(count));
    }

    [Fact]
    public void TheRnnStartsAsAnIrnn()
    {
        // Oracle: Le et al. (2015): W_hh = I, biases 0, W_ih ~ N(0, 0.001²). Tolerance for W_ih: |w| < 6σ = 0.006 for
        // all 2·H draws, and a sample standard deviation within 30 % of 0.001 (200 draws: its relative error is ≈ 5 %).
        var trainer = new AddingTrainer(new TrainOptions { Hidden = 100, SeqLen = 4, Batch = 2, HeldOut = 2, Seed = 5 });
        var p = trainer.Rnn.Parameters().ToDictionary(q => q.Name, q => q.Value.ToArray());

        p["weight_hh_l0"].Should().Equal(Enumerable.Range(0, 100 * 100).Select(i => i / 100 == i % 100 ? 1f : 0f));
        p["bias_ih_l0"].Should().OnlyContain(v => v == 0);
        p["bias_hh_l0"].Should().OnlyContain(v => v == 0);
        p["weight_ih_l0"].Should().OnlyContain(v => Math.Abs(v) < 0.006);
        Math.Sqrt(p["weight_ih_l0"].Average(v => (double)v * v)).Should().BeApproximately(0.001, 0.0003);
        trainer.Rnn.Options.Nonlinearity.Should().Be(Nonlinearity.Relu);
    }

    [Fact]
    public void TheHeldOutLossFallsFarBelowTheTrivialPredictorOnAShortProblem()
    {
        // Sequence length 6, hidden 16: 1500 Adam steps (5 s) leave the plateau at ≈ 1/8 and learn the sum. Oracle:
        // the trivial predictor's 1/6 (TheTrivialPredictorScoresOneSixth); the bar is a tenth of it, which this seed
        // passes by a factor of about 80.
        var trainer = new AddingTrainer(new TrainOptions { SeqLen = 6, Hidden = 16, Batch = 32, Lr = 1e-2, HeldOut = 500, Seed = 1, Threads = 1 });
        double before = trainer.HeldOutMse();

        for (int step = 0; step < 1500; step++)
            trainer.Step();
        double after = trainer.HeldOutMse();

        after.Should().BeLessThan(AddingProblem.TrivialMse / 10).And.BeLessThan(before / 10);
    }

    [Fact]
    public void TrainHelpListsEveryOption()
    {
        CliResult result = CliRunner.Invoke("train", "--help");

        result.ExitCode.Should().Be(0);
        result.Output.Should().ContainAll("--steps", "--seq-len", "[default: 100]", "--hidden", "--batch", "--lr", "--clip", "--seed",
            "--threads", "--target-mse", "[default: 0.01]", "--eval-every", "--held-out", "--out <DIR>", "[default: train-out]", "--quiet");
    }

    [Fact]
    public void AShortRunWritesTheModelInPyTorchsNamesThePlotAndASummary()
    {
        CliResult result = CliRunner.Invoke(["train", "--steps", "30", .. Tiny, "--eval-every", "10", "--target-mse", "0", "--out", OutputDirectory]);

        result.ExitCode.Should().Be(0, result.Error);
        result.Error.Should().BeEmpty();
        string[] lines = result.Output.TrimEnd().Split(Environment.NewLine);
        lines.Should().HaveCount(4);
        lines[..3].Should().SatisfyRespectively(
            l => l.Should().Match("step 10/30  loss *  held-out *  * steps/s  ETA *"),
            l => l.Should().StartWith("step 20/30  loss "),
            l => l.Should().StartWith("step 30/30  loss "));
        string pt = Path.Combine(OutputDirectory, "model.pt"), st = Path.Combine(OutputDirectory, "model.safetensors"), png = Path.Combine(OutputDirectory, "loss.png");
        lines[3].Should().Match($"trained 30 steps in * s (* steps/s, * thread*): held-out MSE * (always predicting 1: 0.167) -> {pt}, {st}, {png}");

        // The state dict of a PyTorch module with attributes rnn = nn.RNN(2, 8, nonlinearity='relu') and head = nn.Linear(8, 1).
        var expectedShapes = new Dictionary<string, nint[]>
        {
            ["rnn.weight_ih_l0"] = [8, 2], ["rnn.weight_hh_l0"] = [8, 8], ["rnn.bias_ih_l0"] = [8], ["rnn.bias_hh_l0"] = [8],
            ["head.weight"] = [1, 8], ["head.bias"] = [1],
        };
        IReadOnlyDictionary<string, Tensor<float>> fromPt = TorchSave.Read<float>(pt), fromSafetensors = SafeTensors.Read<float>(st);
        fromPt.Keys.Should().Equal(expectedShapes.Keys);
        fromSafetensors.Keys.Should().BeEquivalentTo(expectedShapes.Keys);
        foreach (var (name, shape) in expectedShapes)
        {
            fromPt[name].Lengths.ToArray().Should().Equal(shape, name);
            fromSafetensors[name].ToArray().Should().Equal(fromPt[name].ToArray(), name);
        }
        fromPt["rnn.weight_hh_l0"].ToArray().Should().NotEqual(Enumerable.Range(0, 64).Select(i => i / 8 == i % 8 ? 1f : 0f), "30 steps moved W_hh off I");
        SafeTensors.ReadMetadata(st).Should().Contain("hidden_size", "8").And.Contain("seq_len", "10").And.Contain("steps", "30");

        // The rnn.* part loads as an nn.RNN through the checkpoint loader, as `elman-rnn run --prefix rnn.` would.
        RnnLayer<float> rnn = RnnCheckpoint.LoadLayer<float>(pt, "rnn.", Nonlinearity.Relu);
        rnn.Options.Should().BeEquivalentTo(new RnnOptions { InputSize = 2, HiddenSize = 8, Nonlinearity = Nonlinearity.Relu });

        File.ReadAllBytes(png).Take(8).Should().Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A });
    }

    [Fact]
    public void TheSameSeedGivesTheSameModelForAnyThreadCount()
    {
        // Oracle: the first run. The RNN splits work across threads, never a reduction, so 1 and 2 threads agree bit
        // for bit; the held-out MSE in the metadata is written with all its digits.
        string first = Path.Combine(_directory, "a"), second = Path.Combine(_directory, "b"), other = Path.Combine(_directory, "c");
        CliRunner.Invoke(["train", "--steps", "20", .. Tiny, "--seed", "4", "--threads", "1", "--quiet", "--out", first]).ExitCode.Should().Be(0);
        CliRunner.Invoke(["train", "--steps", "20", .. Tiny, "--seed", "4", "--threads", "2", "--quiet", "--out", second]).ExitCode.Should().Be(0);
        CliRunner.Invoke(["train", "--steps", "20", .. Tiny, "--seed", "5", "--quiet", "--out", other]).ExitCode.Should().Be(0);

        byte[] a = File.ReadAllBytes(Path.Combine(first, "model.safetensors"));
        File.ReadAllBytes(Path.Combine(second, "model.safetensors")).Should().Equal(a);
        File.ReadAllBytes(Path.Combine(other, "model.safetensors")).Should().NotEqual(a);
    }

    [Fact]
    public void TheRunStopsAtTheFirstEvaluationThatReachesTheTarget()
    {
        // Any MSE is below 1000, so the first evaluation (step 5) ends the run. --quiet leaves only the summary.
        CliResult result = CliRunner.Invoke(["train", "--steps", "50", .. Tiny, "--eval-every", "5", "--target-mse", "1000", "--quiet", "--out", OutputDirectory]);

        result.ExitCode.Should().Be(0, result.Error);
        result.Output.Should().Match("trained 5 steps in *, target 1000 reached (always predicting 1: 0.167) -> *" + Environment.NewLine);
        SafeTensors.ReadMetadata(Path.Combine(OutputDirectory, "model.safetensors")).Should().Contain("steps", "5");
    }

    [Fact]
    public void ADivergedRunExitsWith1AndWritesNothing()
    {
        // lr 1e30: Adam moves every weight by about 1e30 in the first step, so the next loss overflows to infinity.
        CliResult result = CliRunner.Invoke(["train", "--steps", "20", .. Tiny, "--lr", "1e30", "--out", OutputDirectory]);

        result.ExitCode.Should().Be(1);
        result.Error.Should().Match("elman-rnn train: the loss diverged (not finite) by step *; try a smaller --lr or --clip. Nothing written." + Environment.NewLine);
        Directory.EnumerateFileSystemEntries(OutputDirectory).Should().BeEmpty();
    }

    [Theory]
    [InlineData("--steps 0", "--steps 0: must be at least 1.")]
    [InlineData("--steps 1.5", "--steps '1.5': not a whole number.")]
    [InlineData("--seq-len 1", "--seq-len 1: must be at least 2.")]
    [InlineData("--hidden 0", "--hidden 0: must be at least 1.")]
    [InlineData("--batch -3", "--batch -3: must be at least 1.")]
    [InlineData("--threads 0", "--threads 0: must be at least 1.")]
    [InlineData("--eval-every 0", "--eval-every 0: must be at least 1.")]
    [InlineData("--held-out 0", "--held-out 0: must be at least 1.")]
    [InlineData("--lr 0", "--lr '0': must be a positive finite number.")]
    [InlineData("--lr abc", "--lr 'abc': must be a positive finite number.")]
    [InlineData("--clip Infinity", "--clip 'Infinity': must be a positive finite number.")]
    [InlineData("--target-mse -0.5", "--target-mse '-0.5': must be 0 or a positive finite number.")]
    [InlineData("--target-mse NaN", "--target-mse 'NaN': must be 0 or a positive finite number.")]
    [InlineData("--bogus", "Unrecognized command or argument '--bogus'.")]
    public void ArgumentMistakesAreOneLineAndExitCode2(string args, string message)
    {
        CliResult result = CliRunner.Invoke(["train", .. args.Split(' '), "--out", OutputDirectory]);

        result.ShouldBeAUsageError($"elman-rnn train: {message} See 'elman-rnn train --help'.");
        Directory.Exists(OutputDirectory).Should().BeFalse("nothing is written");
    }

    [Fact]
    public void SizesBeyondOneArrayAreAUsageError()
    {
        CliResult result = CliRunner.Invoke("train", "--seq-len", "100000", "--hidden", "100000", "--out", OutputDirectory);

        result.ShouldBeAUsageError("elman-rnn train: --seq-len × max(--batch, --held-out) × --hidden = 10000000000000 values, more than one array holds (*); make one smaller.");
    }

    [LinuxFact]
    public void AnOutputDirectoryThatCannotBeCreatedFailsBeforeTraining()
    {
        CliResult result = CliRunner.Invoke("train", "--out", "/proc/nope");

        result.ShouldBeAUsageError("elman-rnn train: cannot create the output directory '/proc/nope': a parent directory does not exist or cannot hold directories.");
    }
}
