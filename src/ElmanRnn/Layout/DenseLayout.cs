using System.Numerics;
using System.Numerics.Tensors;

namespace ElmanRnn.Layout;

/// <summary>
/// Dense input forms ↔ the canonical time-major form. This is the only code that knows about batch_first and
/// unbatched input: it validates what the caller passed (PyTorch's checks, in PyTorch's order), produces
/// (L·N, H_in) time-major rows and an initial state (NL·D, N, H), and turns results back into the caller's shapes.
/// </summary>
internal static class DenseLayout
{
    /// <summary>
    /// Validates input and h0 against the layer's shapes, in PyTorch's order (spec §4.3): input (L, N, H_in),
    /// (N, L, H_in) when <paramref name="batchFirst"/>, or (L, H_in); h0 (NL·D, N, H) or (NL·D, H).
    /// </summary>
    public static (InputForm Form, int Steps, int Batch) Validate<T>(
        Tensor<T> input, Tensor<T>? h0, int inputSize, int layersTimesDirections, int hiddenSize, bool batchFirst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank is not (2 or 3))
            throw new ArgumentException(
                $"Expected input to be 2D or 3D, got {input.Rank}D tensor instead (shape {ShapeText.Format(input.Lengths)}).", nameof(input));
        bool unbatched = input.Rank == 2;
        if (h0 is not null && h0.Rank != input.Rank)
            throw new ArgumentException(
                unbatched
                    ? $"For unbatched 2-D input, hx should also be 2-D but got {h0.Rank}-D tensor (shape {ShapeText.Format(h0.Lengths)})."
                    : $"For batched 3-D input, hx should also be 3-D but got {h0.Rank}-D tensor (shape {ShapeText.Format(h0.Lengths)}).",
                nameof(h0));

        var form = unbatched ? InputForm.Unbatched : batchFirst ? InputForm.BatchFirst : InputForm.TimeMajor;
        for (int d = 0; d < input.Rank; d++)
            TensorRows.Dimension(input.Lengths, d, nameof(input));
        int steps = (int)(form == InputForm.BatchFirst ? input.Lengths[1] : input.Lengths[0]);
        int batch = form switch
        {
            InputForm.Unbatched => 1,
            InputForm.BatchFirst => (int)input.Lengths[0],
            _ => (int)input.Lengths[1],
        };

        int features = (int)input.Lengths[^1];
        if (features != inputSize)
            throw new ArgumentException(
                $"input.size(-1) must be equal to input_size. Expected {inputSize}, got {features}.", nameof(input));

        if (h0 is not null)
            CheckHidden(h0.Lengths, layersTimesDirections, batch, hiddenSize, unbatched, nameof(h0));

        if (steps == 0)
            throw new ArgumentException(
                $"Expected sequence length to be larger than 0 in RNN (input shape {ShapeText.Format(input.Lengths)}).", nameof(input));
        return (form, steps, batch);
    }

    /// <summary>hx must be (NL·D, N, H) — (NL·D, H) for unbatched input; PyTorch prints both with the batch axis.</summary>
    public static void CheckHidden(
        ReadOnlySpan<nint> lengths, int layersTimesDirections, int batch, int hiddenSize, bool unbatched, string paramName)
    {
        bool ok = unbatched
            ? lengths.Length == 2 && lengths[0] == layersTimesDirections && lengths[1] == hiddenSize
            : lengths.Length == 3 && lengths[0] == layersTimesDirections && lengths[1] == batch && lengths[2] == hiddenSize;
        if (ok)
            return;
        string actual = unbatched && lengths.Length == 2 ? $"[{lengths[0]}, 1, {lengths[1]}]" : ShapeText.Format(lengths);
        throw new ArgumentException(
            $"Expected hidden size ({layersTimesDirections}, {batch}, {hiddenSize}), got {actual}.", paramName);
    }

    /// <summary>The input as (L·N, H_in) time-major rows: the tensor's own memory when it already is that, else a copy.</summary>
    public static ReadOnlySpan<T> ToTimeMajor<T>(Tensor<T> input, InputForm form, int steps, int batch, ref T[]? rented)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int features = (int)input.Lengths[^1];
        int count = steps * batch * features;
        if (count == 0)
            return ReadOnlySpan<T>.Empty;
        // flat: the input in its own logical (row-major) order
        ReadOnlySpan<T> flat = TensorRows.RowMajor(input);
        if (form != InputForm.BatchFirst || batch == 1)   // (1, L, H_in) is (L, 1, H_in) in memory
            return flat;

        // flat: (N, L, H_in) → rows: (L, N, H_in)
        rented = System.Buffers.ArrayPool<T>.Shared.Rent(count);
        Span<T> rows = rented.AsSpan(0, count);
        for (int n = 0; n < batch; n++)
            for (int t = 0; t < steps; t++)
                flat.Slice((n * steps + t) * features, features).CopyTo(rows.Slice((t * batch + n) * features, features));
        return rows;
    }

    /// <summary>h0 as (NL·D, N, H) rows, or empty when absent (zeros, which the recurrence skips multiplying).</summary>
    public static ReadOnlySpan<T> Hidden<T>(Tensor<T>? h0) where T : unmanaged, IFloatingPointIeee754<T> =>
        h0 is null ? ReadOnlySpan<T>.Empty : TensorRows.RowMajor(h0);

    /// <summary>The caller's output shape: (L, D·H) unbatched, (L, N, D·H), or (N, L, D·H) batch-first; returns the rank.</summary>
    public static int OutputShape(InputForm form, int steps, int batch, int width, Span<nint> shape)
    {
        switch (form)
        {
            case InputForm.Unbatched: shape[0] = steps; shape[1] = width; return 2;
            case InputForm.TimeMajor: shape[0] = steps; shape[1] = batch; shape[2] = width; return 3;
            default: shape[0] = batch; shape[1] = steps; shape[2] = width; return 3;
        }
    }

    /// <summary>h_n's shape: (NL·D, N, H), or (NL·D, H) for unbatched input (batch_first never applies); returns the rank.</summary>
    public static int HiddenShape(InputForm form, int layersTimesDirections, int batch, int hidden, Span<nint> shape)
    {
        shape[0] = layersTimesDirections;
        if (form == InputForm.Unbatched)
        {
            shape[1] = hidden;
            return 2;
        }
        shape[1] = batch;
        shape[2] = hidden;
        return 3;
    }

    /// <summary>A caller-provided result tensor must have exactly the shape Forward would return.</summary>
    public static void CheckResultShape<T>(Tensor<T> tensor, ReadOnlySpan<nint> expected, string paramName)
    {
        ArgumentNullException.ThrowIfNull(tensor, paramName);
        if (!tensor.Lengths.SequenceEqual(expected))
            throw new ArgumentException(
                $"{paramName} must have shape {ShapeText.Format(expected)} (what Forward returns for this input), " +
                $"got {ShapeText.Format(tensor.Lengths)}.", paramName);
    }

    /// <summary>The canonical (L, N, D·H) rows into the caller's batch-first (N, L, D·H) memory.</summary>
    public static void ToBatchFirst<T>(ReadOnlySpan<T> rows, Span<T> result, int steps, int batch, int width)
    {
        for (int t = 0; t < steps; t++)
            for (int n = 0; n < batch; n++)
                rows.Slice((t * batch + n) * width, width).CopyTo(result.Slice((n * steps + t) * width, width));
    }
}
