using System.Numerics;
using ElmanRnn.Kernels;

namespace ElmanRnn.Recurrence;

/// <summary>One layer's parameters, packed for the kernels: what the scan and its backward need, nothing about names
/// or files. Immutable: a change of the layer's values makes a new one.</summary>
internal sealed class LayerWeights<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _inputWeights;       // (D·H, K) row-major
    private readonly T[][] _hiddenWeights;    // D × (H, H) row-major
    private PackedMatrix<T>? _inputWeightsTransposed;
    private PackedMatrix<T>?[]? _hiddenWeightsTransposed;

    /// <param name="inputWeights">W_ih of every direction stacked: (D·H, K), K = H_in of this layer.</param>
    /// <param name="inputSize">K.</param>
    /// <param name="bias">b_ih + b_hh of every direction: (D·H), or null when the RNN has no bias.</param>
    /// <param name="hiddenWeights">W_hh per direction: D × (H, H), row-major; kept (not copied).</param>
    public LayerWeights(T[] inputWeights, int inputSize, T[]? bias, T[][] hiddenWeights)
    {
        int hidden = (int)Math.Round(Math.Sqrt(hiddenWeights[0].Length));
        _inputWeights = inputWeights;
        _hiddenWeights = hiddenWeights;
        InputWeights = PackedMatrix<T>.Pack(inputWeights, hiddenWeights.Length * hidden, inputSize);
        Bias = bias;
        HiddenWeights = hiddenWeights.Select(w => PackedMatrix<T>.Pack(w, hidden, hidden)).ToArray();
    }

    // Both directions' input projections come from one GEMM over the layer input.
    public PackedMatrix<T> InputWeights { get; }

    // The two biases only ever appear as a sum, so it is folded once into the projection's starting value.
    public T[]? Bias { get; }

    public PackedMatrix<T>[] HiddenWeights { get; }

    public int Directions => HiddenWeights.Length;

    public int HiddenSize => HiddenWeights[0].N;

    public int InputSize => InputWeights.K;

    /// <summary>W_ih stacked, transposed for the input gradient dX = dZ·W_ih: (K, D·H) as a packed (N, K) operand.
    /// Packed on the first backward after a weight change, then reused.</summary>
    public PackedMatrix<T> InputWeightsTransposed =>
        _inputWeightsTransposed ??= PackedMatrix<T>.PackTransposed(_inputWeights, Directions * HiddenSize, InputSize);

    /// <summary>W_hh of one direction transposed, for the recurrent gradient dh_prev = dz·W_hh.</summary>
    public PackedMatrix<T> HiddenWeightsTransposed(int direction)
    {
        _hiddenWeightsTransposed ??= new PackedMatrix<T>?[Directions];
        return _hiddenWeightsTransposed[direction] ??=
            PackedMatrix<T>.PackTransposed(_hiddenWeights[direction], HiddenSize, HiddenSize);
    }
}
