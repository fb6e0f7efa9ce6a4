using System.Buffers.Binary;
using System.Text;

namespace ElmanRnn.Tests.Serialization;

/// <summary>Assembles safetensors files byte by byte, so tests control every field, valid or not.</summary>
internal static class SafeTensorsFiles
{
    /// <summary>The 8-byte little-endian header length, the header exactly as given (no padding), then <paramref name="data"/>.</summary>
    public static byte[] Build(string headerJson, params byte[] data) => Build(Encoding.UTF8.GetBytes(headerJson), data);

    public static byte[] Build(byte[] header, byte[] data) => [.. Length(header.Length), .. header, .. data];

    public static byte[] Length(long headerLength)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)headerLength);
        return bytes;
    }

    public static byte[] F32(params float[] values) => Encode(values, 4, (s, v) => BinaryPrimitives.WriteSingleLittleEndian(s, v));

    public static byte[] F64(params double[] values) => Encode(values, 8, (s, v) => BinaryPrimitives.WriteDoubleLittleEndian(s, v));

    public static byte[] U16(params ushort[] values) => Encode(values, 2, (s, v) => BinaryPrimitives.WriteUInt16LittleEndian(s, v));

    public static byte[] I64(params long[] values) => Encode(values, 8, (s, v) => BinaryPrimitives.WriteInt64LittleEndian(s, v));

    public static byte[] I32(params int[] values) => Encode(values, 4, (s, v) => BinaryPrimitives.WriteInt32LittleEndian(s, v));

    private delegate void Writer<TValue>(Span<byte> destination, TValue value);

    private static byte[] Encode<TValue>(TValue[] values, int size, Writer<TValue> write)
    {
        var bytes = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++)
            write(bytes.AsSpan(i * size), values[i]);
        return bytes;
    }
}
