using System.Numerics;
using System.Numerics.Tensors;

namespace ElmanRnn.Kernels;

/// <summary>Elementwise kernels: activations and the inverted-dropout mask.</summary>
internal static class Elementwise
{
    /// <summary>x ← φ(x) in place. Callers pass whole rows of one fixed length, so a value's result never depends
    /// on where in a vector it happened to sit.</summary>
    public static void Activate<T>(Span<T> x, Activation activation) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (activation)
        {
            case Activation.Tanh: TensorPrimitives.Tanh(x, x); break;
            // Max propagates NaN, as torch.relu does.
            case Activation.Relu: TensorPrimitives.Max(x, T.Zero, x); break;
        }
    }

    /// <summary>
    /// Inverted dropout in place, as ATen's <c>_dropout_impl</c>: every element independently kept with probability
    /// 1 - p and scaled by 1/(1 - p), otherwise multiplied by zero (so NaN/Inf stay NaN, like PyTorch); p = 1 zeroes all.
    /// </summary>
    public static void Dropout<T>(Span<T> x, double p, Random random) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T scale = p >= 1.0 ? T.Zero : T.CreateChecked(1.0 / (1.0 - p));
        // System.Random instances are not thread-safe; a caller's seeded Random may be shared across layers.
        lock (random)
        {
            for (int i = 0; i < x.Length; i++)
                x[i] *= random.NextDouble() >= p ? scale : T.Zero;
        }
    }
}
