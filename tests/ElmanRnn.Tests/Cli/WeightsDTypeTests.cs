using System.Numerics.Tensors;
using ElmanRnn.Cli;
using ElmanRnn.Serialization;
using static ElmanRnn.Tests.Serialization.SafeTensorsFiles;
using static ElmanRnn.Tests.Serialization.TorchFiles;

namespace ElmanRnn.Tests.Cli;

/// <summary>
/// How <c>run</c> picks its default dtype from a checkpoint without loading it. Oracle: the dtypes the files were
/// written with (the PyBridge fixtures by libtorch, the rest assembled here).
/// </summary>
public sealed class WeightsDTypeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("elmanrnn-dtype-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Save(string name, byte[] bytes)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static DType? Detect(string path, string prefix)
    {
        using FileStream stream = File.OpenRead(path);
        DType? dtype = WeightsDType.Detect(stream, prefix);
        stream.Position.Should().Be(0, "the loader reads the same stream next");
        return dtype;
    }

    [Theory]
    [InlineData("rnn_tanh_bi_l2.pt", "Float32")]
    [InlineData("rnn_tanh_bi_l2.safetensors", "Float32")]
    [InlineData("rnn_tanh_bi_l2_f64.pt", "Float64")]
    [InlineData("rnn_tanh_bi_l2_f64.safetensors", "Float64")]
    public void TheDTypeIsReadOffTheFilesLibtorchWrote(string file, string dtype)
    {
        Detect(Path.Combine(AppContext.BaseDirectory, "Fixtures", "pybridge", file), "").ToString().Should().Be(dtype);
    }

    [Fact]
    public void MixedSafeTensorsHaveNoDTypeUntilThePrefixSelectsOne()
    {
        string path = Save("model.safetensors", Build(
            """{"rnn.weight_ih_l0":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"head.weight":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""",
            [.. F64(1), .. F32(2)]));

        Detect(path, "").Should().BeNull();
        Detect(path, "rnn").Should().Be(DType.Float64);
        Detect(path, "head.").Should().Be(DType.Float32);
    }

    [Fact]
    public void HalfPrecisionSafeTensorsRunInFloat32AndIntegersDoNotCount()
    {
        string path = Save("half.safetensors", Build(
            """{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]},"step":{"dtype":"I64","shape":[1],"data_offsets":[4,12]}}""",
            [.. U16(0x3C00), .. U16(0x3F80), .. I64(7)]));

        Detect(path, "").Should().Be(DType.Float32);
    }

    [Fact]
    public void TorchSaveFilesAreJudgedByTheStorageClassesTheyName()
    {
        byte[] Archive(params string[] storageClasses) => TorchArchive("archive",
            StateDictPickle(storageClasses.Select((c, i) => Contiguous($"t{i}", $"{i}", 1) with { StorageClass = c }).ToArray()),
            storageClasses.Select((_, i) => ($"{i}", new byte[8])).ToArray());

        Detect(Save("f64.pt", Archive("DoubleStorage", "DoubleStorage")), "").Should().Be(DType.Float64);
        Detect(Save("f32.pt", Archive("FloatStorage")), "").Should().Be(DType.Float32);
        Detect(Save("f16.pt", Archive("HalfStorage", "BFloat16Storage")), "").Should().Be(DType.Float32);
        Detect(Save("mixed.pt", Archive("DoubleStorage", "FloatStorage")), "").Should().BeNull();
    }

    [Fact]
    public void AnUnreadableFileHasNoDTypeAndIsLeftToTheLoaderToReport()
    {
        Detect(Save("empty.pt", []), "").Should().BeNull();
        Detect(Save("short.safetensors", [1, 2, 3]), "").Should().BeNull();
        Detect(Save("huge-header.safetensors", Length(1L << 40)), "").Should().BeNull();
        Detect(Save("not-json.safetensors", Build("{nope", [])), "").Should().BeNull();
        Detect(Save("array.safetensors", Build("[1, 2]", [])), "").Should().BeNull();
        Detect(Save("broken.pt", [.. "PK\x03\x04"u8, .. new byte[40]]), "").Should().BeNull();
    }

    [Fact]
    public void FilesTheLibraryWritesAreRecognised()
    {
        string path = Path.Combine(_directory, "written.safetensors");
        SafeTensors.Write(path, new Dictionary<string, Tensor<double>> { ["weight_ih_l0"] = Tensor.Create([1.0], [1, 1]) });

        Detect(path, "").Should().Be(DType.Float64);
    }
}
