using System.Numerics;
using System.Numerics.Tensors;

namespace ElmanRnn.Layout;

/// <summary>How the caller laid out a dense input tensor.</summary>
internal enum InputForm
{
    /// <summary>(L, H_in): one sequence, no batch axis.</summary>
    Unbatched,

    /// <summary>(L, N, H_in): PyTorch's default.</summary>
    TimeMajor,

    /// <summary>(N, L, H_in): batch_first = True.</summary>
    BatchFirst,
}

/// <summary>
/// Dense input forms ↔ the canonical time-major form. This is the only code that knows about batch_first and
/// unbatched input: it validates what the caller passed (PyTorch's checks, in PyTorch's order), produces
/// (L·N, H_in) time-major rows and an initial state (NL·D, N, H), and turns results back into the caller's shapes.
/// </summary>
internal static class DenseLayout
{
    /// <summary>Validates input and h0 against the options, in PyTorch's order (spec §4.3).</summary>
    public static (InputForm Form, int Steps, int Batch) Validate<T>(Tensor<T> input, Tensor<T>? h0, RnnOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank is not (2 or 3))
            throw new ArgumentException(
                $"Expected input to be 2D or 3D, got {input.Rank}D tensor instead (shape {TensorRows.Format(input.Lengths)}).", nameof(input));
        bool unbatched = input.Rank == 2;
        if (h0 is not null && h0.Rank != input.Rank)
            throw new ArgumentException(
                unbatched
                    ? $"For unbatched 2-D input, hx should also be 2-D but got {h0.Rank}-D tensor (shape {TensorRows.Format(h0.Lengths)})."
                    : $"For batched 3-D input, hx should also be 3-D but got {h0.Rank}-D tensor (shape {TensorRows.Format(h0.Lengths)}).",
                nameof(h0));

        var form = unbatched ? InputForm.Unbatched : options.BatchFirst ? InputForm.BatchFirst : InputForm.TimeMajor;
        int steps = (int)(form == InputForm.BatchFirst ? input.Lengths[1] : input.Lengths[0]);
        int batch = form switch
        {
            InputForm.Unbatched => 1,
            InputForm.BatchFirst => (int)input.Lengths[0],
            _ => (int)input.Lengths[1],
        };

        int features = (int)input.Lengths[^1];
        if (features != options.InputSize)
            throw new ArgumentException(
                $"input.size(-1) must be equal to input_size. Expected {options.InputSize}, got {features}.", nameof(input));

        if (h0 is not null)
            CheckHidden(h0.Lengths, batch, options, unbatched, nameof(h0));

        if (steps == 0)
            throw new ArgumentException(
                $"Expected sequence length to be larger than 0 in RNN (input shape {TensorRows.Format(input.Lengths)}).", nameof(input));
        return (form, steps, batch);
    }

    /// <summary>hx must be (NL·D, N, H) — (NL·D, H) for unbatched input; PyTorch prints both with the batch axis.</summary>
    public static void CheckHidden(ReadOnlySpan<nint> lengths, int batch, RnnOptions options, bool unbatched, string paramName)
    {
        int layersTimesDirections = options.NumLayers * (options.Bidirectional ? 2 : 1);
        bool ok = unbatched
            ? lengths.Length == 2 && lengths[0] == layersTimesDirections && lengths[1] == options.HiddenSize
            : lengths.Length == 3 && lengths[0] == layersTimesDirections && lengths[1] == batch && lengths[2] == options.HiddenSize;
        if (ok)
            return;
        string actual = unbatched && lengths.Length == 2 ? $"[{lengths[0]}, 1, {lengths[1]}]" : TensorRows.Format(lengths);
        throw new ArgumentException(
            $"Expected hidden size ({layersTimesDirections}, {batch}, {options.HiddenSize}), got {actual}.", paramName);
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
        if (form != InputForm.BatchFirst)
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

    /// <summary>Wraps the canonical (L·N, D·H) result as the caller's output shape.</summary>
    public static Tensor<T> Output<T>(T[] rows, InputForm form, int steps, int batch, int width)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (form)
        {
            case InputForm.Unbatched: return Tensor.Create(rows, [steps, width]);
            case InputForm.TimeMajor: return Tensor.Create(rows, [steps, batch, width]);
        }
        // rows: (L, N, D·H) → result: (N, L, D·H)
        var result = GC.AllocateUninitializedArray<T>(rows.Length);
        for (int t = 0; t < steps; t++)
            for (int n = 0; n < batch; n++)
                rows.AsSpan((t * batch + n) * width, width).CopyTo(result.AsSpan((n * steps + t) * width, width));
        return Tensor.Create(result, [batch, steps, width]);
    }

    /// <summary>h_n: (NL·D, N, H), or (NL·D, H) for unbatched input; batch_first never applies to it.</summary>
    public static Tensor<T> FinalHidden<T>(T[] hn, InputForm form, int layersTimesDirections, int batch, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        form == InputForm.Unbatched
            ? Tensor.Create(hn, [layersTimesDirections, hidden])
            : Tensor.Create(hn, [layersTimesDirections, batch, hidden]);
}
