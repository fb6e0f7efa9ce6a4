using System.IO.Compression;
using System.Text;
using ElmanRnn.Serialization;
using static ElmanRnn.Tests.Serialization.SafeTensorsFiles;
using static ElmanRnn.Tests.Serialization.TorchFiles;

namespace ElmanRnn.Tests.Serialization;

/// <summary>
/// Every malformed or hostile torch.save file is refused with <see cref="InvalidDataException"/> whose message
/// names the problem (the opcode, the global, the record, the storage): nothing in the file is executed, no read
/// leaves a buffer, and nothing the file merely claims is allocated.
/// </summary>
public class TorchSaveHostileFileTests
{
    private static PickleBuilder P() => new PickleBuilder().Proto(2);

    private static byte[] InArchive(byte[] pickle, params (string Key, byte[] Bytes)[] storages) => TorchArchive("archive", pickle, storages);

    private static byte[] InArchive(PickleBuilder pickle) => InArchive(pickle.ToArray());

    private static byte[] ValidFile() => InArchive(StateDictPickle(Contiguous("w", "0", 2, 3)), ("0", F32(1, 2, 3, 4, 5, 6)));

    public static TheoryData<string, byte[], string> ArchiveCases => new()
    {
        { "not a zip", Encoding.ASCII.GetBytes("definitely not a zip archive"), "Not a torch.save file: it is not a readable zip archive" },
        {
            "legacy (pre-1.6) torch.save format",
            [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E],
            "_use_new_zipfile_serialization=False (the pre-1.6 format) are not supported"
        },
        { "zip cut in half", ValidFile()[..(ValidFile().Length / 2)], "Not a torch.save file: it is not a readable zip archive" },
        { "zip missing its last 10 bytes", ValidFile()[..^10], "Not a torch.save file: it is not a readable zip archive" },
        { "zip without data.pkl", Zip([("archive/version", "3\n"u8.ToArray())], CompressionLevel.NoCompression), "has no {archive}/data.pkl record" },
        {
            "two data.pkl records",
            Zip([("a/data.pkl", StateDictPickle()), ("b/data.pkl", StateDictPickle())], CompressionLevel.NoCompression),
            "several data.pkl records (a/data.pkl, b/data.pkl)"
        },
        { "unknown byte order", TorchArchive("archive", StateDictPickle(), [], byteOrder: "middle"), "byteorder 'middle'; expected 'little' or 'big'" },
        { "storage record missing", InArchive(StateDictPickle(Contiguous("w", "1", 2))), "missing the record 'archive/data/1' of storage '1'" },
        {
            "storage record shorter than its storage",
            InArchive(StateDictPickle(Contiguous("w", "0", 3)), ("0", F32(1, 2))),
            "record 'archive/data/0' has 8 bytes, but its storage holds 3 elements of F32 (12 bytes)"
        },
        {
            "storage claiming 2^60 elements over 4 bytes",
            InArchive(StateDictPickle(new PickledTensor("w", "FloatStorage", "0", 1L << 60, 0, [1], [1])), ("0", F32(1))),
            "has 4 bytes, but its storage holds 1152921504606846976 elements"
        },
        { "a list instead of a dict", InArchive(P().EmptyList().Stop()), "holds a list, not a dict of tensors" },
        { "an int instead of a dict", InArchive(P().BinInt1(3).Stop()), "holds an int, not a dict of tensors" },
        { "a single tensor instead of a dict", InArchive(P().Tensor(Contiguous("", "0", 1)).Stop().ToArray(), ("0", F32(1))), "holds a single tensor, not a dict" },
        {
            "a name that occurs twice once flattened",
            InArchive(P().EmptyDict()
                .BinUnicode("a.b").Tensor(Contiguous("", "0", 1)).SetItem()
                .BinUnicode("a").EmptyDict().BinUnicode("b").Tensor(Contiguous("", "0", 1)).SetItem().SetItem()
                .Stop().ToArray(), ("0", F32(1))),
            "names the tensor 'a.b' twice"
        },
        { "a dict that contains itself", InArchive(P().EmptyDict().BinPut(0).BinUnicode("x").BinGet(0).SetItem().Stop()), "nests dicts more than 32 deep" },
    };

    public static TheoryData<string, byte[], string> PickleCases => new()
    {
        { "os.system (the classic pickle exploit)", InArchive(P().Global("os", "system").BinUnicode("echo pwned").Tuple1().Reduce().Stop()), "global 'os.system' is not allowed" },
        {
            "builtins.eval through STACK_GLOBAL",
            InArchive(new PickleBuilder().Proto(4).ShortBinUnicode("builtins").ShortBinUnicode("eval").StackGlobal().ShortBinUnicode("1+1").Tuple1().Reduce().Stop()),
            "global 'builtins.eval' is not allowed"
        },
        { "a torch global outside the allowlist", InArchive(P().Global("torch._utils", "_rebuild_qtensor").Stop()), "global 'torch._utils._rebuild_qtensor' is not allowed" },
        { "INST, which instantiates any class", InArchive(P().Raw((byte)'i').Raw("os\nsystem\n"u8.ToArray()).Stop()), "unsupported pickle opcode 0x69 'i'" },
        { "a byte that is no opcode", InArchive(P().Raw(0xFF)), "unsupported pickle opcode 0xFF;" },
        { "REDUCE on an empty stack", InArchive(P().Reduce()), "at byte 2: stack underflow" },
        { "TUPLE2 with one item", InArchive(P().BinInt1(1).Tuple2()), "stack underflow" },
        { "SETITEM reaching below its MARK", InArchive(P().EmptyDict().Mark().BinInt1(1).SetItem()), "stack underflow" },
        { "SETITEMS without a MARK", InArchive(P().EmptyDict().SetItems()), "no MARK to pop to" },
        { "SETITEMS with an odd item count", InArchive(P().EmptyDict().Mark().BinUnicode("k").SetItems()), "SETITEMS has an odd number of items" },
        { "APPEND to a dict", InArchive(P().EmptyDict().BinInt1(1).Append()), "APPEND applied to a value that is not a list" },
        { "SETITEM on a list", InArchive(P().EmptyList().BinUnicode("k").BinInt1(1).SetItem()), "SETITEM applied to a value that is not a dict" },
        { "no STOP", InArchive(P().EmptyDict()), "the pickle ends in the middle of an opcode" },
        { "a string longer than the pickle", InArchive(P().Raw((byte)'X', 0xFF, 0xFF, 0xFF, 0x7F, (byte)'a')), "the pickle ends in the middle of an opcode" },
        { "a memo read before any write", InArchive(P().BinGet(5).Stop()), "memo entry 5 is read before it is stored" },
        { "pickle protocol 6", InArchive(new PickleBuilder().Proto(6).EmptyDict().Stop()), "pickle protocol 6 is newer than the supported 5" },
        { "a FRAME longer than the pickle", InArchive(new PickleBuilder().Proto(4).Frame(1000).EmptyDict().Stop()), "FRAME of 1000 bytes runs past the end" },
        { "a 9-byte LONG1", InArchive(P().Long1(1, 2, 3, 4, 5, 6, 7, 8, 9).Stop()), "LONG1 integer of 9 bytes does not fit in 64 bits" },
        { "a string that is not UTF-8", InArchive(P().Raw((byte)'X', 2, 0, 0, 0, 0xC3, 0x28).Stop()), "a string is not valid UTF-8" },
        { "GLOBAL without its newline", InArchive(P().Raw((byte)'c').Raw("collections"u8.ToArray())), "GLOBAL has no terminating newline" },
        { "a None dict key", InArchive(P().EmptyDict().None().BinInt1(1).SetItem().Stop()), "dictionary key None is not a string, integer or bool" },
        { "REDUCE on a string", InArchive(P().BinUnicode("f").EmptyTuple().Reduce().Stop()), "REDUCE applied to a value that is not callable" },
        { "BUILD on a list", InArchive(P().EmptyList().EmptyDict().Build().Stop()), "BUILD applied to a value that is not a dict" },
        { "a storage class called directly", InArchive(P().Global("torch", "FloatStorage").EmptyTuple().Reduce().Stop()), "torch.FloatStorage may only appear inside a persistent id" },
        { "a persistent id that is a string", InArchive(P().BinUnicode("/etc/passwd").BinPersId().Stop()), "persistent id is not a ('storage', storage_type, key, location, numel) tuple" },
        {
            "a persistent id whose storage type is a string",
            InArchive(P().Mark().BinUnicode("storage").BinUnicode("FloatStorage").BinUnicode("0").BinUnicode("cpu").BinInt1(1).Tuple().BinPersId().Stop()),
            "persistent id does not name a storage class"
        },
        {
            "a persistent id with a negative element count",
            InArchive(P().Mark().BinUnicode("storage").Global("torch", "FloatStorage").BinUnicode("0").BinUnicode("cpu").Int(-1).Tuple().BinPersId().Stop()),
            "persistent id has a malformed key, location or element count"
        },
        {
            "one storage key with two element types",
            InArchive(StateDictPickle(Contiguous("a", "0", 1), new PickledTensor("b", "DoubleStorage", "0", 1, 0, [1], [1]))),
            "storage '0' is referenced as 1 x F32 and as 1 x F64"
        },
        {
            "_rebuild_tensor_v2 with five arguments",
            InArchive(P().Global("torch._utils", "_rebuild_tensor_v2").Mark().BinInt1(0).BinInt1(0).EmptyTuple().EmptyTuple().NewFalse().Tuple().Reduce().Stop()),
            "torch._utils._rebuild_tensor_v2 expects (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])"
        },
        {
            "_rebuild_parameter of a non-tensor",
            InArchive(P().Global("torch._utils", "_rebuild_parameter").BinInt1(0).NewFalse().EmptyDict().Tuple3().Reduce().Stop()),
            "torch._utils._rebuild_parameter expects (tensor, requires_grad, backward_hooks)"
        },
        {
            "OrderedDict built from items",
            InArchive(P().Global("collections", "OrderedDict").EmptyList().Mark().BinUnicode("k").BinInt1(1).Tuple().Append().Tuple1().Reduce().Stop()),
            "collections.OrderedDict is only supported empty"
        },
        {
            "a size that is not an integer",
            InArchive(P().Global("torch._utils", "_rebuild_tensor_v2").Mark()
                .Mark().BinUnicode("storage").Global("torch", "FloatStorage").BinUnicode("0").BinUnicode("cpu").BinInt1(1).Tuple().BinPersId()
                .BinInt1(0).BinUnicode("1").Tuple1().BinInt1(1).Tuple1().NewFalse().EmptyDict().Tuple().Reduce().Stop()),
            "tensor size holds a non-integer"
        },
        { "a negative size", InArchive(StateDictPickle(new PickledTensor("w", "FloatStorage", "0", 4, 0, [-1], [1]))), "tensor size [-1], stride [1] at offset 0 has a negative size, stride or offset" },
        { "a negative stride", InArchive(StateDictPickle(new PickledTensor("w", "FloatStorage", "0", 4, 3, [2], [-1]))), "has a negative size, stride or offset" },
        { "a negative offset", InArchive(StateDictPickle(new PickledTensor("w", "FloatStorage", "0", 4, -1, [2], [1]))), "has a negative size, stride or offset" },
        { "sizes and strides of different ranks", InArchive(StateDictPickle(new PickledTensor("w", "FloatStorage", "0", 4, 0, [2, 2], [1]))), "different numbers of sizes and strides" },
        {
            "an offset that pushes the view past the storage",
            InArchive(StateDictPickle(new PickledTensor("w", "FloatStorage", "0", 6, 1, [2, 3], [3, 1]))),
            "tensor size [2, 3], stride [3, 1] at offset 1 reaches past the end of storage '0', which holds 6 elements"
        },
        {
            "a stride that steps past the storage",
            InArchive(StateDictPickle(new PickledTensor("w", "FloatStorage", "0", 6, 0, [2, 3], [4, 1]))),
            "reaches past the end of storage '0'"
        },
        {
            "an empty view starting past the storage",
            InArchive(StateDictPickle(new PickledTensor("w", "FloatStorage", "0", 6, 7, [0], [1]))),
            "empty tensor size [0], stride [1] at offset 7 starts past the end of storage '0'"
        },
        {
            "absurd sizes whose element count overflows 64 bits",
            InArchive(StateDictPickle(new PickledTensor("w", "FloatStorage", "0", 6, 0, [1L << 62, 1L << 62, 1L << 62], [1, 1, 1]))),
            "reaches past the end of storage '0'"
        },
        {
            "an expanded view of 2^40 elements over one",
            InArchive(StateDictPickle(new PickledTensor("w", "FloatStorage", "0", 1, 0, [1L << 40], [0]))),
            "has more elements than its storage '0' (1); overlapping views are not supported"
        },
        // Oracle: TorchSave's documented rule that self-overlapping views are refused. These fit inside their
        // storage, so only reading an element twice gives them away.
        {
            "a stride-0 view as torch's expand() leaves it",
            InArchive(StateDictPickle(new PickledTensor("w", "FloatStorage", "0", 4, 0, [4], [0])), ("0", F32(1, 2, 3, 4))),
            "tensor 'w' of size [4], stride [0] reads storage element 0 more than once; views that overlap themselves (expanded, stride 0) are not supported."
        },
        {
            "rows that overlap by one element",
            InArchive(StateDictPickle(new PickledTensor("w", "FloatStorage", "0", 4, 0, [2, 2], [1, 1])), ("0", F32(1, 2, 3, 4))),
            "tensor 'w' of size [2, 2], stride [1, 1] reads storage element 1 more than once"
        },
    };

    [Theory]
    [MemberData(nameof(ArchiveCases))]
    [MemberData(nameof(PickleCases))]
    public void IsRefusedWithAMessageNamingTheProblem(string problem, byte[] file, string message)
    {
        FluentActions.Invoking(() => TorchSave.Read<float>(new MemoryStream(file)))
            .Should().Throw<InvalidDataException>().WithMessage($"*{message}*", because: problem);
    }

    [Fact]
    public void CorruptCompressedStorageBytesAreReportedWithTheRecordName()
    {
        byte[] storage = F32([.. Enumerable.Range(0, 256).Select(i => (float)(i % 7))]);
        byte[] file = Zip([("archive/data.pkl", StateDictPickle(Contiguous("w", "0", 256))), ("archive/data/0", storage)], CompressionLevel.Optimal);
        int dataStart = IndexOf(file, "archive/data/0"u8.ToArray()) + "archive/data/0".Length;
        for (int i = dataStart + 2; i < dataStart + 12; i++)
            file[i] ^= 0x5A;

        FluentActions.Invoking(() => TorchSave.Read<float>(new MemoryStream(file)))
            .Should().Throw<InvalidDataException>().WithMessage("*record 'archive/data/0'*");
    }

    [Fact]
    public void AStorageClaimingGigabytesAllocatesNothingBeforeFailing()
    {
        byte[] file = InArchive(StateDictPickle(new PickledTensor("w", "DoubleStorage", "0", 1L << 28, 0, [1L << 28], [1])), ("0", F64(1)));
        long before = GC.GetAllocatedBytesForCurrentThread();

        FluentActions.Invoking(() => TorchSave.Read<double>(new MemoryStream(file))).Should().Throw<InvalidDataException>();

        (GC.GetAllocatedBytesForCurrentThread() - before).Should().BeLessThan(10_000_000, "2 GiB were claimed, 8 bytes are present");
    }

    private static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);
}
