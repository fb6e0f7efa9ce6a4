using System.IO.Compression;
using System.Numerics.Tensors;
using ElmanRnn.Serialization;
using static ElmanRnn.Tests.Serialization.SafeTensorsFiles;
using static ElmanRnn.Tests.Serialization.TorchFiles;

namespace ElmanRnn.Tests.Serialization;

public class TorchSaveTests
{
    /// <summary>
    /// The data.pkl that <c>torch.save(sd, "rnn.pt")</c> writes (pickle protocol 2, the C pickler's memo
    /// numbering) for
    /// <code>
    /// sd = OrderedDict(weight_ih_l0=torch.tensor([[1., 2., 3.], [4., 5., 6.]]), bias_ih_l0=torch.tensor([.5, -.5, 0.]))
    /// sd._metadata = OrderedDict({"": {"version": 1}})   # what Module.state_dict() attaches
    /// </code>
    /// Each tensor pickles through Tensor.__reduce_ex__ as _rebuild_tensor_v2(storage, storage_offset, size,
    /// stride, requires_grad, OrderedDict()); the TypedStorage becomes the persistent id
    /// ('storage', torch.FloatStorage, key, 'cpu', numel). The OrderedDict reduces to (OrderedDict, (), state,
    /// None, items): items follow as SETITEMS and its __dict__ ({'_metadata': ...}) as BUILD.
    /// </summary>
    private static byte[] TorchStateDictPickle() => new PickleBuilder()
        .Proto(2)
        .Global("collections", "OrderedDict").BinPut(0)
        .EmptyTuple()
        .Reduce().BinPut(1)
        .Mark()
            .BinUnicode("weight_ih_l0").BinPut(2)
            .Global("torch._utils", "_rebuild_tensor_v2").BinPut(3)
            .Mark()
                .Mark()
                    .BinUnicode("storage").BinPut(4)
                    .Global("torch", "FloatStorage").BinPut(5)
                    .BinUnicode("0").BinPut(6)
                    .BinUnicode("cpu").BinPut(7)
                    .BinInt1(6)
                .Tuple().BinPut(8)
                .BinPersId()
                .BinInt1(0)
                .BinInt1(2).BinInt1(3).Tuple2().BinPut(9)
                .BinInt1(3).BinInt1(1).Tuple2().BinPut(10)
                .NewFalse()
                .BinGet(0).EmptyTuple().Reduce().BinPut(11)
            .Tuple().BinPut(12)
            .Reduce().BinPut(13)
            .BinUnicode("bias_ih_l0").BinPut(14)
            .BinGet(3)
            .Mark()
                .Mark()
                    .BinGet(4)
                    .BinGet(5)
                    .BinUnicode("1").BinPut(15)
                    .BinGet(7)
                    .BinInt1(3)
                .Tuple().BinPut(16)
                .BinPersId()
                .BinInt1(0)
                .BinInt1(3).Tuple1().BinPut(17)
                .BinInt1(1).Tuple1().BinPut(18)
                .NewFalse()
                .BinGet(0).EmptyTuple().Reduce().BinPut(19)
            .Tuple().BinPut(20)
            .Reduce().BinPut(21)
        .SetItems()
        .EmptyDict().BinPut(22)
        .BinUnicode("_metadata").BinPut(23)
        .BinGet(0).EmptyTuple().Reduce().BinPut(24)
        .BinUnicode("").BinPut(25)
        .EmptyDict().BinPut(26)
        .BinUnicode("version").BinPut(27)
        .BinInt1(1)
        .SetItem()
        .SetItem()
        .SetItem()
        .Build()
        .Stop()
        .ToArray();

    [Fact]
    public void ReadsTheStateDictThatTorchSaveWrites()
    {
        byte[] file = TorchArchive("rnn", TorchStateDictPickle(), [("0", F32(1, 2, 3, 4, 5, 6)), ("1", F32(.5f, -.5f, 0))]);

        IReadOnlyDictionary<string, Tensor<float>> read = TorchSave.Read<float>(new MemoryStream(file));

        read.Keys.Should().Equal("weight_ih_l0", "bias_ih_l0");
        read["weight_ih_l0"].ShouldEqual([2, 3], 1, 2, 3, 4, 5, 6);
        read["bias_ih_l0"].ShouldEqual([3], .5f, -.5f, 0);
    }

    [Fact]
    public void ReadsFromAPathAndFromANonSeekableStream()
    {
        byte[] file = TorchArchive("archive", TorchStateDictPickle(), [("0", F32(1, 2, 3, 4, 5, 6)), ("1", F32(.5f, -.5f, 0))]);
        string path = Path.Combine(Path.GetTempPath(), $"elmanrnn-{Guid.NewGuid():N}.pt");
        try
        {
            File.WriteAllBytes(path, file);

            TorchSave.Read<double>(path)["weight_ih_l0"].ShouldEqual([2, 3], 1, 2, 3, 4, 5, 6);
            TorchSave.Read<double>(new ForwardOnlyStream(file))["bias_ih_l0"].ShouldEqual([3], .5, -.5, 0);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// TorchSharp.PyBridge's save_py pickles a plain dict (Razorvine.Pickle: EMPTY_DICT, MARK ... SETITEMS),
    /// names the folder "model", deflates every record, writes no byteorder record, emits the storage class as a
    /// bare GLOBAL and its empty backward hooks as OrderedDict(()).
    /// </summary>
    [Fact]
    public void ReadsTheArchivesTorchSharpPyBridgeWrites()
    {
        byte[] pickle = new PickleBuilder()
            .Proto(2)
            .EmptyDict().BinPut(0)
            .Mark()
                .BinUnicode("rnn.weight_hh_l0").BinPut(1)
                .Global("torch._utils", "_rebuild_tensor_v2")
                .Mark()
                    .Mark().BinUnicode("storage").BinPut(2).Global("torch", "DoubleStorage").BinUnicode("0").BinPut(3).BinUnicode("cpu").BinPut(4).BinInt1(4).Tuple().BinPut(5)
                    .BinPersId()
                    .BinInt1(0)
                    .BinInt1(2).BinInt1(2).Tuple2().BinPut(6)
                    .BinInt1(2).BinInt1(1).Tuple2().BinPut(7)
                    .NewTrue()
                    .Global("collections", "OrderedDict").EmptyTuple().Tuple1().BinPut(8).Reduce().BinPut(9)
                .Tuple().BinPut(10)
                .Reduce().BinPut(11)
            .SetItems()
            .Stop()
            .ToArray();
        byte[] file = Zip([("model/version", "3\n"u8.ToArray()), ("model/data/0", F64(1, -2, 0.25, 1e-3)), ("model/data.pkl", pickle)], CompressionLevel.Optimal);

        TorchSave.Read<double>(new MemoryStream(file))["rnn.weight_hh_l0"].ShouldEqual([2, 2], 1, -2, 0.25, 1e-3);
    }

    [Fact]
    public void StridedViewsAndSharedStoragesAreMaterialisedAsIndependentDenseTensors()
    {
        // One storage 0..11 (as cuDNN's flatten_parameters leaves an RNN): w is its first 6 elements read
        // transposed (3x2, stride (1, 3)), b is elements 6..8, and every other element from 7 on is a strided vector.
        byte[] pickle = StateDictPickle(
            new PickledTensor("w", "FloatStorage", "0", 12, 0, [3, 2], [1, 3]),
            new PickledTensor("b", "FloatStorage", "0", 12, 6, [3], [1]),
            new PickledTensor("odd", "FloatStorage", "0", 12, 7, [3], [2]));
        byte[] file = TorchArchive("archive", pickle, [("0", F32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11))]);

        IReadOnlyDictionary<string, Tensor<float>> read = TorchSave.Read<float>(new MemoryStream(file));

        read["w"].ShouldEqual([3, 2], 0, 3, 1, 4, 2, 5);
        read["b"].ShouldEqual([3], 6, 7, 8);
        read["odd"].ShouldEqual([3], 7, 9, 11);
        read["b"][0] = 100;
        read["odd"][0].Should().Be(7, "tensors that shared a storage in the file do not alias after loading");
    }

    [Fact]
    public void AViewWhoseStridesInterleaveWithoutOverlapIsRead()
    {
        // Size (3, 2), stride (2, 3) reads storage elements 0, 3, 2, 5, 4, 7: each once, though the strides are not
        // nested like a transpose's. Oracle: those offsets, computed by hand; refusing overlaps must not refuse this.
        byte[] pickle = StateDictPickle(new PickledTensor("w", "FloatStorage", "0", 8, 0, [3, 2], [2, 3]));
        byte[] file = TorchArchive("archive", pickle, [("0", F32(0, 1, 2, 3, 4, 5, 6, 7))]);

        TorchSave.Read<float>(new MemoryStream(file))["w"].ShouldEqual([3, 2], 0, 3, 2, 5, 4, 7);
    }

    // Hand-computed: half 0x3C00 = 1, 0xB800 = -0.5; bfloat16 0x4000 = 2, 0xBE80 = -0.25.
    [Fact]
    public void EveryStorageTypeIsConvertedToT()
    {
        byte[] pickle = StateDictPickle(
            new PickledTensor("d", "DoubleStorage", "0", 2, 0, [2], [1]),
            new PickledTensor("h", "HalfStorage", "1", 2, 0, [2], [1]),
            new PickledTensor("bf", "BFloat16Storage", "2", 2, 0, [2], [1]),
            new PickledTensor("l", "LongStorage", "3", 2, 0, [2], [1]),
            new PickledTensor("i", "IntStorage", "4", 1, 0, [1], [1]),
            new PickledTensor("s", "ShortStorage", "5", 1, 0, [1], [1]),
            new PickledTensor("c", "CharStorage", "6", 1, 0, [1], [1]),
            new PickledTensor("u", "ByteStorage", "7", 1, 0, [1], [1]));
        byte[] file = TorchArchive("archive", pickle,
        [
            ("0", F64(0.1, -3)), ("1", U16(0x3C00, 0xB800)), ("2", U16(0x4000, 0xBE80)), ("3", I64(-5, 1L << 33)),
            ("4", I32(-7)), ("5", U16(0xFFFE)), ("6", [0xFF]), ("7", [0xFF]),
        ]);

        IReadOnlyDictionary<string, Tensor<float>> read = TorchSave.Read<float>(new MemoryStream(file));

        read["d"].ShouldEqual([2], 0.1f, -3f);
        read["h"].ShouldEqual([2], 1f, -0.5f);
        read["bf"].ShouldEqual([2], 2f, -0.25f);
        read["l"].ShouldEqual([2], -5f, 1L << 33);
        read["i"].ShouldEqual([1], -7f);
        read["s"].ShouldEqual([1], -2f);
        read["c"].ShouldEqual([1], -1f);
        read["u"].ShouldEqual([1], 255f);
    }

    [Fact]
    public void BigEndianArchivesAreReadInTheirByteOrder()
    {
        byte[] pickle = StateDictPickle(Contiguous("w", "0", 2));
        byte[] file = TorchArchive("archive", pickle, [("0", [0x3F, 0xC0, 0x00, 0x00, 0xC0, 0x20, 0x00, 0x00])], byteOrder: "big");

        TorchSave.Read<float>(new MemoryStream(file))["w"].ShouldEqual([2], 1.5f, -2.5f);
    }

    [Fact]
    public void ArchivesWithoutAByteOrderRecordAreLittleEndian()
    {
        byte[] file = TorchArchive("archive", StateDictPickle(Contiguous("w", "0", 2)), [("0", F32(1.5f, -2.5f))], byteOrder: null);

        TorchSave.Read<float>(new MemoryStream(file))["w"].ShouldEqual([2], 1.5f, -2.5f);
    }

    [Fact]
    public void ZeroDimensionalAndEmptyTensorsKeepTheirElements()
    {
        byte[] pickle = StateDictPickle(
            new PickledTensor("step", "LongStorage", "0", 1, 0, [], []),
            new PickledTensor("none", "FloatStorage", "1", 0, 0, [0, 3], [3, 1]));
        byte[] file = TorchArchive("archive", pickle, [("0", I64(9)), ("1", [])]);

        IReadOnlyDictionary<string, Tensor<float>> read = TorchSave.Read<float>(new MemoryStream(file));

        read["step"].ShouldEqual([1], 9f);
        read["none"].ShouldEqual([0, 3]);
    }

    /// <summary>
    /// <c>torch.save({"model": model.state_dict(), "epoch": 7, "loss": 0.25, "tags": ["a", None], "step": 2**40,
    /// "best": (1, 2, 3)}, f, pickle_protocol=4)</c> with a parameter saved as nn.Parameter, under protocol 4's
    /// FRAME, SHORT_BINUNICODE, MEMOIZE and STACK_GLOBAL: nested dicts flatten to dotted names and
    /// everything that is not a tensor is skipped.
    /// </summary>
    [Fact]
    public void CheckpointsWithNestedDictsFlattenToDottedNamesAndSkipOtherValues()
    {
        var p = new PickleBuilder().Proto(4).Frame(0)
            .EmptyDict().Memoize()
            .Mark()
                .ShortBinUnicode("model").Memoize()
                .ShortBinUnicode("collections").Memoize().ShortBinUnicode("OrderedDict").Memoize().StackGlobal().Memoize() // memo 4
                .EmptyTuple().Reduce().Memoize()
                .ShortBinUnicode("rnn.weight_ih_l0").Memoize()
                .Tensor(Contiguous("", "0", 1, 2))
                .SetItem()
                .BinUnicode8("rnn.bias_ih_l0")
                .ShortBinUnicode("torch._utils").ShortBinUnicode("_rebuild_parameter").StackGlobal()
                .Tensor(Contiguous("", "1", 1)).NewTrue().LongBinGet(4).EmptyTuple().Reduce().Tuple3()
                .Reduce()
                .SetItem()
                .ShortBinUnicode("epoch").BinInt1(7)
                .ShortBinUnicode("loss").BinFloat(0.25)
                .ShortBinUnicode("tags").EmptyList().LongBinPut(1000).ShortBinUnicode("a").Append().Mark().None().Appends()
                .ShortBinUnicode("step").Int(1L << 40)
                .ShortBinUnicode("best").BinInt1(1).BinInt2(512).BinInt(-70000).Tuple3()
            .SetItems()
            .Stop();
        byte[] file = TorchArchive("ckpt", p.ToArray(), [("0", F32(1, 2)), ("1", F32(3))]);

        IReadOnlyDictionary<string, Tensor<float>> read = TorchSave.Read<float>(new MemoryStream(file));

        read.Keys.Should().Equal("model.rnn.weight_ih_l0", "model.rnn.bias_ih_l0");
        read["model.rnn.weight_ih_l0"].ShouldEqual([1, 2], 1, 2);
        read["model.rnn.bias_ih_l0"].ShouldEqual([1], 3);
    }

    /// <summary>Tensors that carry metadata (e.g. from torch.utils.set_tensor_metadata) get a 7th rebuild argument.</summary>
    [Fact]
    public void TheOptionalTensorMetadataArgumentIsAccepted()
    {
        byte[] pickle = new PickleBuilder().Proto(2)
            .EmptyDict()
            .BinUnicode("w")
            .Global("torch._utils", "_rebuild_tensor_v2")
            .Mark()
                .Mark().BinUnicode("storage").Global("torch", "FloatStorage").BinUnicode("0").BinUnicode("cpu").BinInt1(1).Tuple().BinPersId()
                .BinInt1(0).BinInt1(1).Tuple1().BinInt1(1).Tuple1().NewFalse()
                .Global("collections", "OrderedDict").EmptyTuple().Reduce()
                .EmptyDict().BinUnicode("tag").NewTrue().SetItem()
            .Tuple()
            .Reduce()
            .SetItem()
            .Stop()
            .ToArray();

        TorchSave.Read<float>(new MemoryStream(TorchArchive("archive", pickle, [("0", F32(4))])))["w"].ShouldEqual([1], 4f);
    }
}
