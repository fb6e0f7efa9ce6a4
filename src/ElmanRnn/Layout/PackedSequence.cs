using System.Numerics;
using System.Numerics.Tensors;

namespace ElmanRnn.Layout;

/// <summary>
/// Packing and padding of variable-length sequences, as <c>torch.nn.utils.rnn</c>: <c>pack_padded_sequence</c>,
/// <c>pad_packed_sequence</c>, <c>pack_sequence</c>, <c>pad_sequence</c>, <c>unpack_sequence</c>,
/// <c>unpad_sequence</c> and <c>invert_permutation</c>.
/// </summary>
/// <remarks>
/// <para>
/// Shape legend: <c>B</c> batch size, <c>T</c> length of the longest sequence (or of the padded time dimension),
/// <c>S</c> = sum of all lengths, <c>*</c> any number of trailing dimensions (including none). Padded tensors are
/// time-major (T, B, *) by default and (B, T, *) with <c>batchFirst: true</c>.
/// </para>
/// <para>
/// Layouts and orderings are PyTorch's exactly; see <see cref="PackedSequence{T}"/> for the packed layout. Where
/// PyTorch sorts by length, the sort is stable: sequences of equal length keep their original order (PyTorch's own
/// sort leaves the order of ties unspecified).
/// </para>
/// <para>
/// Errors are <see cref="ArgumentException"/>s (or subclasses) whose messages keep PyTorch's key phrase, so a search
/// for the PyTorch error finds them, and state what was expected and what was got. Inputs PyTorch accepts but then
/// silently mishandles (a length longer than the padded time dimension, sequences with mismatched trailing
/// dimensions, more or fewer lengths than sequences when sorting) are rejected. Strided (non-dense) tensors are
/// accepted everywhere; results are always new dense tensors that share no memory with the inputs.
/// </para>
/// </remarks>
public static class PackedSequence
{
    /// <summary>
    /// Packs a tensor of padded variable-length sequences (<c>torch.nn.utils.rnn.pack_padded_sequence</c>).
    /// </summary>
    /// <typeparam name="T">Element type: <see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="input">Padded sequences, shape (T, B, *), or (B, T, *) when <paramref name="batchFirst"/>; at
    /// least 2 dimensions. Time steps at or beyond a sequence's length are padding and are ignored, and so are all time
    /// steps beyond the longest length. May be non-dense.</param>
    /// <param name="lengths">Length of each sequence, B entries, each in <c>1 .. T</c>.</param>
    /// <param name="batchFirst">If <see langword="true"/>, <paramref name="input"/> is (B, T, *). Default:
    /// <see langword="false"/>.</param>
    /// <param name="enforceSorted">If <see langword="true"/>, <paramref name="lengths"/> must be sorted in decreasing
    /// order (ties allowed) and the result has no index arrays. If <see langword="false"/>, the sequences are sorted
    /// here (stably) and the result records the permutation in <see cref="PackedSequence{T}.SortedIndices"/> and
    /// <see cref="PackedSequence{T}.UnsortedIndices"/>, even when it is the identity. Default:
    /// <see langword="true"/>.</param>
    /// <returns>The packed sequences: <see cref="PackedSequence{T}.Data"/> of shape (S, *).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="input"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">Checked in this order: <paramref name="input"/> has no elements
    /// ("Cannot pack empty tensors."); it has fewer than 2 dimensions; <paramref name="lengths"/> does not have B
    /// entries; a length is &lt;= 0; <paramref name="enforceSorted"/> is <see langword="true"/> and the lengths are
    /// not sorted in decreasing order; a length exceeds the padded time dimension T.</exception>
    public static PackedSequence<T> PackPadded<T>(
        Tensor<T> input, ReadOnlySpan<int> lengths, bool batchFirst = false, bool enforceSorted = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.FlattenedLength == 0)
            throw new ArgumentException(
                $"Cannot pack empty tensors. Got input of shape {ShapeText.Format(input.Lengths)}.", nameof(input));
        if (input.Rank < 2)
            throw new ArgumentException(
                $"Expected input with at least 2 dimensions, (T, B, *) or with batchFirst (B, T, *), but got shape " +
                $"{ShapeText.Format(input.Lengths)}.", nameof(input));

        ReadOnlySpan<nint> shape = input.Lengths;
        int paddedLength = TensorRows.Dimension(shape, batchFirst ? 1 : 0, nameof(input));
        int batch = TensorRows.Dimension(shape, batchFirst ? 0 : 1, nameof(input));
        if (lengths.Length != batch)
            throw new ArgumentException(
                $"Expected `len(lengths)` to be equal to batch_size, but got {lengths.Length} (batch_size={batch}); " +
                $"input has shape {ShapeText.Format(shape)} and batchFirst is {Literal(batchFirst)}.",
                nameof(lengths));

        // Before PlanPacking, which allocates one batch size per step of the longest sequence: a length far beyond
        // the tensor (268435456 for a (2, 1, 1) input) must not cost a gigabyte to reject.
        int longest = -1;
        for (int i = 0; i < lengths.Length; i++)
            if (lengths[i] > paddedLength && (longest < 0 || lengths[i] > lengths[longest]))
                longest = i;
        if (longest >= 0)
        {
            throw new ArgumentException(
                $"lengths[{longest}] = {lengths[longest]} exceeds the padded time dimension of input " +
                $"({paddedLength}, input shape {ShapeText.Format(shape)}, batchFirst: {Literal(batchFirst)}); a " +
                "sequence cannot be longer than the tensor that holds it. Check the lengths and batchFirst.",
                nameof(lengths));
        }
        var (batchSizes, sortedIndices) = PlanPacking(lengths, enforceSorted, fromSequenceList: false);

        // input: (T_pad, B, *) or (B, T_pad, *); row (t, b) sits at t·B + b, or b·T_pad + t when batch-first.
        ReadOnlySpan<T> source = TensorRows.RowMajor(input);
        int rowSize = TensorRows.ElementCount(shape, 2);
        int timeStride = batchFirst ? 1 : batch;
        int batchStride = batchFirst ? paddedLength : 1;

        nint[] dataShape = TensorRows.Shape((nint)Sum(batchSizes), shape[2..]);
        var data = new T[TensorRows.ElementCount(dataShape)]; // data: (S, *)
        int row = 0;
        for (int t = 0; t < batchSizes.Length; t++)
        {
            for (int j = 0; j < batchSizes[t]; j++, row++)
            {
                int b = sortedIndices is null ? j : sortedIndices[j];
                source.Slice((t * timeStride + b * batchStride) * rowSize, rowSize)
                    .CopyTo(data.AsSpan(row * rowSize, rowSize));
            }
        }

        return new PackedSequence<T>(Tensor.Create(data, dataShape), batchSizes, sortedIndices);
    }

    /// <summary>
    /// Pads a packed batch of variable-length sequences (<c>torch.nn.utils.rnn.pad_packed_sequence</c>); the inverse
    /// of <see cref="PackPadded{T}"/>.
    /// </summary>
    /// <typeparam name="T">Element type: <see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="sequence">The packed batch.</param>
    /// <param name="batchFirst">If <see langword="true"/>, the result is (B, T_out, *) instead of (T_out, B, *).
    /// Default: <see langword="false"/>.</param>
    /// <param name="paddingValue">Value of the padded positions. Default: 0.</param>
    /// <param name="totalLength">If given, the time dimension T_out of the result; must be at least the longest
    /// length. Default: <see langword="null"/>, the longest length.</param>
    /// <returns>
    /// <c>Padded</c>: shape (T_out, B, *) or (B, T_out, *), a new dense tensor, where position (t, i) holds step t of
    /// sequence i for t &lt; <c>Lengths[i]</c> and <paramref name="paddingValue"/> elsewhere. <c>Lengths</c>: length of
    /// each sequence. Both in the original batch order: the order before packing sorted the sequences.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="sequence"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="totalLength"/> is less than the longest
    /// length.</exception>
    public static (Tensor<T> Padded, int[] Lengths) PadPacked<T>(
        PackedSequence<T> sequence, bool batchFirst = false, T paddingValue = default, int? totalLength = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(sequence);
        int maxLength = sequence.MaxLength;
        if (totalLength < maxLength)
            throw new ArgumentOutOfRangeException(nameof(totalLength), totalLength,
                $"Expected total_length to be at least the length of the longest sequence in input, but got " +
                $"total_length={totalLength} and max sequence length being {maxLength}.");

        int steps = totalLength ?? maxLength;
        int batch = sequence.BatchSize;
        ReadOnlySpan<nint> trailing = sequence.Data.Lengths[1..];
        int rowSize = TensorRows.ElementCount(trailing);
        ReadOnlySpan<T> source = TensorRows.RowMajor(sequence.Data); // data: (S, *)
        ReadOnlySpan<int> batchSizes = sequence.BatchSizesSpan;
        ReadOnlySpan<int> sortedIndices = sequence.SortedIndicesSpan;

        // padded: (T_out, B, *) or (B, T_out, *)
        nint[] shape = batchFirst ? TensorRows.Shape(batch, steps, trailing) : TensorRows.Shape(steps, batch, trailing);
        var padded = GC.AllocateUninitializedArray<T>(TensorRows.ElementCount(shape));
        PadInto(source, batchSizes, sortedIndices, rowSize, steps, batch, batchFirst, paddingValue, padded);
        return (Tensor.Create(padded, shape), [.. sequence.Lengths]);
    }

    /// <summary>The packed rows <paramref name="source"/> (S, rowSize) into <paramref name="padded"/> (steps, batch,
    /// rowSize) or (batch, steps, rowSize), <paramref name="paddingValue"/> elsewhere. Rows are written straight to
    /// their original batch position, which is PyTorch's padding followed by its index_select with unsorted_indices.</summary>
    internal static void PadInto<T>(ReadOnlySpan<T> source, ReadOnlySpan<int> batchSizes, ReadOnlySpan<int> sortedIndices,
        int rowSize, int steps, int batch, bool batchFirst, T paddingValue, Span<T> padded)
    {
        padded.Fill(paddingValue);
        int row = 0;
        for (int t = 0; t < batchSizes.Length; t++)
        {
            for (int j = 0; j < batchSizes[t]; j++, row++)
            {
                int b = sortedIndices.IsEmpty ? j : sortedIndices[j];
                int destination = batchFirst ? b * steps + t : t * batch + b;
                source.Slice(row * rowSize, rowSize).CopyTo(padded.Slice(destination * rowSize, rowSize));
            }
        }
    }

    /// <summary>
    /// Packs a list of variable-length sequences (<c>torch.nn.utils.rnn.pack_sequence</c>): the result of padding
    /// them with <see cref="Pad{T}"/> and packing that with <see cref="PackPadded{T}"/>, built without the padded
    /// intermediate.
    /// </summary>
    /// <typeparam name="T">Element type: <see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="sequences">B sequences of shape (L_i, *), all with the same trailing dimensions, each
    /// <c>L_i &gt;= 1</c>. May be non-dense.</param>
    /// <param name="enforceSorted">If <see langword="true"/>, the sequences must be sorted by length in decreasing
    /// order (ties allowed). If <see langword="false"/>, they are sorted here (stably) and the permutation is
    /// recorded. Default: <see langword="true"/>.</param>
    /// <returns>The packed sequences: <see cref="PackedSequence{T}.Data"/> of shape (S, *).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="sequences"/> or one of its entries is
    /// <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">Checked in this order: the list is empty; the trailing dimensions
    /// differ from those of <c>sequences[0]</c>; all sequences are empty ("Cannot pack empty tensors."); a sequence
    /// has length 0; <paramref name="enforceSorted"/> is <see langword="true"/> and the lengths are not sorted in
    /// decreasing order.</exception>
    public static PackedSequence<T> Pack<T>(IReadOnlyList<Tensor<T>> sequences, bool enforceSorted = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ThrowIfNoSequences(sequences);
        ReadOnlySpan<nint> trailing = CommonTrailingDimensions(sequences);
        int batch = sequences.Count;
        int rowSize = TensorRows.ElementCount(trailing);

        var lengths = new int[batch];
        for (int b = 0; b < batch; b++)
            lengths[b] = TensorRows.Dimension(sequences[b].Lengths, 0, nameof(sequences));
        if (rowSize == 0 || lengths.AsSpan().IndexOfAnyExcept(0) < 0)
            throw new ArgumentException(
                $"Cannot pack empty tensors. Got {batch} sequences with lengths {ShapeText.Format(lengths)} and " +
                $"trailing dimensions {ShapeText.Format(trailing)}.", nameof(sequences));

        var (batchSizes, sortedIndices) = PlanPacking(lengths, enforceSorted, fromSequenceList: true);

        // Sorted sequence j at time t goes to row o_t + j; each sequence is read once, row by row.
        var stepOffsets = new int[batchSizes.Length]; // o_t
        for (int t = 1; t < batchSizes.Length; t++)
            stepOffsets[t] = stepOffsets[t - 1] + batchSizes[t - 1];

        nint[] dataShape = TensorRows.Shape((nint)Sum(batchSizes), trailing);
        var data = new T[TensorRows.ElementCount(dataShape)]; // data: (S, *)
        for (int j = 0; j < batch; j++)
        {
            int b = sortedIndices is null ? j : sortedIndices[j];
            ReadOnlySpan<T> source = TensorRows.RowMajor(sequences[b]); // sequence: (L_b, *)
            for (int t = 0; t < lengths[b]; t++)
                source.Slice(t * rowSize, rowSize).CopyTo(data.AsSpan((stepOffsets[t] + j) * rowSize, rowSize));
        }

        return new PackedSequence<T>(Tensor.Create(data, dataShape), batchSizes, sortedIndices);
    }

    /// <summary>
    /// Pads a list of variable-length sequences to a common length and stacks them
    /// (<c>torch.nn.utils.rnn.pad_sequence</c>).
    /// </summary>
    /// <typeparam name="T">Element type: <see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="sequences">B sequences of shape (L_i, *), all with the same trailing dimensions; a length may be
    /// 0. May be non-dense.</param>
    /// <param name="batchFirst">If <see langword="true"/>, the result is (B, T, *) instead of (T, B, *). Default:
    /// <see langword="false"/>.</param>
    /// <param name="paddingValue">Value of the padded positions. Default: 0.</param>
    /// <param name="paddingSide">Whether padding goes after (<see cref="PaddingSide.Right"/>) or before
    /// (<see cref="PaddingSide.Left"/>) each sequence. Default: <see cref="PaddingSide.Right"/>.</param>
    /// <returns>A new dense tensor of shape (T, B, *), or (B, T, *) when <paramref name="batchFirst"/>, with
    /// T = max L_i: sequence i occupies time steps <c>0 .. L_i - 1</c> (right padding) or <c>T - L_i .. T - 1</c>
    /// (left padding) of batch entry i.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="sequences"/> or one of its entries is
    /// <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The list is empty ("received an empty list of sequences"); or a
    /// sequence's trailing dimensions differ from those of <c>sequences[0]</c> (PyTorch broadcasts these silently).
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="paddingSide"/> is not a defined
    /// <see cref="PaddingSide"/>.</exception>
    public static Tensor<T> Pad<T>(
        IReadOnlyList<Tensor<T>> sequences,
        bool batchFirst = false,
        T paddingValue = default,
        PaddingSide paddingSide = PaddingSide.Right)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ThrowIfNoSequences(sequences);
        if (paddingSide is not (PaddingSide.Right or PaddingSide.Left))
            throw new ArgumentOutOfRangeException(nameof(paddingSide), paddingSide,
                $"Expected padding_side to be one of left or right, but got {paddingSide}. " +
                $"Pass PaddingSide.Left or PaddingSide.Right.");
        ReadOnlySpan<nint> trailing = CommonTrailingDimensions(sequences);

        int batch = sequences.Count;
        int rowSize = TensorRows.ElementCount(trailing);
        int steps = 0;
        for (int b = 0; b < batch; b++)
            steps = Math.Max(steps, TensorRows.Dimension(sequences[b].Lengths, 0, nameof(sequences)));

        nint[] shape = batchFirst ? TensorRows.Shape(batch, steps, trailing) : TensorRows.Shape(steps, batch, trailing);
        var padded = GC.AllocateUninitializedArray<T>(TensorRows.ElementCount(shape)); // (T, B, *) or (B, T, *)
        padded.AsSpan().Fill(paddingValue);
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<T> source = TensorRows.RowMajor(sequences[b]); // sequence: (L_b, *)
            int length = (int)sequences[b].Lengths[0];
            int start = paddingSide == PaddingSide.Left ? steps - length : 0;
            if (batchFirst)
            {
                source.CopyTo(padded.AsSpan((b * steps + start) * rowSize, length * rowSize));
                continue;
            }

            for (int t = 0; t < length; t++)
                source.Slice(t * rowSize, rowSize).CopyTo(padded.AsSpan(((start + t) * batch + b) * rowSize, rowSize));
        }

        return Tensor.Create(padded, shape);
    }

    /// <summary>
    /// Splits a packed batch back into its sequences (<c>torch.nn.utils.rnn.unpack_sequence</c>); the inverse of
    /// <see cref="Pack{T}"/>.
    /// </summary>
    /// <typeparam name="T">Element type: <see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="sequence">The packed batch.</param>
    /// <returns>B new dense tensors of shape (L_i, *), in the original batch order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="sequence"/> is <see langword="null"/>.</exception>
    public static Tensor<T>[] Unpack<T>(PackedSequence<T> sequence)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(sequence);
        ReadOnlySpan<nint> trailing = sequence.Data.Lengths[1..];
        int rowSize = TensorRows.ElementCount(trailing);
        ReadOnlySpan<T> source = TensorRows.RowMajor(sequence.Data); // data: (S, *)
        ReadOnlySpan<int> stepOffsets = sequence.StepOffsets;
        ReadOnlySpan<int> unsortedIndices = sequence.UnsortedIndicesSpan;

        var result = new Tensor<T>[sequence.BatchSize];
        for (int i = 0; i < result.Length; i++)
        {
            int j = unsortedIndices.IsEmpty ? i : unsortedIndices[i]; // sorted position of sequence i
            int length = sequence.Lengths[i];
            var values = new T[length * rowSize]; // sequence i: (L_i, *)
            for (int t = 0; t < length; t++)
                source.Slice((stepOffsets[t] + j) * rowSize, rowSize).CopyTo(values.AsSpan(t * rowSize, rowSize));
            result[i] = Tensor.Create(values, TensorRows.Shape(length, trailing));
        }

        return result;
    }

    /// <summary>
    /// Splits a padded tensor into its sequences (<c>torch.nn.utils.rnn.unpad_sequence</c>); the inverse of
    /// <see cref="Pad{T}"/> with right padding.
    /// </summary>
    /// <typeparam name="T">Element type: <see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="padded">Padded sequences, shape (T, B, *), or (B, T, *) when <paramref name="batchFirst"/>; at
    /// least 2 dimensions. May be non-dense. Never modified: unlike PyTorch, which transposes the caller's tensor in
    /// place when <c>batch_first=False</c>, this leaves <paramref name="padded"/> exactly as it was.</param>
    /// <param name="lengths">Length of each sequence, B entries, each in <c>0 .. T</c>.</param>
    /// <param name="batchFirst">If <see langword="true"/>, <paramref name="padded"/> is (B, T, *). Default:
    /// <see langword="false"/>.</param>
    /// <returns>B new dense tensors of shape (<c>lengths[i]</c>, *): time steps <c>0 .. lengths[i] - 1</c> of batch
    /// entry i.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="padded"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="padded"/> has fewer than 2 dimensions;
    /// <paramref name="lengths"/> does not have B entries; a length is negative or exceeds T.</exception>
    public static Tensor<T>[] Unpad<T>(Tensor<T> padded, ReadOnlySpan<int> lengths, bool batchFirst = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(padded);
        if (padded.Rank < 2)
            throw new ArgumentException(
                $"Expected padded with at least 2 dimensions, (T, B, *) or with batchFirst (B, T, *), but got shape " +
                $"{ShapeText.Format(padded.Lengths)}.", nameof(padded));

        ReadOnlySpan<nint> shape = padded.Lengths;
        int steps = TensorRows.Dimension(shape, batchFirst ? 1 : 0, nameof(padded));
        int batch = TensorRows.Dimension(shape, batchFirst ? 0 : 1, nameof(padded));
        if (lengths.Length != batch)
            throw new ArgumentException(
                $"Expected `len(lengths)` to be equal to batch_size, but got {lengths.Length} (batch_size={batch}); " +
                $"padded has shape {ShapeText.Format(shape)} and batchFirst is {Literal(batchFirst)}.",
                nameof(lengths));
        for (int b = 0; b < batch; b++)
        {
            if ((uint)lengths[b] > (uint)steps)
                throw new ArgumentException(
                    $"Expected every length to be in 0 .. {steps} (the padded time dimension of padded, shape " +
                    $"{ShapeText.Format(shape)}, batchFirst: {Literal(batchFirst)}), but got " +
                    $"lengths[{b}] = {lengths[b]}.", nameof(lengths));
        }

        // padded: (T, B, *) or (B, T, *); row (t, b) sits at t·B + b, or b·T + t when batch-first.
        ReadOnlySpan<nint> trailing = shape[2..];
        int rowSize = TensorRows.ElementCount(trailing);
        ReadOnlySpan<T> source = TensorRows.RowMajor(padded);
        var result = new Tensor<T>[batch];
        for (int b = 0; b < batch; b++)
        {
            var values = new T[lengths[b] * rowSize]; // sequence b: (L_b, *)
            if (batchFirst)
            {
                source.Slice(b * steps * rowSize, values.Length).CopyTo(values);
            }
            else
            {
                for (int t = 0; t < lengths[b]; t++)
                    source.Slice((t * batch + b) * rowSize, rowSize).CopyTo(values.AsSpan(t * rowSize, rowSize));
            }

            result[b] = Tensor.Create(values, TensorRows.Shape(lengths[b], trailing));
        }

        return result;
    }

    /// <summary>
    /// Inverts a permutation (<c>torch.nn.utils.rnn.invert_permutation</c>): returns <c>q</c> with
    /// <c>q[p[i]] = i</c>.
    /// </summary>
    /// <param name="permutation">A permutation <c>p</c> of <c>0 .. n-1</c>.</param>
    /// <returns>A new array holding the inverse permutation.</returns>
    /// <exception cref="ArgumentException"><paramref name="permutation"/> is not a permutation of
    /// <c>0 .. n-1</c>.</exception>
    public static int[] InvertPermutation(ReadOnlySpan<int> permutation)
    {
        CheckPermutation(permutation, nameof(permutation));
        var inverse = new int[permutation.Length];
        for (int i = 0; i < permutation.Length; i++)
            inverse[permutation[i]] = i;
        return inverse;
    }

    /// <summary>
    /// Inverts a permutation that may be absent, as PyTorch's <c>invert_permutation(None)</c> returns
    /// <c>None</c>: the inverse of <paramref name="permutation"/>, or <see langword="null"/> when it is
    /// <see langword="null"/>.
    /// </summary>
    /// <param name="permutation">A permutation of <c>0 .. n-1</c>, or <see langword="null"/>.</param>
    /// <returns>A new array holding the inverse permutation, or <see langword="null"/>.</returns>
    /// <exception cref="ArgumentException"><paramref name="permutation"/> is not a permutation of
    /// <c>0 .. n-1</c>.</exception>
    public static int[]? InvertPermutation(int[]? permutation) =>
        permutation is null ? null : InvertPermutation((ReadOnlySpan<int>)permutation);

    /// <summary>Throws unless <paramref name="indices"/> holds each of <c>0 .. n-1</c> exactly once.</summary>
    internal static void CheckPermutation(ReadOnlySpan<int> indices, string paramName)
    {
        var seen = new bool[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int value = indices[i];
            if ((uint)value >= (uint)indices.Length)
                throw new ArgumentException(
                    $"Expected {paramName} to be a permutation of 0 .. {indices.Length - 1}, but {paramName}[{i}] = " +
                    $"{value} is out of range.", paramName);
            if (seen[value])
                throw new ArgumentException(
                    $"Expected {paramName} to be a permutation of 0 .. {indices.Length - 1}, but the value {value} " +
                    $"appears twice (again at {paramName}[{i}]).", paramName);
            seen[value] = true;
        }
    }

    /// <summary>
    /// Validates sequence lengths for packing and returns the packed layout: the batch size of each time step and,
    /// unless <paramref name="enforceSorted"/>, the stable longest-first order.
    /// </summary>
    private static (int[] BatchSizes, int[]? SortedIndices) PlanPacking(
        ReadOnlySpan<int> lengths, bool enforceSorted, bool fromSequenceList)
    {
        string paramName = fromSequenceList ? "sequences" : nameof(lengths);
        for (int b = 0; b < lengths.Length; b++)
        {
            if (lengths[b] <= 0)
                throw new ArgumentException(
                    "Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0: " +
                    $"{Describe(b)} = {lengths[b]}.", paramName);
        }

        int[]? sortedIndices = null;
        if (enforceSorted)
        {
            for (int b = 1; b < lengths.Length; b++)
            {
                if (lengths[b] > lengths[b - 1])
                    throw new ArgumentException(
                        $"`lengths` array must be sorted in decreasing order when `enforceSorted` is true (ties are " +
                        $"allowed), but {Describe(b)} = {lengths[b]} > {Describe(b - 1)} = {lengths[b - 1]}. You can " +
                        $"pass `enforceSorted: false` to PackPadded and/or Pack to sidestep this requirement.",
                        paramName);
            }
        }
        else
        {
            sortedIndices = StableSortByLengthDescending(lengths);
        }

        // batchSizes[t] = #{b : lengths[b] > t}: count the sequences ending at each step, then sum from the end.
        int maxLength = lengths[sortedIndices is null ? 0 : sortedIndices[0]];
        var batchSizes = new int[maxLength];
        foreach (int length in lengths)
            batchSizes[length - 1]++;
        for (int t = maxLength - 2; t >= 0; t--)
            batchSizes[t] += batchSizes[t + 1];
        return (batchSizes, sortedIndices);

        string Describe(int b) => fromSequenceList ? $"sequences[{b}].Lengths[0]" : $"lengths[{b}]";
    }

    /// <summary>Indices of <paramref name="lengths"/> ordered longest first, equal lengths in index order.</summary>
    private static int[] StableSortByLengthDescending(ReadOnlySpan<int> lengths)
    {
        // Key (-length, index) packed into one long: an unstable sort of distinct keys is a stable sort by length.
        var keys = new long[lengths.Length];
        for (int b = 0; b < keys.Length; b++)
            keys[b] = ((long)-lengths[b] << 32) | (uint)b;
        Array.Sort(keys);

        var order = new int[keys.Length];
        for (int j = 0; j < order.Length; j++)
            order[j] = (int)(keys[j] & uint.MaxValue);
        return order;
    }

    private static long Sum(ReadOnlySpan<int> values)
    {
        long sum = 0;
        foreach (int value in values)
            sum += value;
        return sum;
    }

    /// <summary>A bool as C# source spells it, for messages that name an argument's value.</summary>
    private static string Literal(bool value) => value ? "true" : "false";

    private static void ThrowIfNoSequences<T>(IReadOnlyList<Tensor<T>> sequences)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (sequences.Count == 0)
            throw new ArgumentException("received an empty list of sequences: pass at least one sequence.",
                nameof(sequences));
    }

    /// <summary>The trailing dimensions (*) shared by every sequence of shape (L_i, *).</summary>
    private static ReadOnlySpan<nint> CommonTrailingDimensions<T>(IReadOnlyList<Tensor<T>> sequences)
    {
        ReadOnlySpan<nint> trailing = default;
        for (int i = 0; i < sequences.Count; i++)
        {
            if (sequences[i] is not { } sequence)
                throw new ArgumentNullException(nameof(sequences), $"sequences[{i}] is null.");
            if (i == 0)
                trailing = sequence.Lengths[1..];
            else if (!sequence.Lengths[1..].SequenceEqual(trailing))
                throw new ArgumentException(
                    $"Expected every sequence to have the trailing dimensions {ShapeText.Format(trailing)} of " +
                    $"sequences[0] (shape (L, *)), but sequences[{i}] has shape " +
                    $"{ShapeText.Format(sequence.Lengths)}.", nameof(sequences));
        }

        return trailing;
    }
}
