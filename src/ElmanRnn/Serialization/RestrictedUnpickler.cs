using System.Buffers.Binary;
using System.Text;
using ElmanRnn.Layout;

namespace ElmanRnn.Serialization;

/// <summary>
/// Evaluates the pickle of a <c>torch.save</c> state dict without executing anything: the opcodes a state dict
/// uses (protocols 2–5) are interpreted here, and the only callables are the handful of allowlisted globals that
/// rebuild tensors and ordered dicts. Any other global or opcode is refused, which is what makes loading an
/// untrusted file safe (the same idea as <c>torch.load(weights_only=True)</c>, but stricter).
/// </summary>
/// <remarks>
/// The result is a graph of plain values: <c>null</c> (None), bool, long, double, string, <c>object?[]</c>
/// (tuple), <see cref="List{T}"/> of object (list), <see cref="OrderedDictionary{TKey, TValue}"/> of object to
/// object (dict and OrderedDict) and <see cref="TensorRef"/>. Every push consumes at least one input byte, so
/// the stack, memo and graph stay proportional to the pickle's size.
/// </remarks>
internal sealed class RestrictedUnpickler
{
    private const int HighestProtocol = 5;

    private enum Callable { OrderedDict, RebuildTensorV2, RebuildParameter }

    private sealed record StorageClass(string Name, ElementType Type);

    // torch.save pickles each storage class as a global (torch.FloatStorage, ...) inside the persistent id.
    private static readonly Dictionary<(string Module, string Name), object> AllowedGlobals = new()
    {
        [("collections", "OrderedDict")] = Callable.OrderedDict,
        [("torch._utils", "_rebuild_tensor_v2")] = Callable.RebuildTensorV2,
        [("torch._utils", "_rebuild_parameter")] = Callable.RebuildParameter,
        [("torch", "DoubleStorage")] = new StorageClass("torch.DoubleStorage", ElementType.F64),
        [("torch", "FloatStorage")] = new StorageClass("torch.FloatStorage", ElementType.F32),
        [("torch", "HalfStorage")] = new StorageClass("torch.HalfStorage", ElementType.F16),
        [("torch", "BFloat16Storage")] = new StorageClass("torch.BFloat16Storage", ElementType.BF16),
        [("torch", "LongStorage")] = new StorageClass("torch.LongStorage", ElementType.I64),
        [("torch", "IntStorage")] = new StorageClass("torch.IntStorage", ElementType.I32),
        [("torch", "ShortStorage")] = new StorageClass("torch.ShortStorage", ElementType.I16),
        [("torch", "CharStorage")] = new StorageClass("torch.CharStorage", ElementType.I8),
        [("torch", "ByteStorage")] = new StorageClass("torch.ByteStorage", ElementType.U8),
    };

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly byte[] _pickle;
    private int _position;
    private int _opcodeStart;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new(); // stack heights at each MARK
    private readonly Dictionary<uint, object?> _memo = [];
    private readonly Dictionary<string, StorageRef> _storages = new(StringComparer.Ordinal);

    private RestrictedUnpickler(byte[] pickle) => _pickle = pickle;

    /// <summary>Evaluates <paramref name="pickle"/> and returns the object its STOP opcode leaves.</summary>
    /// <exception cref="InvalidDataException">The pickle is malformed or uses anything outside the allowlist.</exception>
    public static object? Load(byte[] pickle) => new RestrictedUnpickler(pickle).Run();

    private object? Run()
    {
        while (true)
        {
            _opcodeStart = _position;
            byte opcode = ReadByte();
            switch (opcode)
            {
                case 0x80: // PROTO
                    byte protocol = ReadByte();
                    if (protocol > HighestProtocol)
                        throw Fail($"pickle protocol {protocol} is newer than the supported {HighestProtocol}");
                    break;
                case 0x95: // FRAME: a length prefix for buffered reading; the data that follows is ordinary opcodes
                    ulong frameLength = BinaryPrimitives.ReadUInt64LittleEndian(Read(8));
                    if (frameLength > (ulong)(_pickle.Length - _position))
                        throw Fail($"FRAME of {frameLength} bytes runs past the end of the pickle");
                    break;
                case (byte)'.': // STOP
                    return Pop();

                case (byte)'(': // MARK
                    _marks.Push(_stack.Count);
                    break;
                case (byte)'N': // NONE
                    Push(null);
                    break;
                case 0x88: // NEWTRUE
                    Push(true);
                    break;
                case 0x89: // NEWFALSE
                    Push(false);
                    break;
                case (byte)'K': // BININT1
                    Push((long)ReadByte());
                    break;
                case (byte)'M': // BININT2
                    Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Read(2)));
                    break;
                case (byte)'J': // BININT
                    Push((long)BinaryPrimitives.ReadInt32LittleEndian(Read(4)));
                    break;
                case 0x8a: // LONG1
                    Push(ReadLong1());
                    break;
                case (byte)'G': // BINFLOAT
                    Push(BinaryPrimitives.ReadDoubleBigEndian(Read(8)));
                    break;
                case (byte)'X': // BINUNICODE
                    Push(ReadString(BinaryPrimitives.ReadUInt32LittleEndian(Read(4))));
                    break;
                case 0x8c: // SHORT_BINUNICODE
                    Push(ReadString(ReadByte()));
                    break;
                case 0x8d: // BINUNICODE8
                    Push(ReadString(BinaryPrimitives.ReadUInt64LittleEndian(Read(8))));
                    break;

                case (byte)')': // EMPTY_TUPLE
                    Push(Array.Empty<object?>());
                    break;
                case 0x85: // TUPLE1
                    Push(PopTuple(1));
                    break;
                case 0x86: // TUPLE2
                    Push(PopTuple(2));
                    break;
                case 0x87: // TUPLE3
                    Push(PopTuple(3));
                    break;
                case (byte)'t': // TUPLE
                    Push(PopToMark().ToArray());
                    break;
                case (byte)']': // EMPTY_LIST
                    Push(new List<object?>());
                    break;
                case (byte)'a': // APPEND
                    object? item = Pop();
                    Peek<List<object?>>("APPEND").Add(item);
                    break;
                case (byte)'e': // APPENDS
                    List<object?> items = PopToMark();
                    Peek<List<object?>>("APPENDS").AddRange(items);
                    break;
                case (byte)'}': // EMPTY_DICT
                    Push(new OrderedDictionary<object, object?>());
                    break;
                case (byte)'s': // SETITEM
                    object? value = Pop();
                    object? key = Pop();
                    SetItem(Peek<OrderedDictionary<object, object?>>("SETITEM"), key, value);
                    break;
                case (byte)'u': // SETITEMS
                    List<object?> pairs = PopToMark();
                    if (pairs.Count % 2 != 0)
                        throw Fail("SETITEMS has an odd number of items after its MARK");
                    var dict = Peek<OrderedDictionary<object, object?>>("SETITEMS");
                    for (int i = 0; i < pairs.Count; i += 2)
                        SetItem(dict, pairs[i], pairs[i + 1]);
                    break;

                case (byte)'q': // BINPUT
                    _memo[ReadByte()] = PeekAny();
                    break;
                case (byte)'r': // LONG_BINPUT
                    _memo[BinaryPrimitives.ReadUInt32LittleEndian(Read(4))] = PeekAny();
                    break;
                case 0x94: // MEMOIZE
                    _memo[(uint)_memo.Count] = PeekAny();
                    break;
                case (byte)'h': // BINGET
                    Push(MemoGet(ReadByte()));
                    break;
                case (byte)'j': // LONG_BINGET
                    Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(Read(4))));
                    break;

                case (byte)'c': // GLOBAL
                    string module = ReadLine();
                    Push(ResolveGlobal(module, ReadLine()));
                    break;
                case 0x93: // STACK_GLOBAL
                    string name = Pop<string>("STACK_GLOBAL name");
                    Push(ResolveGlobal(Pop<string>("STACK_GLOBAL module"), name));
                    break;
                case (byte)'Q': // BINPERSID
                    Push(PersistentLoad(Pop()));
                    break;
                case (byte)'R': // REDUCE
                    object?[] args = Pop<object?[]>("REDUCE arguments");
                    Push(Call(Pop(), args));
                    break;
                case (byte)'b': // BUILD
                    // torch's state_dict() carries module versions in state_dict._metadata, which pickling
                    // restores through BUILD on the OrderedDict; the loaded tensors do not depend on it.
                    Pop();
                    Peek<OrderedDictionary<object, object?>>("BUILD");
                    break;

                default:
                    string printable = opcode is >= 0x20 and < 0x7f ? $" '{(char)opcode}'" : "";
                    throw Fail($"unsupported pickle opcode 0x{opcode:X2}{printable}; a state_dict pickle never needs it");
            }
        }
    }

    private InvalidDataException Fail(string message, Exception? inner = null) =>
        new($"torch.save pickle (data.pkl), at byte {_opcodeStart}: {message}.", inner);

    private byte ReadByte() => Read(1)[0];

    private ReadOnlySpan<byte> Read(ulong count)
    {
        if (count > (ulong)(_pickle.Length - _position))
            throw Fail("the pickle ends in the middle of an opcode");
        var span = new ReadOnlySpan<byte>(_pickle, _position, (int)count);
        _position += (int)count;
        return span;
    }

    private string ReadString(ulong byteCount)
    {
        try
        {
            return StrictUtf8.GetString(Read(byteCount));
        }
        catch (DecoderFallbackException e)
        {
            throw Fail("a string is not valid UTF-8", e);
        }
    }

    private string ReadLine()
    {
        int end = Array.IndexOf(_pickle, (byte)'\n', _position);
        if (end < 0)
            throw Fail("GLOBAL has no terminating newline");
        string line = ReadString((ulong)(end - _position));
        _position = end + 1;
        return line;
    }

    private long ReadLong1()
    {
        ReadOnlySpan<byte> bytes = Read(ReadByte());
        if (bytes.Length > 8)
            throw Fail($"LONG1 integer of {bytes.Length} bytes does not fit in 64 bits");
        // Little-endian two's complement: sign-extend from the top byte.
        long value = bytes.Length > 0 && (sbyte)bytes[^1] < 0 ? -1 : 0;
        for (int i = bytes.Length - 1; i >= 0; i--)
            value = (value << 8) | bytes[i];
        return value;
    }

    private void Push(object? value) => _stack.Add(value);

    private int Floor => _marks.Count > 0 ? _marks.Peek() : 0;

    private object? Pop()
    {
        if (_stack.Count <= Floor)
            throw Fail("stack underflow");
        object? value = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private TValue Pop<TValue>(string what) =>
        Pop() is TValue value ? value : throw Fail($"{what} has the wrong type");

    private object? PeekAny() => _stack.Count > Floor ? _stack[^1] : throw Fail("stack underflow");

    private TValue Peek<TValue>(string opcode) =>
        PeekAny() is TValue value ? value : throw Fail($"{opcode} applied to a value that is not a {Describe(typeof(TValue))}");

    private static string Describe(Type type) => type == typeof(List<object?>) ? "list" : "dict";

    private object?[] PopTuple(int count)
    {
        var tuple = new object?[count];
        for (int i = count - 1; i >= 0; i--)
            tuple[i] = Pop();
        return tuple;
    }

    private List<object?> PopToMark()
    {
        if (_marks.Count == 0)
            throw Fail("no MARK to pop to");
        int mark = _marks.Pop();
        List<object?> items = _stack.GetRange(mark, _stack.Count - mark);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private object? MemoGet(uint index) =>
        _memo.TryGetValue(index, out object? value) ? value : throw Fail($"memo entry {index} is read before it is stored");

    private void SetItem(OrderedDictionary<object, object?> dict, object? key, object? value)
    {
        if (key is not (string or long or bool))
            throw Fail($"dictionary key {key ?? "None"} is not a string, integer or bool");
        dict[key] = value;
    }

    private object ResolveGlobal(string module, string name) =>
        AllowedGlobals.TryGetValue((module, name), out object? resolved) ? resolved
        : throw Fail($"global '{module}.{name}' is not allowed; only tensors, their storages and (ordered) dicts can be loaded");

    // torch.save replaces every storage by the persistent id ('storage', storage_class, key, location, numel);
    // the bytes live in the archive's data/{key} record. The location (cpu, cuda:0, ...) is ignored: everything loads to the CPU.
    private StorageRef PersistentLoad(object? pid)
    {
        if (pid is not object?[] { Length: 5 } tuple || tuple[0] is not "storage")
            throw Fail("persistent id is not a ('storage', storage_type, key, location, numel) tuple");
        if (tuple[1] is not StorageClass storageClass)
            throw Fail("persistent id does not name a storage class such as torch.FloatStorage");
        if (tuple[2] is not string key || tuple[3] is not string || tuple[4] is not long length || length < 0)
            throw Fail("persistent id has a malformed key, location or element count");

        var storage = new StorageRef(key, storageClass.Type, length);
        if (_storages.TryGetValue(key, out StorageRef? earlier))
        {
            if (earlier != storage)
                throw Fail($"storage '{key}' is referenced as {earlier.Length} x {earlier.Type} and as {length} x {storage.Type}");
            return earlier;
        }
        _storages.Add(key, storage);
        return storage;
    }

    private object Call(object? callable, object?[] args)
    {
        switch (callable)
        {
            // Python pickles OrderedDict() and adds items afterwards; TorchSharp.PyBridge writes OrderedDict(()).
            case Callable.OrderedDict when args is [] or [object?[] { Length: 0 }] or [List<object?> { Count: 0 }]:
                return new OrderedDictionary<object, object?>();
            case Callable.OrderedDict:
                throw Fail("collections.OrderedDict is only supported empty (its items follow as SETITEMS)");

            // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            case Callable.RebuildTensorV2 when args is [StorageRef storage, long offset, object?[] size, object?[] stride, bool, OrderedDictionary<object, object?>, ..]
                                               && args.Length <= 7:
                return RebuildTensor(storage, offset, Integers(size, "size"), Integers(stride, "stride"));
            case Callable.RebuildTensorV2:
                throw Fail("torch._utils._rebuild_tensor_v2 expects (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])");

            // _rebuild_parameter(data, requires_grad, backward_hooks): a Parameter is its data here.
            case Callable.RebuildParameter when args is [TensorRef data, bool, OrderedDictionary<object, object?>]:
                return data;
            case Callable.RebuildParameter:
                throw Fail("torch._utils._rebuild_parameter expects (tensor, requires_grad, backward_hooks)");

            case StorageClass storageClass:
                throw Fail($"{storageClass.Name} may only appear inside a persistent id, not be called");
            default:
                throw Fail("REDUCE applied to a value that is not callable");
        }
    }

    private long[] Integers(object?[] tuple, string what) =>
        Array.ConvertAll(tuple, item => item is long value ? value : throw Fail($"tensor {what} holds a non-integer"));

    private TensorRef RebuildTensor(StorageRef storage, long offset, long[] size, long[] stride)
    {
        string view = $"size {ShapeText.Format<long>(size)}, stride {ShapeText.Format<long>(stride)} at offset {offset}";
        if (size.Length != stride.Length)
            throw Fail($"tensor {view} has different numbers of sizes and strides");
        if (offset < 0 || size.Any(s => s < 0) || stride.Any(s => s < 0))
            throw Fail($"tensor {view} has a negative size, stride or offset");

        if (size.Contains(0))
        {
            if (offset > storage.Length)
                throw Fail($"empty tensor {view} starts past the end of storage '{storage.Key}', which holds {storage.Length} elements");
            return new TensorRef(storage, offset, size, stride);
        }

        // The furthest element is offset + sum((size_i - 1) * stride_i). Both running values are checked against
        // the storage length after every factor, so in Int128 they cannot overflow before the loop leaves.
        Int128 count = 1, last = offset;
        for (int i = 0; i < size.Length && count <= storage.Length && last < storage.Length; i++)
        {
            count *= size[i];
            last += (Int128)(size[i] - 1) * stride[i];
        }
        if (last >= storage.Length)
            throw Fail($"tensor {view} reaches past the end of storage '{storage.Key}', which holds {storage.Length} elements");
        // Only an overlapping (e.g. expanded, stride-0) view has more elements than its storage; refusing it
        // keeps every allocation proportional to bytes actually present in the file.
        if (count > storage.Length)
            throw Fail($"tensor {view} has more elements than its storage '{storage.Key}' ({storage.Length}); overlapping views are not supported");
        return new TensorRef(storage, offset, size, stride);
    }
}
