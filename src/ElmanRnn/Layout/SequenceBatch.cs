namespace ElmanRnn.Layout;

/// <summary>
/// The one canonical form every input takes before the recurrence sees it: time-major rows with a batch size per
/// step. Step t owns rows [Offset(t), Offset(t) + BatchSize(t)) of a (S, features) matrix, and row Offset(t) + j is
/// sequence j (in sorted order, longest first) at time t. Dense input is the case where every step has N rows
/// (S = L·N, exactly PyTorch's time-major (L, N, *) memory); packed input is PyTorch's PackedSequence data as is.
/// </summary>
internal sealed class SequenceBatch
{
    private readonly int[] _batchSizes;   // (T) non-increasing
    private readonly int[] _offsets;      // (T + 1) row where each step starts; _offsets[T] = S
    private readonly int[] _lengths;      // (B) length of each sorted sequence, non-increasing

    private SequenceBatch(int[] batchSizes)
    {
        _batchSizes = batchSizes;
        _offsets = new int[batchSizes.Length + 1];
        for (int t = 0; t < batchSizes.Length; t++)
            _offsets[t + 1] = _offsets[t] + batchSizes[t];
        _lengths = new int[batchSizes.Length == 0 ? 0 : batchSizes[0]];
        for (int t = 0; t < batchSizes.Length; t++)
            for (int j = 0; j < batchSizes[t]; j++)
                _lengths[j] = t + 1;
    }

    /// <summary>L steps of N rows each: a dense (L, N, *) batch.</summary>
    public static SequenceBatch Dense(int steps, int batch)
    {
        var sizes = new int[steps];
        Array.Fill(sizes, batch);
        return new SequenceBatch(sizes);
    }

    /// <summary>PyTorch's batch_sizes; the caller has validated them (positive, non-increasing).</summary>
    public static SequenceBatch FromBatchSizes(ReadOnlySpan<int> batchSizes) => new(batchSizes.ToArray());

    /// <summary>T: number of time steps (the longest sequence's length).</summary>
    public int Steps => _batchSizes.Length;

    /// <summary>B: number of sequences (rows at step 0).</summary>
    public int BatchSize => _lengths.Length;

    /// <summary>S: total rows over all steps.</summary>
    public int Rows => _offsets[^1];

    public int BatchSizeAt(int t) => _batchSizes[t];

    public int Offset(int t) => _offsets[t];

    /// <summary>Length of sorted sequence j.</summary>
    public int Length(int j) => _lengths[j];
}
