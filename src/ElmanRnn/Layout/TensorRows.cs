using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace ElmanRnn.Layout;

/// <summary>
/// Row-level access to <see cref="Tensor{T}"/> values for the packing functions: a tensor of shape (d0, d1, *) is
/// viewed as d0·d1 rows of RowSize = prod(*) elements each, in row-major order.
/// </summary>
internal static class TensorRows
{
    /// <summary>
    /// The tensor's elements in row-major order: its backing memory when dense (no copy), otherwise a dense copy made
    /// with <see cref="Tensor{T}.FlattenTo"/>, which is how strided views (slices, transposes, broadcasts) are read.
    /// </summary>
    internal static ReadOnlySpan<T> RowMajor<T>(Tensor<T> tensor)
    {
        int count = ElementCount(tensor.Lengths);
        if (count == 0)
            return [];
        // Through the TensorSpan: Tensor<T>.GetPinnableReference() is the start of the backing array, not of the view,
        // so a sliced view (t.Slice(1..3, ..)) would be read from the wrong element.
        if (IsRowMajor(tensor.Lengths, tensor.Strides))
            return MemoryMarshal.CreateReadOnlySpan(in tensor.AsReadOnlyTensorSpan().GetPinnableReference(), count);

        var copy = new T[count];
        tensor.FlattenTo(copy);
        return copy;
    }

    /// <summary>
    /// The memory of a tensor the caller lets us write into, in row-major order.
    /// </summary>
    /// <exception cref="ArgumentException">The tensor is a strided view (its elements are not one contiguous
    /// row-major block), so results could not be written in place.</exception>
    internal static Span<T> Writable<T>(Tensor<T> tensor, string paramName)
    {
        int count = ElementCount(tensor.Lengths);
        if (count == 0)
            return [];
        if (!IsRowMajor(tensor.Lengths, tensor.Strides))
            throw new ArgumentException(
                $"{paramName} must be a dense row-major tensor to be written in place; got shape {ShapeText.Format(tensor.Lengths)} " +
                $"with strides {ShapeText.Format(tensor.Strides)}.", paramName);
        return MemoryMarshal.CreateSpan(ref tensor.AsTensorSpan().GetPinnableReference(), count);   // the view's start
    }

    // Row-major and contiguous, judged only on dimensions longer than 1: System.Numerics.Tensors gives a size-1
    // dimension stride 0, which makes IsDense and TryGetSpan refuse tensors like (100, 1, 128) that are dense.
    private static bool IsRowMajor(ReadOnlySpan<nint> lengths, ReadOnlySpan<nint> strides)
    {
        nint expected = 1;
        for (int d = lengths.Length - 1; d >= 0; d--)
        {
            if (lengths[d] == 1)
                continue;
            if (strides[d] != expected)
                return false;
            expected *= lengths[d];
        }
        return true;
    }

    /// <summary>Product of <paramref name="lengths"/> from <paramref name="firstDim"/> on; 1 when that is
    /// none.</summary>
    /// <exception cref="ArgumentException">The product exceeds what one .NET array can hold.</exception>
    internal static int ElementCount(ReadOnlySpan<nint> lengths, int firstDim = 0)
    {
        long count = 1;
        foreach (nint length in lengths[firstDim..])
        {
            count *= length;
            if (count > Array.MaxLength)
                throw new ArgumentException(
                    $"A tensor of shape {ShapeText.Format(lengths)} has more elements than one .NET array can hold " +
                    $"({Array.MaxLength}).");
        }

        return (int)count;
    }

    /// <summary>Dimension <paramref name="d"/> of a tensor's shape as an int, the size every index here is kept in.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The dimension exceeds int.MaxValue: a tensor that large (even
    /// an empty one) would be silently truncated by an int cast, so it is refused by name.</exception>
    internal static int Dimension(ReadOnlySpan<nint> lengths, int d, string paramName)
    {
        nint length = lengths[d];
        if (length > int.MaxValue)
            throw new ArgumentOutOfRangeException(paramName, length,
                $"{paramName} has shape {ShapeText.Format(lengths)}: dimension {d} is {length}, more than ElmanRnn supports in " +
                $"one dimension ({int.MaxValue}).");
        return (int)length;
    }

    /// <summary>The shape [<paramref name="d0"/>, <paramref name="d1"/>, *<paramref name="trailing"/>].</summary>
    internal static nint[] Shape(nint d0, nint d1, ReadOnlySpan<nint> trailing)
    {
        var shape = new nint[2 + trailing.Length];
        shape[0] = d0;
        shape[1] = d1;
        trailing.CopyTo(shape.AsSpan(2));
        return shape;
    }

    /// <summary>The shape [<paramref name="d0"/>, *<paramref name="trailing"/>].</summary>
    internal static nint[] Shape(nint d0, ReadOnlySpan<nint> trailing)
    {
        var shape = new nint[1 + trailing.Length];
        shape[0] = d0;
        trailing.CopyTo(shape.AsSpan(1));
        return shape;
    }
}
