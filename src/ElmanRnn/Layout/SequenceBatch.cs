namespace ElmanRnn.Layout;

/// <summary>
/// The one canonical form every input takes before the recurrence sees it: time-major rows with a batch size per
/// step. Step t owns rows [Offset(t), Offset(t) + BatchSize(t)) of a (S, features) matrix, and row Offset(t) + j is
/// sequence j (in sorted order, longest first) at time t. Dense input is the case where every step has N rows
/// (S = L·N, exactly PyTorch's time-major (L, N, *) memory); packed input is PyTorch's PackedSequence data as is.
/// <para>
/// A value type, and dense batches hold no arrays, so describing a streaming chunk or a dense call allocates nothing.
/// </para>
/// </summary>
internal readonly struct SequenceBatch
{
    private readonly int _steps;          // T
    private readonly int _batch;          // B
    // Packed only (null when dense):
    private readonly int[]? _batchSizes;  // (T) non-increasing
    private readonly int[]? _offsets;     // (T + 1) row where each step starts; _offsets[T] = S
    private readonly int[]? _lengths;     // (B) length of each sorted sequence, non-increasing

    private SequenceBatch(int steps, int batch)
    {
        _steps = steps;
        _batch = batch;
    }

    private SequenceBatch(int[] batchSizes)
    {
        _batchSizes = batchSizes;
        _steps = batchSizes.Length;
        _offsets = new int[batchSizes.Length + 1];
        for (int t = 0; t < batchSizes.Length; t++)
            _offsets[t + 1] = _offsets[t] + batchSizes[t];
        _batch = batchSizes.Length == 0 ? 0 : batchSizes[0];
        _lengths = new int[_batch];
        for (int t = 0; t < batchSizes.Length; t++)
            for (int j = 0; j < batchSizes[t]; j++)
                _lengths[j] = t + 1;
    }

    /// <summary>L steps of N rows each: a dense (L, N, *) batch.</summary>
    public static SequenceBatch Dense(int steps, int batch) => new(steps, batch);

    /// <summary>PyTorch's batch_sizes; the caller has validated them (positive, non-increasing).</summary>
    public static SequenceBatch FromBatchSizes(ReadOnlySpan<int> batchSizes) => new(batchSizes.ToArray());

    /// <summary>T: number of time steps (the longest sequence's length).</summary>
    public int Steps => _steps;

    /// <summary>B: number of sequences (rows at step 0).</summary>
    public int BatchSize => _batch;

    /// <summary>S: total rows over all steps.</summary>
    public int Rows => _offsets is null ? _steps * _batch : _offsets[^1];

    public int BatchSizeAt(int t) => _batchSizes is null ? _batch : _batchSizes[t];

    public int Offset(int t) => _offsets is null ? t * _batch : _offsets[t];

    /// <summary>
    /// How many of step t's rows continue a state from the step a direction visits just before t — forward: t-1,
    /// every row; reverse: t+1, whose n(t+1) rows are the first of t — and none at the direction's first step. The
    /// rest of step t's rows start from their initial state.
    /// </summary>
    public int ContinuedRows(int t, bool reverse) =>
        reverse ? (t + 1 < _steps ? BatchSizeAt(t + 1) : 0) : (t > 0 ? BatchSizeAt(t) : 0);

    /// <summary>Length of sorted sequence j.</summary>
    public int Length(int j) => _lengths is null ? _steps : _lengths[j];
}
