using System.Numerics;
using System.Numerics.Tensors;

namespace ElmanRnn.Layout;

/// <summary>
/// PackedSequence ↔ the canonical form. A PackedSequence's data already is the canonical form (time-major rows,
/// sorted sequences, a batch size per step), so this only validates (spec §4.5) and moves h0 / h_n between the
/// caller's original batch order and the sorted order the recurrence works in.
/// </summary>
internal static class PackedLayout
{
    /// <summary>Packed data must be (S, H_in); h0, if given, (NL·D, B, H) with B = batch_sizes[0].</summary>
    public static void Validate<T>(PackedSequence<T> input, Tensor<T>? h0, int inputSize, int layersTimesDirections, int hiddenSize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(input);
        Tensor<T> data = input.Data;
        if (data.Rank != 2)
            throw new ArgumentException(
                $"input must have 2 dimensions, got {data.Rank} (packed data of shape {ShapeText.Format(data.Lengths)}; " +
                "expected (S, input_size)).", nameof(input));
        if (data.Lengths[1] != inputSize)
            throw new ArgumentException(
                $"input.size(-1) must be equal to input_size. Expected {inputSize}, got {data.Lengths[1]}.", nameof(input));
        if (h0 is not null)
            DenseLayout.CheckHidden(h0.Lengths, layersTimesDirections, input.BatchSize, hiddenSize, unbatched: false, nameof(h0));
    }

    /// <summary>h0 (NL·D, B, H) in the caller's order → sorted order into <paramref name="destination"/> (row j of each
    /// layer is sequence sorted[j]), which must not overlap <paramref name="original"/>; <paramref name="sorted"/> is
    /// not empty.</summary>
    public static void SortHidden<T>(ReadOnlySpan<T> original, ReadOnlySpan<int> sorted, int hidden, Span<T> destination) =>
        Permute(original, destination, sorted, hidden);

    /// <summary>h_n (NL·D, B, H) in sorted order → the caller's order into <paramref name="destination"/> (row i of each
    /// layer is sorted row unsorted[i]), which must not overlap <paramref name="sorted"/>; a plain copy when
    /// <paramref name="unsorted"/> is empty.</summary>
    public static void UnsortHidden<T>(ReadOnlySpan<T> sorted, ReadOnlySpan<int> unsorted, int hidden, Span<T> destination)
    {
        if (unsorted.IsEmpty)
            sorted.CopyTo(destination);
        else
            Permute(sorted, destination, unsorted, hidden);
    }

    // destination[r, j, :] = source[r, index[j], :] for every leading row r; source, destination: (R, B, H)
    private static void Permute<T>(ReadOnlySpan<T> source, Span<T> destination, ReadOnlySpan<int> index, int hidden)
    {
        int batch = index.Length, block = batch * hidden;
        for (int r = 0; r < source.Length / Math.Max(1, block); r++)
            for (int j = 0; j < batch; j++)
                source.Slice(r * block + index[j] * hidden, hidden).CopyTo(destination.Slice(r * block + j * hidden, hidden));
    }
}
