using System.Buffers.Binary;
using System.Numerics;

namespace ElmanRnn.Serialization;

/// <summary>Sizes and decoding of <see cref="ElementType"/> elements.</summary>
internal static class ElementTypes
{
    public static int Size(this ElementType type) => type switch
    {
        ElementType.F64 or ElementType.I64 => 8,
        ElementType.F32 or ElementType.I32 => 4,
        ElementType.F16 or ElementType.BF16 or ElementType.I16 => 2,
        _ => 1,
    };

    /// <summary>
    /// Converts <paramref name="source"/> (elements of <paramref name="type"/> in the given byte order) to
    /// <typeparamref name="T"/>, rounding to nearest where T is narrower (F64 or I64 into float).
    /// </summary>
    public static void Decode<T>(ElementType type, ReadOnlySpan<byte> source, Span<T> destination, bool bigEndian = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int size = type.Size();
        if (source.Length != destination.Length * size)
            throw new ArgumentException("Byte count does not match element count.", nameof(source));

        for (int i = 0; i < destination.Length; i++)
        {
            ReadOnlySpan<byte> e = source.Slice(i * size, size);
            destination[i] = type switch
            {
                ElementType.F64 => T.CreateTruncating(bigEndian ? BinaryPrimitives.ReadDoubleBigEndian(e) : BinaryPrimitives.ReadDoubleLittleEndian(e)),
                ElementType.F32 => T.CreateTruncating(bigEndian ? BinaryPrimitives.ReadSingleBigEndian(e) : BinaryPrimitives.ReadSingleLittleEndian(e)),
                ElementType.F16 => T.CreateTruncating(bigEndian ? BinaryPrimitives.ReadHalfBigEndian(e) : BinaryPrimitives.ReadHalfLittleEndian(e)),
                // bfloat16 is the top half of an IEEE float32, so widening is a shift and exact.
                ElementType.BF16 => T.CreateTruncating(BitConverter.UInt32BitsToSingle(
                    (uint)(bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(e) : BinaryPrimitives.ReadUInt16LittleEndian(e)) << 16)),
                ElementType.I64 => T.CreateTruncating(bigEndian ? BinaryPrimitives.ReadInt64BigEndian(e) : BinaryPrimitives.ReadInt64LittleEndian(e)),
                ElementType.I32 => T.CreateTruncating(bigEndian ? BinaryPrimitives.ReadInt32BigEndian(e) : BinaryPrimitives.ReadInt32LittleEndian(e)),
                ElementType.I16 => T.CreateTruncating(bigEndian ? BinaryPrimitives.ReadInt16BigEndian(e) : BinaryPrimitives.ReadInt16LittleEndian(e)),
                ElementType.I8 => T.CreateTruncating((sbyte)e[0]),
                _ => T.CreateTruncating(e[0]),
            };
        }
    }
}
