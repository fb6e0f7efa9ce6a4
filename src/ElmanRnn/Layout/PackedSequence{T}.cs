using System.Collections.ObjectModel;
using System.Numerics;
using System.Numerics.Tensors;

namespace ElmanRnn.Layout;

/// <summary>
/// A batch of variable-length sequences stored without padding, as <c>torch.nn.utils.rnn.PackedSequence</c>.
/// </summary>
/// <typeparam name="T">Element type: <see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para>
/// Shape legend: <c>B</c> batch size, <c>T</c> length of the longest sequence, <c>S</c> = sum of all lengths,
/// <c>*</c> any number of trailing dimensions (including none).
/// </para>
/// <para>
/// <see cref="Data"/> holds every valid time step of every sequence, time step by time step: first step 0 of all
/// sequences, then step 1 of those longer than 1, and so on. Within a time step the sequences appear in sorted order,
/// longest first (ties in their original order). <see cref="BatchSizes"/>[t] is the number of sequences longer than
/// <c>t</c>, so time step <c>t</c> occupies the rows <c>o_t .. o_t + BatchSizes[t] - 1</c> with
/// <c>o_t = BatchSizes[0] + ... + BatchSizes[t - 1]</c>, and row <c>o_t + j</c> is sorted sequence <c>j</c>.
/// Example: sorted sequences <c>a</c> (length 3), <c>b</c> (2), <c>c</c> (1) give rows
/// <c>a0 b0 c0 a1 b1 a2</c> and batch sizes <c>[3, 2, 1]</c>.
/// </para>
/// <para>
/// Build instances with <see cref="PackedSequence.PackPadded"/> or <see cref="PackedSequence.Pack"/> rather than by
/// hand. The index arrays are copied in and exposed read-only, so the layout cannot change after construction;
/// <see cref="Data"/> is the tensor that was passed in (not copied), as in PyTorch.
/// </para>
/// </remarks>
public sealed class PackedSequence<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _batchSizes;       // (T), non-increasing, all > 0
    private readonly int[]? _sortedIndices;   // (B) or null
    private readonly int[]? _unsortedIndices; // (B) or null, the inverse of _sortedIndices
    private readonly int[] _stepOffsets;      // (T + 1): o_t = sum of _batchSizes[0..t), o_T = S
    private readonly int[] _lengths;          // (B), original batch order

    /// <summary>
    /// Wraps packed data and its layout. Unlike PyTorch, which trusts its caller here, every invariant is checked.
    /// </summary>
    /// <param name="data">Packed rows, shape (S, *), <c>S</c> = sum of <paramref name="batchSizes"/>.</param>
    /// <param name="batchSizes">Number of sequences present at each time step, length T; positive and
    /// non-increasing. Copied.</param>
    /// <param name="sortedIndices">Sorted position <c>j</c> holds original sequence <c>sortedIndices[j]</c>: a
    /// permutation of <c>0 .. B-1</c> with <c>B = batchSizes[0]</c>, or <see langword="null"/> when the sequences are
    /// already in sorted order. Default: <see langword="null"/>. Copied.</param>
    /// <param name="unsortedIndices">Original sequence <c>i</c> sits at sorted position <c>unsortedIndices[i]</c>: the
    /// inverse of <paramref name="sortedIndices"/>. Default: <see langword="null"/>, computed from
    /// <paramref name="sortedIndices"/> (and <see langword="null"/> when that is). Copied.</param>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="batchSizes"/> is empty, has an entry &lt;= 0 or an entry
    /// larger than its predecessor, or does not sum to <c>data.Lengths[0]</c>; <paramref name="sortedIndices"/> is
    /// not a permutation of <c>0 .. B-1</c>; <paramref name="unsortedIndices"/> is given without
    /// <paramref name="sortedIndices"/> or is not its inverse.</exception>
    public PackedSequence(
        Tensor<T> data, ReadOnlySpan<int> batchSizes, int[]? sortedIndices = null, int[]? unsortedIndices = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ValidateBatchSizes(data, batchSizes);
        int batch = batchSizes[0];
        if (sortedIndices is not null)
            ValidatePermutation(sortedIndices, batch, nameof(sortedIndices));
        if (unsortedIndices is not null)
            ValidateInverse(sortedIndices, unsortedIndices);

        Data = data;
        _batchSizes = batchSizes.ToArray();
        _sortedIndices = sortedIndices?.ToArray();
        _unsortedIndices = unsortedIndices?.ToArray() ?? PackedSequence.InvertPermutation(sortedIndices);

        _stepOffsets = new int[_batchSizes.Length + 1];
        for (int t = 0; t < _batchSizes.Length; t++)
            _stepOffsets[t + 1] = _stepOffsets[t] + _batchSizes[t];

        // Sorted sequence j is present at exactly the steps t with batchSizes[t] > j; since batch sizes never grow,
        // those are t = 0 .. len_j - 1, so sorted sequences batchSizes[t+1] .. batchSizes[t]-1 have length t + 1.
        _lengths = new int[batch];
        for (int t = 0; t < _batchSizes.Length; t++)
        {
            int next = t + 1 < _batchSizes.Length ? _batchSizes[t + 1] : 0;
            for (int j = next; j < _batchSizes[t]; j++)
                _lengths[_sortedIndices is null ? j : _sortedIndices[j]] = t + 1;
        }

        Batch = SequenceBatch.FromBatchSizes(_batchSizes);
        BatchSizes = Array.AsReadOnly(_batchSizes);
        SortedIndices = _sortedIndices is null ? null : Array.AsReadOnly(_sortedIndices);
        UnsortedIndices = _unsortedIndices is null ? null : Array.AsReadOnly(_unsortedIndices);
        Lengths = Array.AsReadOnly(_lengths);
    }

    /// <summary>Packed rows, shape (S, *): all valid time steps, time step by time step, sorted order within a
    /// step.</summary>
    public Tensor<T> Data { get; }

    // The canonical form of these rows, built once: an RNN run over the same packed batch in a loop allocates nothing.
    internal SequenceBatch Batch { get; }

    /// <summary>Number of sequences present at each time step, length T; positive and non-increasing, sums to S.
    /// <c>BatchSizes[0]</c> is the batch size.</summary>
    public IReadOnlyList<int> BatchSizes { get; }

    /// <summary>
    /// Permutation from sorted to original order, length B: sorted position <c>j</c> holds original sequence
    /// <c>SortedIndices[j]</c>. <see langword="null"/> when packed with <c>enforceSorted: true</c>; otherwise always
    /// set, the identity when the input was already sorted.
    /// </summary>
    public IReadOnlyList<int>? SortedIndices { get; }

    /// <summary>
    /// Inverse of <see cref="SortedIndices"/>, length B: original sequence <c>i</c> sits at sorted position
    /// <c>UnsortedIndices[i]</c>. <see langword="null"/> exactly when <see cref="SortedIndices"/> is.
    /// </summary>
    public IReadOnlyList<int>? UnsortedIndices { get; }

    /// <summary>Number of sequences, B = <c>BatchSizes[0]</c>.</summary>
    public int BatchSize => _batchSizes[0];

    /// <summary>Length of the longest sequence, T = <c>BatchSizes.Count</c>.</summary>
    public int MaxLength => _batchSizes.Length;

    /// <summary>Length of each sequence, in the original batch order (the order the sequences were packed in), as
    /// <see cref="PackedSequence.PadPacked"/> returns them.</summary>
    public IReadOnlyList<int> Lengths { get; }

    /// <summary><see cref="BatchSizes"/> as a span, for the recurrence.</summary>
    internal ReadOnlySpan<int> BatchSizesSpan => _batchSizes;

    /// <summary>Row offset of each time step in <see cref="Data"/>, length T + 1: <c>o_t</c> = sum of
    /// <c>BatchSizes[0 .. t-1]</c>, so step <c>t</c> is rows <c>o_t .. o_{t+1} - 1</c>; the last entry is S.</summary>
    internal ReadOnlySpan<int> StepOffsets => _stepOffsets;

    /// <summary><see cref="SortedIndices"/> as a span; empty when that is <see langword="null"/>.</summary>
    internal ReadOnlySpan<int> SortedIndicesSpan => _sortedIndices;

    /// <summary><see cref="UnsortedIndices"/> as a span; empty when that is <see langword="null"/>.</summary>
    internal ReadOnlySpan<int> UnsortedIndicesSpan => _unsortedIndices;

    /// <summary>Describes the shape and layout, e.g. <c>PackedSequence&lt;Single&gt;(data: [6], batchSizes: [3, 2, 1],
    /// sortedIndices: [2, 0, 1], unsortedIndices: [1, 2, 0])</c>.</summary>
    public override string ToString() =>
        $"PackedSequence<{typeof(T).Name}>(data: {ShapeText.Format(Data.Lengths)}, " +
        $"batchSizes: {ShapeText.Format(_batchSizes)}, " +
        $"sortedIndices: {(_sortedIndices is null ? "null" : ShapeText.Format(_sortedIndices))}, " +
        $"unsortedIndices: {(_unsortedIndices is null ? "null" : ShapeText.Format(_unsortedIndices))})";

    private static void ValidateBatchSizes(Tensor<T> data, ReadOnlySpan<int> batchSizes)
    {
        if (batchSizes.IsEmpty)
            throw new ArgumentException("batch_sizes can not be empty: a packed sequence has at least one time step.",
                nameof(batchSizes));

        long rows = 0;
        for (int t = 0; t < batchSizes.Length; t++)
        {
            if (batchSizes[t] <= 0)
                throw new ArgumentException(
                    $"Expected every batch size to be positive, but got batchSizes[{t}] = {batchSizes[t]}.",
                    nameof(batchSizes));
            if (t > 0 && batchSizes[t] > batchSizes[t - 1])
                throw new ArgumentException(
                    $"Expected batch sizes to be non-increasing (sequences are sorted longest first), but got " +
                    $"batchSizes[{t}] = {batchSizes[t]} > batchSizes[{t - 1}] = {batchSizes[t - 1]}.",
                    nameof(batchSizes));
            rows += batchSizes[t];
        }

        if (rows > Array.MaxLength)
            throw new ArgumentException(
                $"Expected sum(batchSizes) to be at most {Array.MaxLength} rows, but got {rows}.", nameof(batchSizes));
        if (rows != data.Lengths[0])
            throw new ArgumentException(
                $"Expected data to have sum(batchSizes) = {rows} rows, but got data of shape " +
                $"{ShapeText.Format(data.Lengths)}.", nameof(data));
    }

    private static void ValidatePermutation(int[] indices, int batch, string paramName)
    {
        if (indices.Length != batch)
            throw new ArgumentException(
                $"Expected {paramName} to have batchSizes[0] = {batch} entries, but got {indices.Length}.", paramName);
        PackedSequence.CheckPermutation(indices, paramName);
    }

    private static void ValidateInverse(int[]? sortedIndices, int[] unsortedIndices)
    {
        if (sortedIndices is null)
            throw new ArgumentException(
                "unsortedIndices was given without sortedIndices; pass both, or only sortedIndices.",
                nameof(unsortedIndices));
        if (unsortedIndices.Length != sortedIndices.Length)
            throw new ArgumentException(
                $"Expected unsortedIndices to have {sortedIndices.Length} entries like sortedIndices, but got " +
                $"{unsortedIndices.Length}.", nameof(unsortedIndices));
        for (int j = 0; j < sortedIndices.Length; j++)
        {
            int i = sortedIndices[j];
            if (unsortedIndices[i] != j)
                throw new ArgumentException(
                    $"Expected unsortedIndices to be the inverse of sortedIndices, but sortedIndices[{j}] = {i} " +
                    $"while unsortedIndices[{i}] = {unsortedIndices[i]}.", nameof(unsortedIndices));
        }
    }
}
