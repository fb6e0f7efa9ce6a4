using System.Numerics;
using System.Runtime.CompilerServices;
using ElmanRnn.Kernels;
using ElmanRnn.Layout;
using ElmanRnn.Threading;

namespace ElmanRnn.Recurrence;

/// <summary>
/// One layer of the Elman recurrence, both directions, over the canonical form (<see cref="SequenceBatch"/>):
/// <code>
///   P = x·W_ihᵀ + (b_ih + b_hh)                     all steps and directions in one GEMM, written into output
///   h_t = φ(P_t + h_prev·W_hhᵀ)                      per step, in place over P_t, φ fused into the GEMM
/// </code>
/// The forward direction walks t = 0..T-1 and a sequence's state simply stops being carried after its last step
/// (batch sizes never grow). The reverse direction walks t = T-1..0 and each sequence joins at its own last valid
/// step from its own initial state — for dense input all join at T-1, for packed input the shorter ones join later.
/// <para>
/// Threads (one fork-join per layer): the projection's row blocks are claimed one at a time; then the directions of a bidirectional
/// layer run concurrently, or the panels of W_hh are split across threads step by step. Every split is over output
/// rows or columns, never inside a reduction, so results are bitwise the same for any count.
/// </para>
/// <para>
/// A split scan runs on <see cref="StepTakeBack"/>: the calling thread takes a late partner's step back instead of
/// waiting at a barrier, so a partner whose vCPU was taken away costs little more than running alone.
/// </para>
/// Legend: S rows (all steps), B sequences, K = layer input width, H hidden size, D directions.
/// </summary>
internal sealed unsafe class LayerScan<T> : ITeamJob, ISteppedJob where T : unmanaged, IFloatingPointIeee754<T>
{
    // Below these many multiply-adds a handoff between threads costs more than it saves.
    internal const long MinWorkPerThreadedStep = 1 << 16;
    private const long MinWorkPerThreadedProjection = 1 << 22;   // a worker wake-up costs tens of µs
    // A split scan pays a wake-up and a barrier per step: a one-step streaming call of RNN(256) at 2 threads took
    // 477 µs against 11 µs alone on a busy 2-vCPU machine. Only a whole scan worth ~50 µs of work is split.
    internal const long MinWorkPerThreadedScan = 1 << 20;

    private enum ScanMode { Single, Directions, SplitPanels }

    private readonly StepTakeBack _steps = new();
    private int _projectionNext, _projectionDone;   // rows of P claimed, rows of P written
    private readonly object _projectionGate = new();
    private T[][] _scratch = [];          // split scan: per part (B, H), its columns of a step before they are published
    private LayerWeights<T> _weights = null!;
    private SequenceBatch _batch;
    private Activation _activation;
    private ScanMode _mode;
    private int _projectionParts;
    // Pinned for the duration of Run: x (S, K), output (S, D·H), h0 (D, B, H), hn (D, B, H).
    private T* _x, _output, _h0, _hn;
    private int _xLength, _outputLength, _h0Length, _hnLength;

    /// <summary>Runs one layer, with up to <paramref name="parts"/> threads of <paramref name="team"/> (the caller
    /// holds it; null or 1 part: the calling thread alone).</summary>
    /// <param name="team">The team the caller holds, or null.</param>
    /// <param name="parts">Most threads to use.</param>
    /// <param name="weights">This layer's packed parameters.</param>
    /// <param name="batch">The canonical form: rows per step.</param>
    /// <param name="x">(S, K) this layer's input rows.</param>
    /// <param name="output">(S, D·H) receives [forward | reverse] states per row.</param>
    /// <param name="h0">(D, B, H) initial states in sorted order; zeros are multiplied like any state, as PyTorch does
    /// (so a NaN or Inf in W_hh reaches the first step), and may share memory with <paramref name="hn"/>: h0 is only
    /// read at each sequence's first step, hn only written after the last.</param>
    /// <param name="hn">(D, B, H) receives each sequence's final state per direction.</param>
    /// <param name="activation">φ.</param>
    public void Run(WorkerTeam? team, int parts, LayerWeights<T> weights, SequenceBatch batch, ReadOnlySpan<T> x,
        Span<T> output, ReadOnlySpan<T> h0, Span<T> hn, Activation activation)
    {
        if (batch.Rows == 0)
            return;   // batch size 0 is legal (spec §4.4): no rows, no states
        int hidden = weights.HiddenSize, directions = weights.Directions;
        long stepWork = (long)batch.BatchSize * hidden * hidden;
        long projectionWork = (long)batch.Rows * weights.InputSize * directions * hidden;
        parts = team is null ? 1 : Math.Min(parts, team.MaxParts);

        _mode = parts < 2 ? ScanMode.Single
            : directions == 2 && stepWork * batch.Steps >= MinWorkPerThreadedStep ? ScanMode.Directions
            : stepWork >= MinWorkPerThreadedStep && stepWork * batch.Steps >= MinWorkPerThreadedScan
              && weights.HiddenWeights[0].PanelCount >= 2 ? ScanMode.SplitPanels
            : ScanMode.Single;
        _projectionParts = projectionWork >= MinWorkPerThreadedProjection ? parts : 1;
        int jobParts = _mode switch
        {
            ScanMode.SplitPanels => Math.Min(parts, weights.HiddenWeights[0].PanelCount),
            ScanMode.Directions => Math.Max(2, _projectionParts),
            _ => _projectionParts,
        };
        _projectionParts = Math.Min(_projectionParts, jobParts);

        fixed (T* px = x, po = output, ph0 = h0, phn = hn)
        {
            _x = px; _output = po; _h0 = ph0; _hn = phn;
            (_xLength, _outputLength, _h0Length, _hnLength) = (x.Length, output.Length, h0.Length, hn.Length);
            (_weights, _batch, _activation) = (weights, batch, activation);
            _projectionNext = _projectionDone = 0;
            if (_mode == ScanMode.SplitPanels)
                _steps.Prepare(jobParts, ref _scratch, batch.BatchSize * hidden);
            try
            {
                if (jobParts == 1) Execute(0, 1);
                else team!.Run(this, jobParts);
            }
            finally
            {
                _x = _output = _h0 = _hn = null;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int part, int parts)
    {
        var x = new ReadOnlySpan<T>(_x, _xLength);
        var output = new Span<T>(_output, _outputLength);
        LayerWeights<T> weights = _weights;
        int width = weights.Directions * weights.HiddenSize;

        int rows = _batch.Rows;
        if (part < _projectionParts)
        {
            // Blocks of whole register tiles (so only the last block runs the leftover-row kernels), about eight per
            // part, claimed one at a time: a partner slowed or descheduled by another process claims fewer, and no
            // part waits for one that holds none.
            int block = Math.Max(1, rows / (_projectionParts * 8 * Gemm.TileRows)) * Gemm.TileRows;
            int first;
            while ((first = Interlocked.Add(ref _projectionNext, block) - block) < rows)
            {
                int count = Math.Min(block, rows - first);
                Gemm.Run(x.Slice(first * weights.InputSize), weights.InputSize, count, weights.InputWeights,
                    output.Slice(first * width), width, weights.Bias is null ? GemmInit.Zero : GemmInit.Bias, weights.Bias,
                    Activation.Identity);
                if (Interlocked.Add(ref _projectionDone, count) == rows)
                    lock (_projectionGate)
                        Monitor.PulseAll(_projectionGate);
            }
        }
        // Every step reads P of its rows: the scan starts once every block is in.
        int done;
        while ((done = Volatile.Read(ref _projectionDone)) < rows)
            SpinThenBlock.WaitWhileEqual(ref _projectionDone, done, _projectionGate);
        if (done > rows)
            throw new OperationCanceledException("Another part of this parallel job failed.");

        switch (_mode)
        {
            case ScanMode.Single:
                if (part == 0)
                    for (int d = 0; d < weights.Directions; d++)
                        Scan(d);
                break;
            case ScanMode.Directions:
                if (part < weights.Directions)
                    Scan(part);
                break;
            case ScanMode.SplitPanels:
                if (part == 0)
                    _steps.Lead(this, weights.Directions * _batch.Steps, parts);
                else
                    _steps.Follow(this, part, weights.Directions * _batch.Steps);
                break;
        }
    }

    public void Abort()
    {
        lock (_projectionGate)
        {
            Volatile.Write(ref _projectionDone, int.MaxValue);   // parts waiting for the projection leave
            Monitor.PulseAll(_projectionGate);
        }
        _steps.Abort();
    }

    // ISteppedJob: step g = d·T + i of the split scan, part p's panels of W_hh.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ComputeStep(int g, int part, bool direct)
    {
        var (first, end) = _steps.Share(part, _weights.HiddenWeights[0].PanelCount);
        Step(g / _batch.Steps, g % _batch.Steps, first, end, direct ? default : _scratch[part]);
    }

    public void PublishStep(int g, int part)
    {
        var (first, end) = _steps.Share(part, _weights.HiddenWeights[0].PanelCount);
        Publish(g / _batch.Steps, g % _batch.Steps, first, end, _scratch[part]);
    }

    public void StepDone(int g)
    {
        if (g % _batch.Steps == _batch.Steps - 1)
            StoreFinalStates(g / _batch.Steps);
    }

    // Step i of one direction over panels [firstPanel, endPanel): h_t = φ(P_t + h_prev·W_hhᵀ) for those columns, in
    // place over P_t in output, or into `scratch` (B, H) when given (P_t's columns are copied there first).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Step(int direction, int i, int firstPanel, int endPanel, Span<T> scratch)
    {
        SequenceBatch batch = _batch;
        PackedMatrix<T> whh = _weights.HiddenWeights[direction];
        int hidden = _weights.HiddenSize, width = _weights.Directions * hidden, sequences = batch.BatchSize;
        int col = direction * hidden;
        int t = direction == 0 ? i : batch.Steps - 1 - i;
        int rows = batch.BatchSizeAt(t);
        var output = new Span<T>(_output, _outputLength);
        var h0 = new ReadOnlySpan<T>(_h0 + direction * sequences * hidden, sequences * hidden);
        Span<T> current = output.Slice(batch.Offset(t) * width + col);
        int ldc = width;
        if (!scratch.IsEmpty)
        {
            int c0 = firstPanel * whh.PanelWidth, columns = Math.Min(hidden, endPanel * whh.PanelWidth) - c0;
            for (int r = 0; r < rows; r++)
                current.Slice(r * width + c0, columns).CopyTo(scratch.Slice(r * hidden + c0, columns));
            current = scratch;
            ldc = hidden;
        }
        // Forward: every row continues from step t-1. Reverse: rows below the next step's batch size continue from
        // step t+1; the others end at t and start here from their own initial state.
        int carried = batch.ContinuedRows(t, reverse: direction == 1);
        int previous = direction == 0 ? t - 1 : t + 1;
        if (carried > 0)
            Gemm.Run(output.Slice(batch.Offset(previous) * width + col), width, carried, whh, current, ldc,
                GemmInit.Accumulate, default, _activation, firstPanel, endPanel);
        if (rows > carried)
            Gemm.Run(h0.Slice(carried * hidden), hidden, rows - carried, whh, current.Slice(carried * ldc), ldc,
                GemmInit.Accumulate, default, _activation, firstPanel, endPanel);
    }

    // A partner's columns of step i, from its scratch into output.
    private void Publish(int direction, int i, int firstPanel, int endPanel, ReadOnlySpan<T> scratch)
    {
        SequenceBatch batch = _batch;
        int hidden = _weights.HiddenSize, width = _weights.Directions * hidden, panelWidth = _weights.HiddenWeights[0].PanelWidth;
        int t = direction == 0 ? i : batch.Steps - 1 - i;
        int c0 = firstPanel * panelWidth, columns = Math.Min(hidden, endPanel * panelWidth) - c0;
        var current = new Span<T>(_output, _outputLength).Slice(batch.Offset(t) * width + direction * hidden);
        for (int r = 0; r < batch.BatchSizeAt(t); r++)
            scratch.Slice(r * hidden + c0, columns).CopyTo(current.Slice(r * width + c0, columns));
    }

    // One direction, all of W_hh's panels, on this thread alone.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Scan(int direction)
    {
        for (int i = 0; i < _batch.Steps; i++)
            Step(direction, i, 0, _weights.HiddenWeights[direction].PanelCount, default);
        StoreFinalStates(direction);
    }

    // The direction's final states into hn: forward, the state after each sequence's own last step; reverse, the
    // state after step 0.
    private void StoreFinalStates(int direction)
    {
        SequenceBatch batch = _batch;
        int hidden = _weights.HiddenSize, width = _weights.Directions * hidden, sequences = batch.BatchSize;
        int col = direction * hidden;
        var output = new Span<T>(_output, _outputLength);
        var hn = new Span<T>(_hn, _hnLength);
        for (int j = 0; j < sequences; j++)
        {
            int row = direction == 0 ? batch.Offset(batch.Length(j) - 1) + j : j;
            output.Slice(row * width + col, hidden).CopyTo(hn.Slice((direction * sequences + j) * hidden, hidden));
        }
    }
}
