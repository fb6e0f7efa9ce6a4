using System.IO.Compression;
using System.Numerics.Tensors;
using ElmanRnn.Serialization;

namespace ElmanRnn.Tests.Serialization;

/// <summary>TorchSave.Write: the archive torch.save writes, read back by our reader (bit-exact values, names, order,
/// shapes) and laid out as PyTorch's reader expects (one directory, data.pkl, data/N, version, byteorder).</summary>
public class TorchSaveWriteTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_trained_layer_round_trips_bit_exactly(bool bidirectional)
    {
        var layer = new RnnLayer<float>(new RnnOptions { InputSize = 3, HiddenSize = 5, NumLayers = 2, Bidirectional = bidirectional },
            new Random(1));
        var saved = layer.StateDict();
        using var stream = new MemoryStream();
        TorchSave.Write(stream, saved);
        stream.Position = 0;
        var read = TorchSave.Read<float>(stream);
        read.Keys.Should().Equal(saved.Keys);
        foreach (var (name, tensor) in saved)
        {
            read[name].Lengths.ToArray().Should().Equal(tensor.Lengths.ToArray(), name);
            read[name].ToDoubles().Should().Equal(tensor.ToDoubles(), name);
        }
        var copy = new RnnLayer<float>(layer.Options);
        copy.LoadStateDict(read);
        copy.StateDict()["weight_hh_l1"].ToDoubles().Should().Equal(saved["weight_hh_l1"].ToDoubles());
    }

    [Fact]
    public void Doubles_special_values_and_odd_shapes_survive()
    {
        var tensors = new Dictionary<string, Tensor<double>>
        {
            ["a"] = Tensor.Create(new[] { double.NaN, double.PositiveInfinity, -0.0, double.Epsilon, 1e308, -1 }, [2, 3]),
            ["empty"] = Tensor.Create(Array.Empty<double>(), [0, 4]),
            ["name with ünïcode"] = Tensor.Create(new[] { 7.0 }, [1]),
        };
        using var stream = new MemoryStream();
        TorchSave.Write(stream, tensors);
        stream.Position = 0;
        var read = TorchSave.Read<double>(stream);
        read.Keys.Should().Equal(tensors.Keys);
        BitConverter.DoubleToInt64Bits(read["a"].ToDoubles()[2]).Should().Be(BitConverter.DoubleToInt64Bits(-0.0));
        read["a"].ToDoubles().Should().Equal(tensors["a"].ToDoubles());
        read["empty"].Lengths.ToArray().Should().Equal(0, 4);
    }

    [Fact]
    public void The_archive_has_torch_saves_layout_and_is_reproducible()
    {
        var tensors = new Dictionary<string, Tensor<float>> { ["w"] = Tensor.Create(new[] { 1f, 2f }, [2]) };
        using var first = new MemoryStream();
        using var second = new MemoryStream();
        TorchSave.Write(first, tensors);
        TorchSave.Write(second, tensors);
        first.ToArray().Should().Equal(second.ToArray());
        first.Position = 0;
        using var zip = new ZipArchive(first);
        zip.Entries.Select(e => e.FullName).Should().BeEquivalentTo(
            ["archive/data/0", "archive/data.pkl", "archive/byteorder", "archive/version", "archive/.data/version"]);
        zip.Entries.Should().OnlyContain(e => e.CompressedLength == e.Length);   // stored, as torch.save does
    }
}
