using System.Numerics.Tensors;

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

        if (tensor.IsDense)
        {
            Span<nint> origin = stackalloc nint[tensor.Rank];
            origin.Clear(); // the assembly may opt into SkipLocalsInit
            if (tensor.TryGetSpan(origin, count, out ReadOnlySpan<T> span))
                return span;
        }

        var copy = new T[count];
        tensor.FlattenTo(copy);
        return copy;
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
                    $"A tensor of shape {Format(lengths)} has more elements than one .NET array can hold " +
                    $"({Array.MaxLength}).");
        }

        return (int)count;
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

    /// <summary>Formats a shape the way error messages quote it: <c>[3, 2, 4]</c>.</summary>
    internal static string Format(ReadOnlySpan<nint> lengths) => $"[{string.Join(", ", lengths.ToArray())}]";

    /// <summary>Formats integers the way error messages quote them: <c>[3, 2, 1]</c>.</summary>
    internal static string Format(ReadOnlySpan<int> values) => $"[{string.Join(", ", values.ToArray())}]";
}
