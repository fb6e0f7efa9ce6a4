using System.Numerics;
using ElmanRnn.Kernels;
using ElmanRnn.Layout;

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
/// Legend: S rows (all steps), B sequences, K = layer input width, H hidden size, D directions.
/// </summary>
internal static class ElmanScan
{
    /// <param name="weights">This layer's packed parameters.</param>
    /// <param name="batch">The canonical form: rows per step.</param>
    /// <param name="x">(S, K) this layer's input rows.</param>
    /// <param name="output">(S, D·H) receives [forward | reverse] states per row.</param>
    /// <param name="h0">(D, B, H) initial states in sorted order, or empty for zeros.</param>
    /// <param name="hn">(D, B, H) receives each sequence's final state per direction.</param>
    /// <param name="activation">φ.</param>
    public static void Run<T>(
        LayerWeights<T> weights, SequenceBatch batch, ReadOnlySpan<T> x, Span<T> output,
        ReadOnlySpan<T> h0, Span<T> hn, Activation activation)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (batch.Rows == 0)
            return;   // batch size 0 is legal (spec §4.4): no rows, no states
        int hidden = weights.HiddenSize, width = weights.Directions * hidden, sequences = batch.BatchSize;
        Gemm.Run(x, weights.InputSize, batch.Rows, weights.InputWeights, output, width,
            weights.Bias is null ? GemmInit.Zero : GemmInit.Bias, weights.Bias, Activation.Identity);

        for (int d = 0; d < weights.Directions; d++)
        {
            ReadOnlySpan<T> h0d = h0.IsEmpty ? h0 : h0.Slice(d * sequences * hidden, sequences * hidden);
            if (d == 0)
                Forward(weights.HiddenWeights[d], batch, output, width, d * hidden, h0d, activation);
            else
                Reverse(weights.HiddenWeights[d], batch, output, width, d * hidden, h0d, activation);

            // Forward: the state after each sequence's own last step; reverse: the state after step 0.
            for (int j = 0; j < sequences; j++)
            {
                int row = d == 0 ? batch.Offset(batch.Length(j) - 1) + j : j;
                output.Slice(row * width + d * hidden, hidden).CopyTo(hn.Slice((d * sequences + j) * hidden, hidden));
            }
        }
    }

    // out (S, width): columns [col, col + H) hold P on entry and this direction's states on exit.
    private static void Forward<T>(
        PackedMatrix<T> whh, SequenceBatch batch, Span<T> output, int width, int col, ReadOnlySpan<T> h0, Activation activation)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int hidden = whh.N;
        for (int t = 0; t < batch.Steps; t++)
        {
            int rows = batch.BatchSizeAt(t);
            Span<T> current = output.Slice(batch.Offset(t) * width + col);
            if (t > 0)
                Gemm.Run(output.Slice(batch.Offset(t - 1) * width + col), width, rows, whh, current, width,
                    GemmInit.Accumulate, default, activation);
            else
                Start(whh, h0, hidden, rows, current, width, activation);
        }
    }

    private static void Reverse<T>(
        PackedMatrix<T> whh, SequenceBatch batch, Span<T> output, int width, int col, ReadOnlySpan<T> h0, Activation activation)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int hidden = whh.N;
        for (int t = batch.Steps - 1; t >= 0; t--)
        {
            int rows = batch.BatchSizeAt(t);
            int carried = t == batch.Steps - 1 ? 0 : batch.BatchSizeAt(t + 1);
            Span<T> current = output.Slice(batch.Offset(t) * width + col);
            if (carried > 0)
                Gemm.Run(output.Slice(batch.Offset(t + 1) * width + col), width, carried, whh, current, width,
                    GemmInit.Accumulate, default, activation);
            // Sequences whose last valid step is t start here, from their own initial state.
            if (rows > carried)
                Start(whh, h0.IsEmpty ? h0 : h0.Slice(carried * hidden), hidden, rows - carried,
                    current.Slice(carried * width), width, activation);
        }
    }

    // First step of `rows` sequences: φ(P + h0·W_hhᵀ), or just φ(P) when h0 is zero.
    private static void Start<T>(
        PackedMatrix<T> whh, ReadOnlySpan<T> h0, int hidden, int rows, Span<T> current, int width, Activation activation)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!h0.IsEmpty)
        {
            Gemm.Run(h0, hidden, rows, whh, current, width, GemmInit.Accumulate, default, activation);
            return;
        }
        for (int r = 0; r < rows; r++)
            Elementwise.Activate(current.Slice(r * width, hidden), activation);
    }
}
