using Google.Protobuf;

namespace ElmanRnn.Benchmarks.Onnx;

/// <summary>
/// Writes one protobuf message field by field with Google.Protobuf's <see cref="CodedOutputStream"/>. Enough for
/// the handful of ONNX messages a one-operator model needs, without generated classes or protoc. Nested messages are
/// serialised first and embedded as length-delimited fields; repeated scalars are written unpacked, which every
/// protobuf parser accepts.
/// </summary>
internal sealed class ProtoMessage
{
    private readonly MemoryStream _buffer = new();
    private readonly CodedOutputStream _output;

    public ProtoMessage() => _output = new CodedOutputStream(_buffer, leaveOpen: true);

    public ProtoMessage Int(int field, long value)
    {
        _output.WriteTag(field, WireFormat.WireType.Varint);
        _output.WriteInt64(value);
        return this;
    }

    public ProtoMessage Ints(int field, IEnumerable<long> values)
    {
        foreach (long value in values)
            Int(field, value);
        return this;
    }

    public ProtoMessage String(int field, string value)
    {
        _output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        _output.WriteString(value);
        return this;
    }

    public ProtoMessage Bytes(int field, byte[] value)
    {
        _output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        _output.WriteBytes(ByteString.CopyFrom(value));
        return this;
    }

    public ProtoMessage Message(int field, ProtoMessage value) => Bytes(field, value.ToArray());

    public byte[] ToArray()
    {
        _output.Flush();
        return _buffer.ToArray();
    }
}
