using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Layout;
using ElmanRnn.Serialization;
using ElmanRnn.TestShared;

namespace ElmanRnn.Tests.Torch;

/// <summary>
/// Oracle: libtorch 2.10 itself. Every golden file under Fixtures/torch was written by tests/ElmanRnn.TorchOracle
/// (eval mode): PyTorch-named weights, the input (packed cases: the padded input and lengths), h0 when given, and
/// libtorch's output and h_n. The file's metadata alone rebuilds the case. Tolerance: max error relative to
/// max(1, max |expected|) ≤ 1e-5 for float32 and ≤ 1e-12 for float64.
/// </summary>
public class LibtorchFixtureTests
{
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures");
    private static readonly HashSet<string> Data = ["input", "lengths", "h0", "output", "h_n"];

    public static IEnumerable<object[]> Golden() =>
        Directory.EnumerateFiles(Path.Combine(Root, "torch"), "*.safetensors").Order().Select(f => new object[] { Path.GetFileName(f) });

    public static IEnumerable<object[]> PyBridge() =>
        Directory.EnumerateFiles(Path.Combine(Root, "pybridge"))
            .Where(f => !f.EndsWith(".io.safetensors", StringComparison.Ordinal)).Order()
            .Select(f => new object[] { Path.GetFileName(f) });

    [Fact]
    public void TheWholeMatrixIsThere()
    {
        // 2 nonlinearities × 2 bias × 3 depths × 2 directions × 4 input kinds × 2 h0 × 2 dtypes.
        Golden().Should().HaveCount(384);
        PyBridge().Should().HaveCount(10);
    }

    [Theory]
    [MemberData(nameof(Golden))]
    public void ReproducesLibtorch(string file)
    {
        string path = Path.Combine(Root, "torch", file);
        if (SafeTensors.ReadMetadata(path)["dtype"] == "float64") Check<double>(path, 1e-12);
        else Check<float>(path, 1e-5);
    }

    [Theory]
    [MemberData(nameof(PyBridge))]
    public void LoadsPyBridgeFilesAndReproducesLibtorch(string file)
    {
        // The .pt (torch.save zip, written by TorchSharp.PyBridge save_py) and .safetensors (save_safetensors) files
        // hold only weights; NAME.io.safetensors beside them holds libtorch's input and results.
        string path = Path.Combine(Root, "pybridge", file);
        string io = Path.Combine(Root, "pybridge", Path.GetFileName(file).Split('.')[0] + ".io.safetensors");
        if (SafeTensors.ReadMetadata(io)["dtype"] == "float64") CheckCheckpoint<double>(path, io, 1e-12);
        else CheckCheckpoint<float>(path, io, 1e-5);
    }

    private static void Check<T>(string path, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var meta = SafeTensors.ReadMetadata(path);
        var tensors = SafeTensors.Read<T>(path);
        var layer = new RnnLayer<T>(TestOracles.FixtureOptions(meta)) { Training = false };
        layer.LoadStateDict(tensors.Where(kv => !Data.Contains(kv.Key)).ToDictionary());
        tensors.TryGetValue("h0", out Tensor<T>? h0);

        if (meta["input_kind"] == "packed")
        {
            int[] lengths = tensors["lengths"].ToDoubles().Select(v => (int)v).ToArray();
            var packed = PackedSequence.PackPadded(tensors["input"], lengths, enforceSorted: false);
            var (output, hn) = layer.Forward(packed, h0);
            var (padded, _) = PackedSequence.PadPacked(output, totalLength: (int)tensors["input"].Lengths[0]);
            Assert(padded, hn);
            // The padded convenience must give the same as packing by hand.
            var direct = layer.Forward(tensors["input"], lengths, h0);
            Assert(direct.Output, direct.Hn);
        }
        else
        {
            var (output, hn) = layer.Forward(tensors["input"], h0);
            Assert(output, hn);
        }

        void Assert(Tensor<T> output, Tensor<T> hn)
        {
            output.Shape().Should().Equal(tensors["output"].Shape());
            hn.Shape().Should().Equal(tensors["h_n"].Shape());
            TestTensors.RelativeError(output.ToDoubles(), tensors["output"].ToDoubles()).Should().BeLessThanOrEqualTo(tolerance, "output");
            TestTensors.RelativeError(hn.ToDoubles(), tensors["h_n"].ToDoubles()).Should().BeLessThanOrEqualTo(tolerance, "h_n");
        }
    }

    private static void CheckCheckpoint<T>(string weights, string io, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var meta = SafeTensors.ReadMetadata(io);
        var tensors = SafeTensors.Read<T>(io);
        RnnLayer<T> layer = RnnCheckpoint.LoadLayer<T>(weights, "", TestOracles.FixtureOptions(meta).Nonlinearity, meta["batch_first"] == "true");
        layer.Options.Should().Be(TestOracles.FixtureOptions(meta), "the architecture is inferred from the weights");
        layer.Training = false;
        tensors.TryGetValue("h0", out Tensor<T>? h0);
        var (output, hn) = layer.Forward(tensors["input"], h0);
        TestTensors.RelativeError(output.ToDoubles(), tensors["output"].ToDoubles()).Should().BeLessThanOrEqualTo(tolerance);
        TestTensors.RelativeError(hn.ToDoubles(), tensors["h_n"].ToDoubles()).Should().BeLessThanOrEqualTo(tolerance);
    }

}
