using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ElmanRnn.Kernels;
using ElmanRnn.Layout;
using ElmanRnn.Threading;

namespace ElmanRnn.Recurrence;

/// <summary>One (layer, direction)'s parameter gradients, row-major, added to (+=).</summary>
/// <param name="InputWeights">dW_ih (H, K).</param>
/// <param name="HiddenWeights">dW_hh (H, H).</param>
/// <param name="InputBias">db_ih (H), or null without bias.</param>
/// <param name="HiddenBias">db_hh (H), or null without bias.</param>
internal readonly record struct DirectionGradients<T>(T[] InputWeights, T[] HiddenWeights, T[]? InputBias, T[]? HiddenBias);

/// <summary>
/// The backward twin of <see cref="LayerScan{T}"/>: backpropagation through time for one layer, both directions,
/// over the same canonical form. With z_t = P_t + h_prev·W_hhᵀ and h_t = φ(z_t):
/// <code>
///   dh_t  = dOut_t + dz_later·W_hh (for rows a later step continued) + dh_n (at each sequence's last step)
///   dz_t  = dh_t ⊙ φ′(h_t)                       φ′ from the saved output alone: 1 - h² (tanh), h &gt; 0 (relu)
///   dX    = dZ·W_ih                             all rows of all steps and both directions in one GEMM
///   dW_ih += dZᵀ·X,  dW_hh += dZᵀ·H_prev        one GEMM each over the saved rows
///   db_ih += Σ_rows dZ (one reduction over all rows, summed as dZ is transposed),  db_hh += Σ_t Σ_(rows of t) dz_t (per step, as autograd
///   accumulates the per-step linear's bias gradient)
/// </code>
/// The scan walks each direction's steps in the opposite order of the forward. Per step, one GEMM adds dz_t·W_hh
/// (W_hhᵀ packed once per weight change) straight into dh of the step whose states this one read (C accumulates
/// in place over dOut there), or into dh0 for rows that started from h0; then φ′ turns that step's dh into dz.
/// Threads split W_hhᵀ's panels, i.e. columns of dh: each part also applies φ′ and sums db_hh over its own columns
/// (the next GEMM reads every column), step by step on <see cref="StepTakeBack"/>, so a late partner's step is taken
/// back rather than waited for. A bidirectional layer runs its two directions concurrently instead. The large products then split output rows (<see cref="RowSplitGemm{T}"/>).
/// Every output element is one fixed-order reduction, so gradients are bitwise the same for any thread count, and
/// d/dinput of a sequence is the same alone or inside a batch.
/// <para>
/// One instance per tape: its workspaces (dZᵀ, the packed X and H_prev, this pass's parameter gradients) grow to the
/// largest layer seen and are reused, so a training loop allocates them once. Legend: S rows, B sequences, K layer
/// input width, H hidden, D directions.
/// </para>
/// </summary>
internal sealed unsafe class LayerBackward<T> : ITeamJob, ISteppedJob where T : unmanaged, IFloatingPointIeee754<T>
{
    private enum ScanMode { Single, Directions, SplitPanels }

    private readonly StepTakeBack _steps = new();
    private T[][] _scratch = [];                  // split scan: per part (2B + 1, H), its columns of a step and their sum

    // Workspace kept across calls.
    private T[] _dzT = [];                        // (H, S) one direction's dZ transposed: A of both weight products
    private PackedMatrix<T>? _xT, _previousT;     // X (S, K) and H_prev (S, H) as packed right-hand operands
    private T[] _inputWeightGrad = [], _hiddenWeightGrad = [], _inputBiasGrad = [];   // (H, K), (H, H), (H)
    private T[][] _hiddenBiasGrad = [[], []];     // D × (H) this pass's db_hh
    private T[][] _stepSum = [[], []];            // D × (H) one step's rows summed

    // The call in progress, pinned for its duration: h (S, D·H), dh (S, D·H), dhn (D, B, H), dh0 (D, B, H).
    private LayerWeights<T> _weights = null!;
    private SequenceBatch _batch;
    private Activation _activation;
    private bool _hasBias;
    private ScanMode _mode;
    private T* _h, _dh, _dhn, _dh0;
    private int _hLength, _dhLength, _dhnLength, _dh0Length;

    /// <param name="team">The team the caller holds, or null.</param>
    /// <param name="parts">Most threads to use.</param>
    /// <param name="weights">The packed weights the forward used.</param>
    /// <param name="gradients">Per direction, where the parameter gradients accumulate.</param>
    /// <param name="batch">The canonical form.</param>
    /// <param name="x">(S, K) the layer's input as the forward saw it (after dropout).</param>
    /// <param name="h">(S, D·H) the layer's output as the forward computed it (before dropout).</param>
    /// <param name="dh">(S, D·H) in: d(loss)/d(output); out: dZ (overwritten).</param>
    /// <param name="dhn">(D, B, H) d(loss)/d(h_n) of this layer.</param>
    /// <param name="h0">(D, B, H) the initial states the forward used.</param>
    /// <param name="dh0">(D, B, H) receives d(loss)/d(h0); empty: not wanted, and the products into it are skipped
    /// (rows that start from h0 then pass nothing on, as autograd passes nothing to a constant).</param>
    /// <param name="dx">(S, K) receives d(loss)/d(x); empty: not computed.</param>
    /// <param name="relu">φ is ReLU (else tanh).</param>
    public void Run(WorkerTeam? team, int parts, LayerWeights<T> weights, DirectionGradients<T>[] gradients,
        SequenceBatch batch, ReadOnlySpan<T> x, ReadOnlySpan<T> h, Span<T> dh, ReadOnlySpan<T> dhn, ReadOnlySpan<T> h0,
        Span<T> dh0, Span<T> dx, bool relu)
    {
        int rows = batch.Rows;
        if (rows == 0)
        {
            dh0.Clear();
            return;
        }
        int hidden = weights.HiddenSize, directions = weights.Directions, width = directions * hidden;
        int sequences = batch.BatchSize, k = weights.InputSize;
        bool hasBias = gradients[0].InputBias is not null && gradients[0].HiddenBias is not null;
        for (int d = 0; d < directions; d++)
        {
            weights.HiddenWeightsTransposed(d);   // packed here, never by two parts at once
            Grow(ref _hiddenBiasGrad[d], hidden).AsSpan(0, hidden).Clear();
            Grow(ref _stepSum[d], hidden);
        }

        // 1. The scan: dh becomes dZ, dh0 receives the carries of rows that started from h0.
        parts = team is null ? 1 : Math.Min(parts, team.MaxParts);
        long stepWork = (long)sequences * hidden * hidden;
        int panels = weights.HiddenWeightsTransposed(0).PanelCount;
        _mode = parts < 2 ? ScanMode.Single
            // The forward's thresholds: the split scan pays a barrier per step just the same.
            : directions == 2 && stepWork * batch.Steps >= LayerScan<T>.MinWorkPerThreadedStep ? ScanMode.Directions
            : stepWork >= LayerScan<T>.MinWorkPerThreadedStep && stepWork * batch.Steps >= LayerScan<T>.MinWorkPerThreadedScan
              && panels >= 2
              ? ScanMode.SplitPanels
            : ScanMode.Single;
        int jobParts = _mode switch
        {
            ScanMode.SplitPanels => Math.Min(parts, panels),
            ScanMode.Directions => 2,
            _ => 1,
        };
        fixed (T* ph = h, pdh = dh, pdhn = dhn, pdh0 = dh0)
        {
            _h = ph; _dh = pdh; _dhn = pdhn; _dh0 = pdh0;
            (_hLength, _dhLength, _dhnLength, _dh0Length) = (h.Length, dh.Length, dhn.Length, dh0.Length);
            (_weights, _batch, _activation, _hasBias) = (weights, batch, relu ? Activation.Relu : Activation.Tanh, hasBias);
            if (_mode == ScanMode.SplitPanels)
                _steps.Prepare(jobParts, ref _scratch, (2 * sequences + 1) * hidden);
            try
            {
                if (jobParts == 1) Execute(0, 1);
                else team!.Run(this, jobParts);
            }
            finally
            {
                _h = _dh = _dhn = _dh0 = null;
                _weights = null!;
            }
        }

        // 2. Parameter gradients, this pass's first, then added to the accumulated ones (autograd's grad += new_grad),
        // so two backward passes give exactly twice one.
        T[] dzT = Grow(ref _dzT, hidden * rows);
        PackedMatrix<T> xT = _xT = PackedMatrix<T>.PackTransposed(x, rows, k, _xT);
        Span<T> inputWeightGrad = Grow(ref _inputWeightGrad, hidden * k).AsSpan(0, hidden * k);
        Span<T> hiddenWeightGrad = Grow(ref _hiddenWeightGrad, hidden * hidden).AsSpan(0, hidden * hidden);
        Span<T> inputBiasGrad = Grow(ref _inputBiasGrad, hidden).AsSpan(0, hidden);
        for (int d = 0; d < directions; d++)
        {
            DirectionGradients<T> g = gradients[d];
            Transpose.Run<T>(dh[(d * hidden)..], width, rows, hidden, dzT, hasBias ? inputBiasGrad : default);
            RowSplitGemm<T>.Run(team, parts, dzT, rows, hidden, xT, inputWeightGrad, k);
            PackedMatrix<T> previousT = _previousT = PackPrevious(batch, d, hidden, width, h, h0, _previousT);
            RowSplitGemm<T>.Run(team, parts, dzT, rows, hidden, previousT, hiddenWeightGrad, hidden);
            TensorPrimitives.Add(g.InputWeights, inputWeightGrad, g.InputWeights);
            TensorPrimitives.Add(g.HiddenWeights, hiddenWeightGrad, g.HiddenWeights);
            if (hasBias)
            {
                TensorPrimitives.Add(g.InputBias, inputBiasGrad, g.InputBias);
                TensorPrimitives.Add(g.HiddenBias, _hiddenBiasGrad[d].AsSpan(0, hidden), g.HiddenBias);
            }
        }

        // 3. dX = dZ·W_ih over all rows, both directions at once; skipped when the caller does not want it.
        if (!dx.IsEmpty)
            RowSplitGemm<T>.Run(team, parts, dh, width, rows, weights.InputWeightsTransposed, dx, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int part, int parts)
    {
        LayerWeights<T> weights = _weights;
        int total = weights.Directions * _batch.Steps;
        switch (_mode)
        {
            case ScanMode.Single:
                for (int d = 0; d < weights.Directions; d++)
                    Scan(d);
                break;
            case ScanMode.Directions:
                Scan(part);
                break;
            case ScanMode.SplitPanels when part == 0:
                for (int d = 0; d < weights.Directions; d++)
                    FinishFirst(d);
                _steps.Lead(this, total, parts);
                break;
            case ScanMode.SplitPanels:
                _steps.Follow(this, part, total);
                break;
        }
    }

    public void Abort() => _steps.Abort();

    // One direction, every column, on this thread alone.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Scan(int direction)
    {
        FinishFirst(direction);
        int panels = _weights.HiddenWeightsTransposed(direction).PanelCount;
        for (int i = 0; i < _batch.Steps; i++)
            Step(direction, i, 0, panels, default);
    }

    // ISteppedJob: step g = d·T + i of the split scan, part p's panels of W_hhᵀ.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ComputeStep(int g, int part, bool direct)
    {
        var (first, end) = _steps.Share(part, _weights.HiddenWeightsTransposed(0).PanelCount);
        Step(g / _batch.Steps, g % _batch.Steps, first, end, direct ? default : _scratch[part]);
    }

    public void PublishStep(int g, int part)
    {
        var (first, end) = _steps.Share(part, _weights.HiddenWeightsTransposed(0).PanelCount);
        Publish(g / _batch.Steps, g % _batch.Steps, first, end, _scratch[part]);
    }

    public void StepDone(int g) { }

    // The first step walked back, every column: every sequence's state there is its last (forward: t = T-1;
    // reverse: t = 0), so each row takes dh_n and nothing is carried into it.
    private void FinishFirst(int direction)
    {
        int hidden = _weights.HiddenSize, width = _weights.Directions * hidden;
        int t = direction == 0 ? _batch.Steps - 1 : 0;
        var dh = new Span<T>(_dh, _dhLength).Slice(_batch.Offset(t) * width + direction * hidden);
        Span<T> sum = _stepSum[direction];
        Finish(direction, t, carried: 0, 0, hidden, dh, width, sum);
        AddToBias(direction, sum, 0, hidden);
    }

    // Step i walked back, over panels [firstPanel, endPanel) of W_hhᵀ, i.e. columns [c0, c1): step t's dz·W_hh into
    // the earlier step's dh (rows that continued from it) and into dh0 (the others), then that earlier step's dh → dz.
    // Straight into dh, dh0 and db_hh, or into `scratch` (2B + 1, H): the earlier step's rows (copied there first),
    // then the dh0 rows, then the db_hh sum, for PublishStep.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Step(int direction, int i, int firstPanel, int endPanel, Span<T> scratch)
    {
        SequenceBatch batch = _batch;
        PackedMatrix<T> whhT = _weights.HiddenWeightsTransposed(direction);
        int hidden = _weights.HiddenSize, width = _weights.Directions * hidden, sequences = batch.BatchSize;
        int col = direction * hidden, steps = batch.Steps;
        int c0 = Math.Min(hidden, firstPanel * whhT.PanelWidth), c1 = Math.Min(hidden, endPanel * whhT.PanelWidth);
        var dh = new Span<T>(_dh, _dhLength);
        int t = direction == 0 ? steps - 1 - i : i;
        int n = batch.BatchSizeAt(t);
        ReadOnlySpan<T> dz = dh.Slice(batch.Offset(t) * width + col);
        // Rows that continued from an earlier state (forward: t-1, every row; reverse: t+1, the first n(t+1) rows)
        // pass dz·W_hh into that state's dh; the others into dh0.
        int continued = batch.ContinuedRows(t, reverse: direction == 1);
        int earlier = direction == 0 ? t - 1 : t + 1;
        bool last = i + 1 == steps;
        int earlierRows = last ? 0 : batch.BatchSizeAt(earlier);

        Span<T> carry, start = default, sum;   // the earlier step's rows, the dh0 rows from `continued` on, db_hh's step sum
        int ldCarry;
        if (scratch.IsEmpty)
        {
            carry = last ? default : dh.Slice(batch.Offset(earlier) * width + col);
            ldCarry = width;
            if (_dh0Length > 0)
                start = new Span<T>(_dh0 + direction * sequences * hidden, sequences * hidden).Slice(continued * hidden);
            sum = _stepSum[direction];
        }
        else
        {
            int cols = c1 - c0;
            ReadOnlySpan<T> source = last ? default : dh.Slice(batch.Offset(earlier) * width + col);
            for (int j = 0; j < earlierRows; j++)
                source.Slice(j * width + c0, cols).CopyTo(scratch.Slice(j * hidden + c0, cols));
            carry = scratch;
            ldCarry = hidden;
            start = scratch.Slice(earlierRows * hidden, (n - continued) * hidden);
            sum = scratch.Slice(2 * sequences * hidden, hidden);
        }
        if (continued > 0)
            Gemm.Run(dz, width, continued, whhT, carry, ldCarry, GemmInit.Accumulate, default, Activation.Identity,
                firstPanel, endPanel);
        if (n > continued && _dh0Length > 0)
            Gemm.Run(dz.Slice(continued * width), width, n - continued, whhT, start, hidden, GemmInit.Zero, default,
                Activation.Identity, firstPanel, endPanel);
        if (last)
            return;
        Finish(direction, earlier, continued, c0, c1, carry, ldCarry, sum);
        if (scratch.IsEmpty)
            AddToBias(direction, sum, c0, c1);
    }

    // A partner's scratch results of step i into dh, dh0 and db_hh.
    private void Publish(int direction, int i, int firstPanel, int endPanel, ReadOnlySpan<T> scratch)
    {
        SequenceBatch batch = _batch;
        int hidden = _weights.HiddenSize, width = _weights.Directions * hidden, sequences = batch.BatchSize;
        int panelWidth = _weights.HiddenWeightsTransposed(direction).PanelWidth, steps = batch.Steps;
        int c0 = Math.Min(hidden, firstPanel * panelWidth), c1 = Math.Min(hidden, endPanel * panelWidth), cols = c1 - c0;
        int t = direction == 0 ? steps - 1 - i : i;
        int n = batch.BatchSizeAt(t), continued = batch.ContinuedRows(t, reverse: direction == 1);
        int earlier = direction == 0 ? t - 1 : t + 1;
        bool last = i + 1 == steps;
        int earlierRows = last ? 0 : batch.BatchSizeAt(earlier);
        if (!last)
        {
            Span<T> carry = new Span<T>(_dh, _dhLength).Slice(batch.Offset(earlier) * width + direction * hidden);
            for (int j = 0; j < earlierRows; j++)
                scratch.Slice(j * hidden + c0, cols).CopyTo(carry.Slice(j * width + c0, cols));
        }
        if (_dh0Length > 0)
        {
            var dh0 = new Span<T>(_dh0 + direction * sequences * hidden, sequences * hidden);
            for (int j = continued; j < n; j++)
                scratch.Slice((earlierRows + j - continued) * hidden + c0, cols).CopyTo(dh0.Slice(j * hidden + c0, cols));
        }
        if (!last)
            AddToBias(direction, scratch.Slice(2 * sequences * hidden, hidden), c0, c1);
    }

    // dh → dz over columns [c0, c1) of step t's rows (`rows`, ld apart): rows from `carried` on got no carry, because
    // their sequence ends at t, so they take dh_n instead; then φ′, and this step's db_hh sum into `sum`.
    private void Finish(int direction, int t, int carried, int c0, int c1, Span<T> rows, int ld, Span<T> sum)
    {
        if (c0 >= c1)
            return;
        SequenceBatch batch = _batch;
        int hidden = _weights.HiddenSize, width = _weights.Directions * hidden, sequences = batch.BatchSize;
        int n = batch.BatchSizeAt(t), hOffset = batch.Offset(t) * width + direction * hidden, cols = c1 - c0;
        var h = new ReadOnlySpan<T>(_h, _hLength);
        var dhn = new ReadOnlySpan<T>(_dhn + direction * sequences * hidden, sequences * hidden);
        // db_hh's step sum: the rows' dz added in row order from zero, in φ′'s pass while each row is in registers.
        Span<T> columns = _hasBias ? sum.Slice(c0, cols) : default;
        columns.Clear();
        for (int j = 0; j < n; j++)
        {
            Span<T> row = rows.Slice(j * ld + c0, cols);
            if (j >= carried)
                TensorPrimitives.Add(row, dhn.Slice(j * hidden + c0, cols), row);
            Activations.MultiplyByDerivative(row, h.Slice(hOffset + j * width + c0, cols), _activation, columns);
        }
    }

    // db_hh += one step's sum, columns [c0, c1), in step order per column.
    private void AddToBias(int direction, ReadOnlySpan<T> sum, int c0, int c1)
    {
        if (!_hasBias || c0 >= c1)
            return;
        Span<T> biasGrad = _hiddenBiasGrad[direction].AsSpan(c0, c1 - c0);
        TensorPrimitives.Add(biasGrad, sum.Slice(c0, c1 - c0), biasGrad);
    }

    private static T[] Grow(ref T[] buffer, int length)
    {
        if (buffer.Length < length)
            buffer = GC.AllocateUninitializedArray<T>(length);
        return buffer;
    }

    // H_prev (S, H) of one direction, packed for dW_hh = dZᵀ·H_prev: the state each row's step started from — the
    // forward direction's rows continue from step t-1 (h0 at t = 0); the reverse's first n(t+1) rows from step t+1,
    // the rest from h0.
    private static PackedMatrix<T> PackPrevious(SequenceBatch batch, int direction, int hidden, int width,
        ReadOnlySpan<T> h, ReadOnlySpan<T> h0, PackedMatrix<T>? reuse)
    {
        PackedMatrix<T> packed = PackedMatrix<T>.Transposed(batch.Rows, hidden, reuse);
        int col = direction * hidden, sequences = batch.BatchSize;
        ReadOnlySpan<T> h0D = h0.Slice(direction * sequences * hidden, sequences * hidden);
        for (int t = 0; t < batch.Steps; t++)
        {
            int n = batch.BatchSizeAt(t), offset = batch.Offset(t);
            int continued = batch.ContinuedRows(t, reverse: direction == 1);
            int earlier = direction == 0 ? t - 1 : t + 1;
            for (int j = 0; j < n; j++)
                packed.SetTransposedRow(offset + j, j < continued
                    ? h.Slice((batch.Offset(earlier) + j) * width + col, hidden)
                    : h0D.Slice(j * hidden, hidden));
        }
        return packed;
    }
}
