using System.Numerics;
using ElmanRnn.Kernels;

namespace ElmanRnn.Recurrence;

/// <summary>One layer's parameters, packed for the kernels: what the scan needs, nothing about names or files.</summary>
internal sealed class LayerWeights<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <param name="inputWeights">W_ih of every direction stacked: (D·H, H_in of this layer).</param>
    /// <param name="bias">b_ih + b_hh of every direction: (D·H), or null when the RNN has no bias.</param>
    /// <param name="hiddenWeights">W_hh per direction: D × (H, H).</param>
    public LayerWeights(PackedMatrix<T> inputWeights, T[]? bias, PackedMatrix<T>[] hiddenWeights)
    {
        InputWeights = inputWeights;
        Bias = bias;
        HiddenWeights = hiddenWeights;
    }

    // Both directions' input projections come from one GEMM over the layer input.
    public PackedMatrix<T> InputWeights { get; }

    // The two biases only ever appear as a sum, so it is folded once into the projection's starting value.
    public T[]? Bias { get; }

    public PackedMatrix<T>[] HiddenWeights { get; }

    public int Directions => HiddenWeights.Length;

    public int HiddenSize => HiddenWeights[0].N;

    public int InputSize => InputWeights.K;
}
