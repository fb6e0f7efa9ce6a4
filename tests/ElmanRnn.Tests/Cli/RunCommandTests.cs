using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Cli;
using ElmanRnn.Serialization;

namespace ElmanRnn.Tests.Cli;

/// <summary>
/// <c>elman-rnn run</c> end to end, in process: .npy files in, output.npy and h_n.npy out. Oracle: libtorch 2.10's
/// results stored beside the committed weight files (Fixtures/pybridge/NAME.io.safetensors, and the golden files of
/// Fixtures/torch for padded input with lengths; see tests/ElmanRnn.TorchOracle/README.md). Tolerance: max error
/// relative to max(1, max |expected|) ≤ 1e-5 for float32 and ≤ 1e-12 for float64, as in LibtorchFixtureTests.
/// </summary>
public sealed class RunCommandTests : IDisposable
{
    private static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
    private static readonly HashSet<string> Data = ["input", "lengths", "h0", "output", "h_n"];

    private readonly string _directory = Directory.CreateTempSubdirectory("elmanrnn-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private string OutputDirectory => PathOf("out");

    public static IEnumerable<object[]> PyBridgeWeights() =>
        Directory.EnumerateFiles(Path.Combine(Fixtures, "pybridge"))
            .Where(f => !f.EndsWith(".io.safetensors", StringComparison.Ordinal)).Order()
            .Select(f => new object[] { Path.GetFileName(f) });

    public static IEnumerable<object[]> PackedGoldenFiles() =>
        Directory.EnumerateFiles(Path.Combine(Fixtures, "torch"), "*_packed_*.safetensors").Order()
            .Select(f => new object[] { Path.GetFileName(f) });

    [Fact]
    public void EveryFixtureIsThere()
    {
        PyBridgeWeights().Should().HaveCount(10);
        // 2 nonlinearities × 2 bias × 3 depths × 2 directions × 2 h0 × 2 dtypes.
        PackedGoldenFiles().Should().HaveCount(96);
    }

    [Theory]
    [MemberData(nameof(PyBridgeWeights))]
    public void ReproducesLibtorchOnThePyBridgeWeightFiles(string file)
    {
        string io = Path.Combine(Fixtures, "pybridge", file.Split('.')[0] + ".io.safetensors");
        if (SafeTensors.ReadMetadata(io)["dtype"] == "float64")
            RunPyBridgeCase<double>(Path.Combine(Fixtures, "pybridge", file), io, 1e-12);
        else
            RunPyBridgeCase<float>(Path.Combine(Fixtures, "pybridge", file), io, 1e-5);
    }

    private void RunPyBridgeCase<T>(string weights, string io, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        IReadOnlyDictionary<string, string> meta = SafeTensors.ReadMetadata(io);
        IReadOnlyDictionary<string, Tensor<T>> expected = SafeTensors.Read<T>(io);
        List<string> args = ["run", "--weights", weights, "--input", WriteNpy("input.npy", expected["input"]), "--output-dir", OutputDirectory];
        if (expected.TryGetValue("h0", out Tensor<T>? h0))
            args.AddRange(["--h0", WriteNpy("h0.npy", h0)]);
        if (meta["batch_first"] == "true")
            args.Add("--batch-first");
        if (meta["nonlinearity"] == "relu")
            args.AddRange(["--nonlinearity", "relu"]);

        CliResult result = CliRunner.Invoke([.. args]);

        result.ExitCode.Should().Be(0, result.Error);
        result.Error.Should().BeEmpty();
        result.Output.Should().StartWith($"model    RNN({meta["input_size"]}, {meta["hidden_size"]}")
            .And.Contain($"{meta["dtype"]} (the weights' dtype)");
        ShouldMatch(expected, DTypeOf<T>(), tolerance);  // T is the weights' dtype, the default
    }

    [Fact]
    public void TheSummaryNamesTheModelTheShapesAndTheFilesWritten()
    {
        var io = SafeTensors.Read<float>(Path.Combine(Fixtures, "pybridge", "rnn_tanh_bi_l2.io.safetensors"));
        string input = WriteNpy("x.npy", io["input"]), h0 = WriteNpy("h0.npy", io["h0"]);

        CliResult result = CliRunner.Invoke(
            "run", "--weights", Path.Combine(Fixtures, "pybridge", "rnn_tanh_bi_l2.pt"), "--input", input, "--h0", h0, "--output-dir", OutputDirectory);

        result.ExitCode.Should().Be(0, result.Error);
        result.Output.Should().Be(string.Join(Environment.NewLine,
            "model    RNN(5, 3, num_layers=2, bidirectional=True), nonlinearity=tanh, float32 (the weights' dtype)",
            $"input    {input} (4, 2, 5) float32",
            $"h0       {h0} (4, 2, 3) float32",
            $"output   (4, 2, 6) -> {Path.Combine(OutputDirectory, "output.npy")}",
            $"h_n      (4, 2, 3) -> {Path.Combine(OutputDirectory, "h_n.npy")}",
            ""));
    }

    // `--weights <(cat model.pt) --input <(cat x.npy)`: pipes cannot seek and can be read only once, yet the
    // weights' dtype is detected (float64 here) and then the same bytes are loaded. Oracle and tolerance as above.
    [LinuxFact]
    public void ReadsTheWeightsAndTheInputThroughPipes()
    {
        string io = Path.Combine(Fixtures, "pybridge", "rnn_tanh_bi_l2_f64.io.safetensors");
        IReadOnlyDictionary<string, Tensor<double>> expected = SafeTensors.Read<double>(io);
        using var weights = new NamedPipe(PathOf("weights-pipe"), File.ReadAllBytes(Path.Combine(Fixtures, "pybridge", "rnn_tanh_bi_l2_f64.pt")));
        using var input = new NamedPipe(PathOf("input-pipe"), File.ReadAllBytes(WriteNpy("x.npy", expected["input"])));

        CliResult result = CliRunner.Invoke(
            "run", "--weights", weights.Path, "--input", input.Path, "--h0", WriteNpy("h0.npy", expected["h0"]), "--output-dir", OutputDirectory);

        result.ExitCode.Should().Be(0, result.Error);
        result.Output.Should().Contain("float64 (the weights' dtype)");
        ShouldMatch(expected, DType.Float64, 1e-12);
    }

    [Theory]
    [MemberData(nameof(PackedGoldenFiles))]
    public void WithLengthsReproducesLibtorchOnPackedInput(string file)
    {
        string path = Path.Combine(Fixtures, "torch", file);
        if (SafeTensors.ReadMetadata(path)["dtype"] == "float64")
            RunPackedCase<double>(path, 1e-12);
        else
            RunPackedCase<float>(path, 1e-5);
    }

    // The golden file holds the weights beside libtorch's padded time-major input (T, N, H_in), lengths in the
    // caller's batch order, h0, and pad_packed_sequence's output (zeros past each length) and h_n.
    private void RunPackedCase<T>(string path, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        IReadOnlyDictionary<string, string> meta = SafeTensors.ReadMetadata(path);
        IReadOnlyDictionary<string, Tensor<T>> expected = SafeTensors.Read<T>(path);
        string weights = PathOf("weights.safetensors");
        SafeTensors.Write(weights, expected.Where(kv => !Data.Contains(kv.Key)).ToDictionary());
        string lengths = string.Join(",", expected["lengths"].ToDoubles());
        List<string> args = ["run", "--weights", weights, "--input", WriteNpy("x.npy", expected["input"]), "--lengths", lengths, "--output-dir", OutputDirectory];
        if (expected.TryGetValue("h0", out Tensor<T>? h0))
            args.AddRange(["--h0", WriteNpy("h0.npy", h0)]);
        if (meta["nonlinearity"] == "relu")
            args.AddRange(["--nonlinearity", "relu"]);

        CliResult result = CliRunner.Invoke([.. args]);

        result.ExitCode.Should().Be(0, result.Error);
        result.Output.Should().Contain($"lengths  {lengths}");
        ShouldMatch(expected, DTypeOf<T>(), tolerance);  // T is the weights' dtype, the default
    }

    [Fact]
    public void WithLengthsAndBatchFirstTheInputAndOutputAreBatchMajor()
    {
        // A bidirectional 3-layer case: the reverse direction must start at each sequence's own last step.
        string path = Path.Combine(Fixtures, "torch", "tanh_bias_l3_bi_packed_h0_f64.safetensors");
        var expected = SafeTensors.Read<double>(path);
        string weights = PathOf("weights.safetensors");
        SafeTensors.Write(weights, expected.Where(kv => !Data.Contains(kv.Key)).ToDictionary());

        CliResult result = CliRunner.Invoke(
            "run", "--weights", weights, "--input", WriteNpy("x.npy", SwapFirstTwoAxes(expected["input"])), "--batch-first",
            "--lengths", string.Join(",", expected["lengths"].ToDoubles()), "--h0", WriteNpy("h0.npy", expected["h0"]),
            "--output-dir", OutputDirectory);

        result.ExitCode.Should().Be(0, result.Error);
        Tensor<double> output = Npy.Read<double>(Path.Combine(OutputDirectory, "output.npy")).Values;
        Tensor<double> hn = Npy.Read<double>(Path.Combine(OutputDirectory, "h_n.npy")).Values;
        output.Shape().Should().Equal(SwapFirstTwoAxes(expected["output"]).Shape());
        TestTensors.RelativeError(output.ToDoubles(), SwapFirstTwoAxes(expected["output"]).ToDoubles()).Should().BeLessThanOrEqualTo(1e-12);
        TestTensors.RelativeError(hn.ToDoubles(), expected["h_n"].ToDoubles()).Should().BeLessThanOrEqualTo(1e-12);
    }

    [Fact]
    public void Float64InputIsConvertedForAFloat32Model()
    {
        // float32 → float64 → float32 is exact, so the run is the float32 run exactly.
        var io = SafeTensors.Read<float>(Path.Combine(Fixtures, "pybridge", "rnn_tanh_l1.io.safetensors"));
        var io64 = SafeTensors.Read<double>(Path.Combine(Fixtures, "pybridge", "rnn_tanh_l1.io.safetensors"));
        string input64 = WriteNpy("x64.npy", io64["input"]);

        CliResult result = CliRunner.Invoke(
            "run", "--weights", Path.Combine(Fixtures, "pybridge", "rnn_tanh_l1.safetensors"), "--input", input64, "--output-dir", OutputDirectory);

        result.ExitCode.Should().Be(0, result.Error);
        result.Output.Should().Contain($"input    {input64} (7, 3, 4) float64, converted to float32");
        ShouldMatch(io, DType.Float32, 1e-5);
    }

    [Fact]
    public void DTypeOverridesTheWeightsDType()
    {
        // The float32 weights widen exactly; computing in float64 differs from libtorch's float32 run by float32 rounding.
        var io = SafeTensors.Read<double>(Path.Combine(Fixtures, "pybridge", "rnn_relu_l3_bf.io.safetensors"));

        CliResult result = CliRunner.Invoke(
            "run", "--weights", Path.Combine(Fixtures, "pybridge", "rnn_relu_l3_bf.pt"), "--input", WriteNpy("x.npy", io["input"]),
            "--batch-first", "--nonlinearity", "relu", "--dtype", "float64", "--output-dir", OutputDirectory);

        result.ExitCode.Should().Be(0, result.Error);
        result.Output.Should().Contain("RNN(6, 8, num_layers=3, batch_first=True), nonlinearity=relu, float64 (--dtype)");
        ShouldMatch(io, DType.Float64, 1e-5);
    }

    [Fact]
    public void ThePrefixSelectsTheRnnOfAWholeModelCheckpoint()
    {
        var weights = SafeTensors.Read<float>(Path.Combine(Fixtures, "pybridge", "rnn_tanh_l1.safetensors"));
        var model = weights.ToDictionary(kv => "encoder.rnn." + kv.Key, kv => kv.Value);
        model.Add("decoder.weight", Tensor.Create([1f, 2f], [1, 2]));
        string path = PathOf("model.safetensors");
        SafeTensors.Write(path, model);
        var io = SafeTensors.Read<float>(Path.Combine(Fixtures, "pybridge", "rnn_tanh_l1.io.safetensors"));

        CliResult result = CliRunner.Invoke(
            "run", "--weights", path, "--prefix", "encoder.rnn", "--input", WriteNpy("x.npy", io["input"]), "--output-dir", OutputDirectory);

        result.ExitCode.Should().Be(0, result.Error);
        ShouldMatch(io, DType.Float32, 1e-5);
    }

    [Fact]
    public void TheOutputDirectoryIsCreatedAndOldFilesReplaced()
    {
        var io = SafeTensors.Read<float>(Path.Combine(Fixtures, "pybridge", "rnn_tanh_l1.io.safetensors"));
        string nested = Path.Combine(OutputDirectory, "a", "b");
        Directory.CreateDirectory(nested);
        File.WriteAllBytes(Path.Combine(nested, "output.npy"), new byte[10_000]);

        CliResult result = CliRunner.Invoke(
            "run", "--weights", Path.Combine(Fixtures, "pybridge", "rnn_tanh_l1.pt"), "--input", WriteNpy("x.npy", io["input"]), "--output-dir", nested);

        result.ExitCode.Should().Be(0, result.Error);
        Npy.Read<float>(Path.Combine(nested, "output.npy")).Values.Shape().Should().Equal(7, 3, 5);
        Npy.Read<float>(Path.Combine(nested, "h_n.npy")).Values.Shape().Should().Equal(1, 3, 5);
    }

    // Oracle: docs/cli.md, exit code 2 and "One line on stderr, nothing written". h_n.npy is made a directory, so
    // h_n.npy, the second file, cannot be put in place after output.npy was written.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WhenTheSecondFileCannotBeWrittenNeitherIs(bool outputExistedBefore)
    {
        var io = SafeTensors.Read<float>(Path.Combine(Fixtures, "pybridge", "rnn_tanh_l1.io.safetensors"));
        Directory.CreateDirectory(Path.Combine(OutputDirectory, "h_n.npy"));
        byte[] before = [1, 2, 3];
        if (outputExistedBefore)
            File.WriteAllBytes(Path.Combine(OutputDirectory, "output.npy"), before);

        CliResult result = CliRunner.Invoke(
            "run", "--weights", Path.Combine(Fixtures, "pybridge", "rnn_tanh_l1.pt"), "--input", WriteNpy("x.npy", io["input"]), "--output-dir", OutputDirectory);

        result.ShouldBeAUsageError($"elman-rnn run: cannot write output.npy and h_n.npy to '{OutputDirectory}': *");
        Directory.EnumerateFileSystemEntries(OutputDirectory).Select(Path.GetFileName).Order()
            .Should().Equal(outputExistedBefore ? ["h_n.npy", "output.npy"] : ["h_n.npy"], "no temporary file is left behind");
        if (outputExistedBefore)
            File.ReadAllBytes(Path.Combine(OutputDirectory, "output.npy")).Should().Equal(before, "the file the run would have replaced is put back");
    }

    // Oracle: docs/cli.md (exit code 2, one line naming the problem). mkdir refuses /proc/nope with ENOENT, which
    // .NET words as "Could not find file '/proc/nope'", as if an input were missing.
    [LinuxFact]
    public void AnOutputDirectoryThatCannotBeCreatedIsNamed()
    {
        var io = SafeTensors.Read<float>(Path.Combine(Fixtures, "pybridge", "rnn_tanh_l1.io.safetensors"));

        CliResult result = CliRunner.Invoke(
            "run", "--weights", Path.Combine(Fixtures, "pybridge", "rnn_tanh_l1.pt"), "--input", WriteNpy("x.npy", io["input"]), "--output-dir", "/proc/nope");

        result.ShouldBeAUsageError("elman-rnn run: cannot create the output directory '/proc/nope': a parent directory does not exist or cannot hold directories.");
        result.Error.Should().NotContain("Could not find file");
    }

    // Placeholders: {weights} the float32 2-layer bidirectional model (H_in 5, H 3), {x} its (4, 2, 5) input,
    // {h0} its (4, 2, 3) h0, {out} the output directory, {dir} the temporary directory.
    public static TheoryData<string, string[], string> Mistakes() => new()
    {
        { "weights file missing", ["--weights", "{dir}/none.pt", "--input", "{x}"], "elman-rnn run: File does not exist: '{dir}/none.pt'. See 'elman-rnn run --help'." },
        { "input missing", ["--weights", "{weights}", "--input", "{dir}/none.npy"], "elman-rnn run: File does not exist: '{dir}/none.npy'.*" },
        { "h0 missing", ["--weights", "{weights}", "--input", "{x}", "--h0", "{dir}/none.npy"], "elman-rnn run: File does not exist: '{dir}/none.npy'.*" },
        { "no --input", ["--weights", "{weights}"], "elman-rnn run: Option '--input' is required. See 'elman-rnn run --help'." },
        { "no options", [], "elman-rnn run: Option '--weights' is required. Option '--input' is required.*" },
        { "unknown option", ["--weights", "{weights}", "--input", "{x}", "--layers", "2"], "elman-rnn run: Unrecognized command or argument '--layers'.*" },
        { "lengths not numbers", ["--weights", "{weights}", "--input", "{x}", "--lengths", "5,x"],
            "elman-rnn run: --lengths '5,x': 'x' is not a whole number; give one length per sequence, e.g. --lengths 5,3,2.*" },
        { "lengths empty", ["--weights", "{weights}", "--input", "{x}", "--lengths", ""], "elman-rnn run: --lengths '': '' is not a whole number*" },
        { "too many lengths", ["--weights", "{weights}", "--input", "{x}", "--lengths", "4,3,2"],
            "elman-rnn run: Expected `len(lengths)` to be equal to batch_size, but got 3 (batch_size=2)*" },
        { "a length past L", ["--weights", "{weights}", "--input", "{x}", "--lengths", "5,3"], "elman-rnn run: lengths[0] = 5 exceeds the padded time dimension of input (4, *" },
        { "a length of 0", ["--weights", "{weights}", "--input", "{x}", "--lengths", "4,0"], "elman-rnn run: Length of all samples has to be greater than 0, *lengths[1] = 0." },
        { "lengths for unbatched input", ["--weights", "{weights}", "--input", "{x2d}", "--lengths", "4"],
            "elman-rnn run: Expected a padded 3D input (L, N, H_in) or (N, L, H_in) with lengths, got 2D tensor [4, 5]." },
        { "feature size", ["--weights", "{weights}", "--input", "{x4}"], "elman-rnn run: input.size(-1) must be equal to input_size. Expected 5, got 4." },
        { "input rank", ["--weights", "{weights}", "--input", "{x1d}"], "elman-rnn run: Expected input to be 2D or 3D, got 1D tensor instead (shape [5])." },
        { "h0 shape", ["--weights", "{weights}", "--input", "{x}", "--h0", "{h0small}"], "elman-rnn run: Expected hidden size (4, 2, 3), got [1, 2, 3]." },
        { "input not .npy", ["--weights", "{weights}", "--input", "{weights}"], "elman-rnn run: {weights}: not an .npy file: it does not start with the magic string \\x93NUMPY." },
        { "input dtype", ["--weights", "{weights}", "--input", "{xint}"], "elman-rnn run: {xint}: unsupported dtype '<i4'*" },
        { "weights not a checkpoint", ["--weights", "{x}", "--input", "{x}"], "elman-rnn run: '{x}' is neither a torch.save zip archive nor a valid safetensors file: *" },
        { "wrong prefix", ["--weights", "{weights}", "--prefix", "decoder", "--input", "{x}"],
            "elman-rnn run: No tensor name starts with 'decoder.'. nn.RNN parameters appear under the top level (no prefix)." },
        { "nonlinearity", ["--weights", "{weights}", "--input", "{x}", "--nonlinearity", "sigmoid"], "elman-rnn run: --nonlinearity 'sigmoid': must be tanh or relu.*" },
        { "dtype", ["--weights", "{weights}", "--input", "{x}", "--dtype", "float16"], "elman-rnn run: --dtype 'float16': must be float32 or float64.*" },
        { "output directory is a file", ["--weights", "{weights}", "--input", "{x}", "--output-dir", "{x}"], "elman-rnn run: *'{x}'*" },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void EveryMistakeIsOneLineOnStderrAndExitCode2(string why, string[] args, string message)
    {
        var io = SafeTensors.Read<float>(Path.Combine(Fixtures, "pybridge", "rnn_tanh_bi_l2.io.safetensors"));
        var placeholders = new Dictionary<string, string>
        {
            ["{weights}"] = Path.Combine(Fixtures, "pybridge", "rnn_tanh_bi_l2.pt"),
            ["{x}"] = WriteNpy("x.npy", io["input"]),
            ["{x2d}"] = WriteNpy("x2d.npy", Tensor.Create(new float[4 * 5], [4, 5])),
            ["{x4}"] = WriteNpy("x4.npy", Tensor.Create(new float[4 * 2 * 4], [4, 2, 4])),
            ["{x1d}"] = WriteNpy("x1d.npy", Tensor.Create(new float[5], [5])),
            ["{h0small}"] = WriteNpy("h0small.npy", Tensor.Create(new float[1 * 2 * 3], [1, 2, 3])),
            ["{xint}"] = PathOf("xint.npy"),
            ["{dir}"] = _directory,
        };
        File.WriteAllBytes(placeholders["{xint}"], NpyFiles.Build(1, NpyFiles.Header("<i4", false, "(1,)"), [1, 0, 0, 0]));
        string Fill(string text) => placeholders.Aggregate(text, (t, p) => t.Replace(p.Key, p.Value, StringComparison.Ordinal));

        CliResult result = CliRunner.Invoke(["run", .. args.Select(Fill), .. args.Contains("--output-dir") ? [] : (string[])["--output-dir", OutputDirectory]]);

        result.ShouldBeAUsageError(Fill(message));
        File.Exists(Path.Combine(OutputDirectory, "output.npy")).Should().BeFalse(why);
    }

    private string WriteNpy<T>(string name, Tensor<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        string path = PathOf(name);
        Npy.Write(path, values);
        return path;
    }

    private void ShouldMatch<T>(IReadOnlyDictionary<string, Tensor<T>> expected, DType written, double tolerance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        NpyArray<double> output = Npy.Read<double>(Path.Combine(OutputDirectory, "output.npy"));
        NpyArray<double> hn = Npy.Read<double>(Path.Combine(OutputDirectory, "h_n.npy"));
        output.Stored.Should().Be(written);
        hn.Stored.Should().Be(written);
        output.Values.Shape().Should().Equal(expected["output"].Shape());
        hn.Values.Shape().Should().Equal(expected["h_n"].Shape());
        TestTensors.RelativeError(output.Values.ToDoubles(), expected["output"].ToDoubles()).Should().BeLessThanOrEqualTo(tolerance, "output");
        TestTensors.RelativeError(hn.Values.ToDoubles(), expected["h_n"].ToDoubles()).Should().BeLessThanOrEqualTo(tolerance, "h_n");
    }

    private static DType DTypeOf<T>() => typeof(T) == typeof(double) ? DType.Float64 : DType.Float32;

    // (A, B, C) → (B, A, C), dense.
    private static Tensor<T> SwapFirstTwoAxes<T>(Tensor<T> tensor) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Tensor<T> swapped = Tensor.PermuteDimensions(tensor, [1, 0, 2]);
        var values = new T[swapped.FlattenedLength];
        swapped.FlattenTo(values);
        return Tensor.Create(values, swapped.Lengths);
    }
}
