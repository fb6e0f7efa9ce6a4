using System.Buffers.Binary;
using System.Text;

namespace ElmanRnn.Tests.Serialization;

/// <summary>
/// Emits pickle opcodes one by one, named as <c>pickletools.dis</c> prints them, so a test spells out the exact
/// bytes a Python pickler writes.
/// </summary>
internal sealed class PickleBuilder
{
    private readonly List<byte> _bytes = [];

    public byte[] ToArray() => [.. _bytes];

    public PickleBuilder Raw(params byte[] bytes) { _bytes.AddRange(bytes); return this; }

    public PickleBuilder Proto(byte version) => Raw(0x80, version);
    public PickleBuilder Frame(ulong length) => Raw(0x95).Raw(U64(length));
    public PickleBuilder Stop() => Raw((byte)'.');
    public PickleBuilder Mark() => Raw((byte)'(');
    public PickleBuilder None() => Raw((byte)'N');
    public PickleBuilder NewTrue() => Raw(0x88);
    public PickleBuilder NewFalse() => Raw(0x89);

    public PickleBuilder BinInt1(byte value) => Raw((byte)'K', value);
    public PickleBuilder BinInt2(ushort value) => Raw((byte)'M', (byte)value, (byte)(value >> 8));
    public PickleBuilder BinInt(int value) => Raw((byte)'J').Raw(U32((uint)value));
    public PickleBuilder Long1(params byte[] littleEndianTwosComplement) => Raw(0x8a, (byte)littleEndianTwosComplement.Length).Raw(littleEndianTwosComplement);
    /// <summary>An int the way Python's pickler (protocol 2+) picks its opcode: BININT1, BININT2, BININT, else LONG1.</summary>
    public PickleBuilder Int(long value)
    {
        if (value is >= 0 and <= byte.MaxValue)
            return BinInt1((byte)value);
        if (value is >= 0 and <= ushort.MaxValue)
            return BinInt2((ushort)value);
        if (value is >= int.MinValue and <= int.MaxValue)
            return BinInt((int)value);
        // Shortest little-endian two's complement, as pickle.encode_long produces.
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        int length = 8;
        while (length > 1 && ((bytes[length - 1] == 0 && bytes[length - 2] < 0x80) || (bytes[length - 1] == 0xFF && bytes[length - 2] >= 0x80)))
            length--;
        return Long1(bytes[..length]);
    }

    public PickleBuilder BinFloat(double value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(bytes, value);
        return Raw((byte)'G').Raw(bytes);
    }

    public PickleBuilder BinUnicode(string value)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(value);
        return Raw((byte)'X').Raw(U32((uint)utf8.Length)).Raw(utf8);
    }
    public PickleBuilder ShortBinUnicode(string value)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(value);
        return Raw(0x8c, (byte)utf8.Length).Raw(utf8);
    }
    public PickleBuilder BinUnicode8(string value)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(value);
        return Raw(0x8d).Raw(U64((ulong)utf8.Length)).Raw(utf8);
    }

    public PickleBuilder EmptyTuple() => Raw((byte)')');
    public PickleBuilder Tuple() => Raw((byte)'t');
    public PickleBuilder Tuple1() => Raw(0x85);
    public PickleBuilder Tuple2() => Raw(0x86);
    public PickleBuilder Tuple3() => Raw(0x87);
    public PickleBuilder EmptyList() => Raw((byte)']');
    public PickleBuilder Append() => Raw((byte)'a');
    public PickleBuilder Appends() => Raw((byte)'e');
    public PickleBuilder EmptyDict() => Raw((byte)'}');
    public PickleBuilder SetItem() => Raw((byte)'s');
    public PickleBuilder SetItems() => Raw((byte)'u');

    public PickleBuilder BinPut(byte index) => Raw((byte)'q', index);
    public PickleBuilder LongBinPut(uint index) => Raw((byte)'r').Raw(U32(index));
    public PickleBuilder Memoize() => Raw(0x94);
    public PickleBuilder BinGet(byte index) => Raw((byte)'h', index);
    public PickleBuilder LongBinGet(uint index) => Raw((byte)'j').Raw(U32(index));

    public PickleBuilder Global(string module, string name) => Raw((byte)'c').Raw(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    public PickleBuilder StackGlobal() => Raw(0x93);
    public PickleBuilder Reduce() => Raw((byte)'R');
    public PickleBuilder Build() => Raw((byte)'b');
    public PickleBuilder BinPersId() => Raw((byte)'Q');

    private static byte[] U32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        return bytes;
    }

    private static byte[] U64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }
}
