using System.Numerics;
using System.Numerics.Tensors;
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
///   dh_t  = dOut_t + dh_next·(carried from the step that read h_t) + dh_n (at each sequence's last step)
///   dz_t  = dh_t ⊙ φ′(h_t)                       φ′ from the saved output alone: 1 - h² (tanh), h &gt; 0 (relu)
///   dh_prev = dz_t·W_hh                         per step, W_hhᵀ packed once per weight change
///   dX    = dZ·W_ih                             all rows of all steps and both directions in one GEMM
///   dW_ih += dZᵀ·X,  dW_hh += dZᵀ·H_prev        one GEMM each over the saved rows
///   db_ih += Σ_rows dZ (one reduction over all rows),  db_hh += Σ_t Σ_(rows of t) dz_t (per step, as autograd
///   accumulates the per-step linear's bias gradient)
/// </code>
/// Every product is a GEMM whose output rows belong to one sequence or one weight row, so d/dinput of a sequence is
/// the same bits alone or inside a batch. Legend: S rows, B sequences, K layer input width, H hidden, D directions.
/// </summary>
internal static class LayerBackward<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <param name="weights">The packed weights the forward used.</param>
    /// <param name="gradients">Per direction, where the parameter gradients accumulate.</param>
    /// <param name="batch">The canonical form.</param>
    /// <param name="x">(S, K) the layer's input as the forward saw it (after dropout).</param>
    /// <param name="h">(S, D·H) the layer's output as the forward computed it (before dropout).</param>
    /// <param name="dh">(S, D·H) in: d(loss)/d(output); out: dZ (overwritten).</param>
    /// <param name="dhn">(D, B, H) d(loss)/d(h_n) of this layer.</param>
    /// <param name="h0">(D, B, H) the initial states the forward used.</param>
    /// <param name="dh0">(D, B, H) receives d(loss)/d(h0).</param>
    /// <param name="dx">(S, K) receives d(loss)/d(x).</param>
    /// <param name="relu">φ is ReLU (else tanh).</param>
    /// <param name="team">The team the caller holds for the large products, or null.</param>
    /// <param name="parts">Most threads to use.</param>
    public static void Run(WorkerTeam? team, int parts, LayerWeights<T> weights, DirectionGradients<T>[] gradients, SequenceBatch batch,
        ReadOnlySpan<T> x, ReadOnlySpan<T> h, Span<T> dh, ReadOnlySpan<T> dhn, ReadOnlySpan<T> h0, Span<T> dh0,
        Span<T> dx, bool relu)
    {
        int rows = batch.Rows;
        if (rows == 0)
        {
            dh0.Clear();
            return;
        }
        int hidden = weights.HiddenSize, directions = weights.Directions, width = directions * hidden;
        int sequences = batch.BatchSize, k = weights.InputSize;
        // carry: (B, H) dz·W_hh of the step just done; dzT: (H, S) one direction's dZ transposed, the A operand of
        // both weight products; previous: (S, H) the state each row's step started from.
        T[] carry = new T[sequences * hidden];
        T[] dzT = GC.AllocateUninitializedArray<T>(hidden * rows);
        T[] previous = GC.AllocateUninitializedArray<T>(rows * hidden);
        PackedMatrix<T> xT = PackedMatrix<T>.PackTransposed(x, rows, k);
        T[] derivative = new T[hidden];
        // This pass's parameter gradients, added to the accumulated ones at the end (autograd's grad += new_grad), so
        // two backward passes give exactly twice one.
        T[] inputWeightGrad = new T[hidden * k], hiddenWeightGrad = new T[hidden * hidden];
        T[] inputBiasGrad = new T[hidden], hiddenBiasGrad = new T[hidden];

        for (int d = 0; d < directions; d++)
        {
            PackedMatrix<T> whhT = weights.HiddenWeightsTransposed(d);
            DirectionGradients<T> g = gradients[d];
            int col = d * hidden;
            ReadOnlySpan<T> dhnD = dhn.Slice(d * sequences * hidden, sequences * hidden);
            ReadOnlySpan<T> h0D = h0.Slice(d * sequences * hidden, sequences * hidden);
            Span<T> dh0D = dh0.Slice(d * sequences * hidden, sequences * hidden);
            Array.Clear(hiddenBiasGrad);
            for (int i = 0; i < batch.Steps; i++)
            {
                // Backward walks the direction's steps in the opposite order: forward t = T-1..0, reverse t = 0..T-1.
                int t = d == 0 ? batch.Steps - 1 - i : i;
                int n = batch.BatchSizeAt(t), offset = batch.Offset(t);
                // later: the step that read this one's states (forward t+1, reverse t-1); its rows continue from here.
                int laterRows = d == 0 ? (t + 1 < batch.Steps ? batch.BatchSizeAt(t + 1) : 0) : n;
                if (d == 1 && i == 0) laterRows = 0;
                for (int j = 0; j < n; j++)
                {
                    Span<T> row = dh.Slice((offset + j) * width + col, hidden);
                    if (j < laterRows)
                        TensorPrimitives.Add(row, carry.AsSpan(j * hidden, hidden), row);
                    // h_n is the state after each sequence's last step: forward, the step no later step continues;
                    // reverse, step 0.
                    else if (d == 0 || t == 0)
                        TensorPrimitives.Add(row, dhnD.Slice(j * hidden, hidden), row);
                    ReadOnlySpan<T> state = h.Slice((offset + j) * width + col, hidden);
                    if (relu)
                    {
                        for (int c = 0; c < hidden; c++)
                            if (state[c] <= T.Zero) row[c] = T.Zero;   // ATen's threshold_backward(grad, result, 0)
                    }
                    else
                    {
                        // ATen's tanh_backward: grad · (1 - y·y)
                        TensorPrimitives.Multiply(state, state, derivative);
                        TensorPrimitives.Subtract(T.One, derivative, derivative);
                        TensorPrimitives.Multiply(row, derivative, row);
                    }
                }
                if (g.HiddenBias is not null)
                {
                    // db_hh: this step's rows summed, then added (autograd's accumulation of the step's bias grad)
                    Span<T> sum = derivative;
                    sum.Clear();
                    for (int j = 0; j < n; j++)
                        TensorPrimitives.Add(sum, dh.Slice((offset + j) * width + col, hidden), sum);
                    TensorPrimitives.Add(hiddenBiasGrad, sum, hiddenBiasGrad);
                }
                // carry = dz_t·W_hh for this step's rows, and the state each row started from
                Gemm.Run(dh.Slice(offset * width + col), width, n, whhT, carry, hidden, GemmInit.Zero, default,
                    Activation.Identity);
                int earlierRows = d == 0 ? (t > 0 ? n : 0) : (t + 1 < batch.Steps ? batch.BatchSizeAt(t + 1) : 0);
                int earlierOffset = d == 0 ? (t > 0 ? batch.Offset(t - 1) : 0) : (t + 1 < batch.Steps ? batch.Offset(t + 1) : 0);
                for (int j = 0; j < n; j++)
                {
                    Span<T> start = previous.AsSpan((offset + j) * hidden, hidden);
                    if (j < earlierRows)
                        h.Slice((earlierOffset + j) * width + col, hidden).CopyTo(start);
                    else
                    {
                        h0D.Slice(j * hidden, hidden).CopyTo(start);
                        carry.AsSpan(j * hidden, hidden).CopyTo(dh0D.Slice(j * hidden, hidden));
                    }
                }
            }

            // dZ of this direction transposed: (S, H) columns of dh → (H, S)
            for (int r = 0; r < rows; r++)
            {
                ReadOnlySpan<T> src = dh.Slice(r * width + col, hidden);
                for (int c = 0; c < hidden; c++)
                    dzT[c * rows + r] = src[c];
            }
            RowSplitGemm<T>.Run(team, parts, dzT, rows, hidden, xT, inputWeightGrad, k);
            RowSplitGemm<T>.Run(team, parts, dzT, rows, hidden,
                PackedMatrix<T>.PackTransposed(previous.AsSpan(0, rows * hidden), rows, hidden), hiddenWeightGrad, hidden);
            TensorPrimitives.Add(g.InputWeights, inputWeightGrad, g.InputWeights);
            TensorPrimitives.Add(g.HiddenWeights, hiddenWeightGrad, g.HiddenWeights);
            if (g.InputBias is not null && g.HiddenBias is not null)
            {
                for (int c = 0; c < hidden; c++)
                    inputBiasGrad[c] = TensorPrimitives.Sum<T>(dzT.AsSpan(c * rows, rows));
                TensorPrimitives.Add(g.InputBias, inputBiasGrad, g.InputBias);
                TensorPrimitives.Add(g.HiddenBias, hiddenBiasGrad, g.HiddenBias);
            }
        }
        // dX = dZ·W_ih over all rows, both directions at once
        RowSplitGemm<T>.Run(team, parts, dh, width, rows, weights.InputWeightsTransposed, dx, k);
    }
}
