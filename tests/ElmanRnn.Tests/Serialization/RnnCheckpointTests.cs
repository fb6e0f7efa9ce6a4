using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Serialization;
using static ElmanRnn.Tests.Serialization.SafeTensorsFiles;
using static ElmanRnn.Tests.Serialization.TorchFiles;

namespace ElmanRnn.Tests.Serialization;

public sealed class RnnCheckpointTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("elmanrnn-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private static readonly RnnOptions Bidirectional2Layers = new()
    {
        InputSize = 3, HiddenSize = 4, NumLayers = 2, Nonlinearity = Nonlinearity.Relu, BatchFirst = true, Bidirectional = true,
    };

    [Fact]
    public void ALayerSavedAsSafeTensorsLoadsBackIdenticallyInFloat() => SafeTensorsRoundTrip<float>();

    [Fact]
    public void ALayerSavedAsSafeTensorsLoadsBackIdenticallyInDouble() => SafeTensorsRoundTrip<double>();

    // Oracle: the original layer. Same weights and the same code give bit-identical outputs.
    private void SafeTensorsRoundTrip<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        var original = new RnnLayer<T>(Bidirectional2Layers, new Random(7)) { Training = false };
        string path = PathOf("rnn.safetensors");

        SafeTensors.Write(path, original.StateDict());
        RnnLayer<T> loaded = RnnCheckpoint.LoadLayer<T>(path, nonlinearity: Nonlinearity.Relu, batchFirst: true);
        loaded.Training = false;

        loaded.Options.Should().Be(Bidirectional2Layers);
        ShouldHaveTheSameParameters(loaded, original);
        Tensor<T> input = TestTensors.Create<T>(TestTensors.Random(new Random(1), 2 * 5 * 3), 2, 5, 3);
        (Tensor<T> output, Tensor<T> hn) = loaded.Forward(input);
        (Tensor<T> expectedOutput, Tensor<T> expectedHn) = original.Forward(input);
        output.ToDoubles().Should().Equal(expectedOutput.ToDoubles());
        hn.ToDoubles().Should().Equal(expectedHn.ToDoubles());
    }

    [Fact]
    public void TheRnnOfAWholeModelTorchCheckpointLoadsFromUnderItsPrefix()
    {
        var original = new RnnLayer<float>(new RnnOptions { InputSize = 2, HiddenSize = 3, NumLayers = 2 }, new Random(3));
        string path = PathOf("model.pt");
        File.WriteAllBytes(path, WholeModelCheckpoint(original.StateDict()));

        RnnLayer<float> loaded = RnnCheckpoint.LoadLayer<float>(path, prefix: "encoder.rnn");

        loaded.Options.Should().Be(original.Options);
        ShouldHaveTheSameParameters(loaded, original);
    }

    [Fact]
    public void TheFormatIsRecognisedByContentNotByExtension()
    {
        var tensors = new Dictionary<string, Tensor<float>> { ["w"] = Tensor.Create([1f, 2f], [2]) };
        string safetensorsNamedPt = PathOf("weights.pt"), torchNamedSafetensors = PathOf("weights.safetensors");
        SafeTensors.Write(safetensorsNamedPt, tensors);
        File.WriteAllBytes(torchNamedSafetensors, TorchArchive("weights", StateDictPickle(Contiguous("w", "0", 2)), [("0", F32(1, 2))]));

        RnnCheckpoint.Load<float>(safetensorsNamedPt)["w"].ShouldEqual([2], 1f, 2f);
        RnnCheckpoint.Load<float>(torchNamedSafetensors)["w"].ShouldEqual([2], 1f, 2f);
    }

    [Theory]
    [InlineData("rnn_tanh_bi_l2.pt")]
    [InlineData("rnn_tanh_bi_l2.safetensors")]
    public void ALayerLoadsFromAStreamThatCannotSeek(string file)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(PyBridgeFixtures, file));

        ShouldReproduceLibtorch(RnnCheckpoint.LoadLayer<float>(new ForwardOnlyStream(bytes)), "rnn_tanh_bi_l2");
    }

    // What the shell's <(cat model.pt) hands over: a file that cannot seek and can be read only once.
    [LinuxFact]
    public void ALayerLoadsFromANamedPipe()
    {
        using var pipe = new NamedPipe(PathOf("weights.pt"), File.ReadAllBytes(Path.Combine(PyBridgeFixtures, "rnn_tanh_bi_l2.pt")));

        ShouldReproduceLibtorch(RnnCheckpoint.LoadLayer<float>(pipe.Path), "rnn_tanh_bi_l2");
    }

    [Fact]
    public void AStreamThatCannotSeekIsBufferedOnlyUpToTheBudget()
    {
        SeekableStream.Of(new ForwardOnlyStream(new byte[100]), "'pipe'", maxBytes: 100).Length.Should().Be(100);

        FluentActions.Invoking(() => SeekableStream.Of(new ForwardOnlyStream(new byte[101]), "'pipe'", maxBytes: 100))
            .Should().Throw<InvalidDataException>().WithMessage("'pipe' cannot seek (a pipe or a network stream)*more than the 100 bytes*");
    }

    [Fact]
    public void TheLegacyTorchFormatIsNamedInTheError()
    {
        string path = PathOf("old.pt");
        File.WriteAllBytes(path, [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E, 0x80, 0x02]);

        FluentActions.Invoking(() => RnnCheckpoint.Load<float>(path))
            .Should().Throw<InvalidDataException>().WithMessage("*legacy format (PyTorch < 1.6 or _use_new_zipfile_serialization=False)*");
    }

    [Fact]
    public void AFileInNeitherFormatIsRefused()
    {
        string path = PathOf("notes.txt");
        File.WriteAllText(path, "hello");

        FluentActions.Invoking(() => RnnCheckpoint.Load<float>(path)).Should().Throw<InvalidDataException>()
            .WithMessage("*notes.txt' is neither a torch.save zip archive nor a valid safetensors file: Not a safetensors file: it has 5 bytes*");
    }

    // Oracle: the library's documented error type for bad files (InvalidDataException), not the
    // InvalidOperationException JsonElement.GetString throws for invalid UTF-8 inside a string.
    [Fact]
    public void ASafeTensorsHeaderWithInvalidUtf8InATensorNameIsRefusedAsBadData()
    {
        string path = PathOf("bad-name.safetensors");
        File.WriteAllBytes(path, Build([.. "{\"weight_ih_l0"u8, 0xFF, .. "\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[0,4]}}"u8], F32(1)));

        FluentActions.Invoking(() => RnnCheckpoint.LoadLayer<float>(path)).Should().Throw<InvalidDataException>()
            .WithMessage("*bad-name.safetensors' is neither a torch.save zip archive nor a valid safetensors file: safetensors header is not valid UTF-8 JSON: invalid UTF-8 sequence at header byte 14*");
    }

    [Theory]
    [InlineData("encoder.rnn.")]
    [InlineData("encoder.rnn")]
    public void StripPrefixSelectsOneModuleAndRenamesItsTensors(string prefix)
    {
        var model = new OrderedDictionary<string, Tensor<float>>
        {
            ["encoder.embedding.weight"] = Tensor.Create([1f], [1]),
            ["encoder.rnn.weight_ih_l0"] = Tensor.Create([2f], [1]),
            ["encoder.rnn2.weight_ih_l0"] = Tensor.Create([3f], [1]),
            ["encoder.rnn.bias_hh_l0"] = Tensor.Create([4f], [1]),
        };

        IReadOnlyDictionary<string, Tensor<float>> rnn = RnnCheckpoint.StripPrefix(model, prefix);

        rnn.Keys.Should().Equal("weight_ih_l0", "bias_hh_l0");
        rnn["bias_hh_l0"].ShouldEqual([1], 4f);
    }

    [Fact]
    public void StripPrefixThatMatchesNothingListsWhereRnnParametersAre()
    {
        var model = new Dictionary<string, Tensor<float>>
        {
            ["model.encoder.rnn.weight_ih_l0"] = Tensor.Create([1f], [1]),
            ["model.decoder.rnn.weight_hh_l0_reverse"] = Tensor.Create([1f], [1]),
            ["model.head.weight"] = Tensor.Create([1f], [1]),
        };

        FluentActions.Invoking(() => RnnCheckpoint.StripPrefix(model, "encoder.rnn"))
            .Should().Throw<ArgumentException>()
            .WithMessage("No tensor name starts with 'encoder.rnn.'. nn.RNN parameters appear under 'model.encoder.rnn.', 'model.decoder.rnn.'.*");
    }

    public static TheoryData<RnnOptions> Architectures => new()
    {
        new RnnOptions { InputSize = 1, HiddenSize = 1 },
        new RnnOptions { InputSize = 5, HiddenSize = 3, Bias = false },
        new RnnOptions { InputSize = 2, HiddenSize = 7, NumLayers = 3 },
        new RnnOptions { InputSize = 6, HiddenSize = 2, Bidirectional = true },
        new RnnOptions { InputSize = 4, HiddenSize = 5, NumLayers = 3, Bidirectional = true, Bias = false },
    };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void InferOptionsRecoversTheArchitectureFromNamesAndShapes(RnnOptions options)
    {
        IReadOnlyDictionary<string, Tensor<double>> stateDict = new RnnLayer<double>(options).StateDict();

        RnnCheckpoint.InferOptions(stateDict).Should().Be(options);
        RnnCheckpoint.InferOptions(stateDict, Nonlinearity.Relu, batchFirst: true)
            .Should().Be(options with { Nonlinearity = Nonlinearity.Relu, BatchFirst = true });
    }

    public static TheoryData<string, Func<Dictionary<string, Tensor<float>>>, string> Inconsistent => new()
    {
        { "empty", () => [], "The state dict is empty*" },
        {
            "a foreign name next to a prefixed RNN",
            () => With(Parameters(new RnnOptions { InputSize = 2, HiddenSize = 3 }), "rnn.weight_hh_l0", [3, 3]),
            "Not nn.RNN parameter names: 'rnn.weight_hh_l0'. To select the RNN under 'rnn.', use StripPrefix first."
        },
        {
            "an unrelated name",
            () => With(Parameters(new RnnOptions { InputSize = 2, HiddenSize = 3 }), "weight_ih_l0_extra", [1]),
            "Not nn.RNN parameter names: 'weight_ih_l0_extra'."
        },
        {
            "no weight_ih_l0",
            () => Without(Parameters(new RnnOptions { InputSize = 2, HiddenSize = 3 }), "weight_ih_l0"),
            "weight_ih_l0 is missing, so the input and hidden sizes cannot be inferred.*"
        },
        {
            "a 1-D weight_ih_l0",
            () => With(Without(Parameters(new RnnOptions { InputSize = 2, HiddenSize = 3 }), "weight_ih_l0"), "weight_ih_l0", [6]),
            "weight_ih_l0 has shape [6]; an nn.RNN's is (hidden_size, input_size), both > 0.*"
        },
        {
            "a hidden size of 0",
            () => new() { ["weight_ih_l0"] = Tensor.Create(Array.Empty<float>(), [0, 2]), ["weight_hh_l0"] = Tensor.Create(Array.Empty<float>(), [0, 0]) },
            "weight_ih_l0 has shape [0, 2]*"
        },
        {
            "a missing middle layer",
            () => Without(Parameters(new RnnOptions { InputSize = 2, HiddenSize = 3, NumLayers = 3, Bias = false }), "weight_ih_l1", "weight_hh_l1"),
            "The state dict has parameters for layers 0, 2 but not for every layer from 0 to 2.*"
        },
        {
            "a layer index beyond int",
            () => With(Parameters(new RnnOptions { InputSize = 2, HiddenSize = 3 }), "weight_hh_l99999999999", [3, 3]),
            "*layers 0, 2147483647 but not for every layer*"
        },
        {
            "one layer without its reverse direction",
            () => Without(Parameters(new RnnOptions { InputSize = 2, HiddenSize = 3, NumLayers = 2, Bidirectional = true }), "weight_ih_l1_reverse"),
            "*num_layers=2, bias=True, bidirectional=True; but weight_ih_l1_reverse is missing."
        },
        {
            "biases on one layer only",
            () => Without(Parameters(new RnnOptions { InputSize = 2, HiddenSize = 3, NumLayers = 2 }), "bias_ih_l1", "bias_hh_l1"),
            "*but bias_ih_l1 is missing; bias_hh_l1 is missing."
        },
        {
            "a weight_hh that is not square",
            () => With(Without(Parameters(new RnnOptions { InputSize = 2, HiddenSize = 3 }), "weight_hh_l0"), "weight_hh_l0", [3, 2]),
            "*but weight_hh_l0 has shape [3, 2], expected [3, 3]."
        },
        {
            "a second layer reading H instead of 2H features",
            () => With(Without(Parameters(new RnnOptions { InputSize = 2, HiddenSize = 3, NumLayers = 2, Bidirectional = true }), "weight_ih_l1"), "weight_ih_l1", [3, 3]),
            "*but weight_ih_l1 has shape [3, 3], expected [3, 6]."
        },
        {
            "a bias of the wrong length",
            () => With(Without(Parameters(new RnnOptions { InputSize = 2, HiddenSize = 3 }), "bias_hh_l0"), "bias_hh_l0", [4]),
            "*but bias_hh_l0 has shape [4], expected [3]."
        },
    };

    [Theory]
    [MemberData(nameof(Inconsistent))]
    public void InferOptionsRefusesAnInconsistentStateDictSayingWhy(string problem, Func<Dictionary<string, Tensor<float>>> stateDict, string message)
    {
        FluentActions.Invoking(() => RnnCheckpoint.InferOptions(stateDict()))
            .Should().Throw<ArgumentException>().WithMessage(message + " (Parameter 'stateDict')", because: problem);
    }

    private static Dictionary<string, Tensor<float>> Parameters(RnnOptions options) =>
        new RnnLayer<float>(options).StateDict().ToDictionary();

    private static Dictionary<string, Tensor<float>> With(Dictionary<string, Tensor<float>> stateDict, string name, nint[] shape)
    {
        stateDict[name] = Tensor.Create(new float[shape.Aggregate((nint)1, (a, b) => a * b)], shape);
        return stateDict;
    }

    private static Dictionary<string, Tensor<float>> Without(Dictionary<string, Tensor<float>> stateDict, params string[] names)
    {
        foreach (string name in names)
            stateDict.Remove(name);
        return stateDict;
    }

    private static void ShouldHaveTheSameParameters<T>(RnnLayer<T> actual, RnnLayer<T> expected)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        IReadOnlyDictionary<string, Tensor<T>> a = actual.StateDict(), e = expected.StateDict();
        a.Keys.Should().Equal(e.Keys);
        foreach (string name in e.Keys)
            a[name].ShouldEqual(TensorAssert.Shape(e[name]), TensorAssert.Values(e[name]));
    }

    private static readonly string PyBridgeFixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pybridge");

    // Oracle: libtorch 2.10's output and h_n for these weights (NAME.io.safetensors, written with them by
    // tests/ElmanRnn.TorchOracle). Tolerance: max error relative to max(1, max |expected|) ≤ 1e-5 (float32), as in
    // LibtorchFixtureTests.
    private static void ShouldReproduceLibtorch(RnnLayer<float> rnn, string name)
    {
        IReadOnlyDictionary<string, Tensor<float>> io = SafeTensors.Read<float>(Path.Combine(PyBridgeFixtures, name + ".io.safetensors"));
        rnn.Training = false;
        (Tensor<float> output, Tensor<float> hn) = rnn.Forward(io["input"], io["h0"]);
        foreach ((double[] actual, double[] expected) in new[] { (output.ToDoubles(), io["output"].ToDoubles()), (hn.ToDoubles(), io["h_n"].ToDoubles()) })
        {
            actual.Should().HaveSameCount(expected);
            double scale = Math.Max(1, expected.Max(Math.Abs));
            actual.Zip(expected, (a, e) => Math.Abs(a - e) / scale).Max().Should().BeLessThanOrEqualTo(1e-5);
        }
    }

    /// <summary>torch.save(model.state_dict()) of a model whose encoder holds an embedding and the RNN, plus a decoder.</summary>
    private static byte[] WholeModelCheckpoint(IReadOnlyDictionary<string, Tensor<float>> rnn)
    {
        var tensors = new List<PickledTensor> { Contiguous("encoder.embedding.weight", "0", 2, 2) };
        var storages = new List<(string, byte[])> { ("0", F32(1, 2, 3, 4)) };
        foreach ((string name, Tensor<float> tensor) in rnn)
        {
            string key = storages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            tensors.Add(Contiguous("encoder.rnn." + name, key, TensorAssert.Shape(tensor)));
            storages.Add((key, F32(TensorAssert.Values(tensor))));
        }
        tensors.Add(Contiguous("decoder.weight", "d", 1));
        storages.Add(("d", F32(5)));
        return TorchArchive("model", StateDictPickle([.. tensors]), storages);
    }
}
