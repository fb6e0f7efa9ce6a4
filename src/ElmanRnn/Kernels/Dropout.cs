using System.Numerics;

namespace ElmanRnn.Kernels;

/// <summary>Elementwise kernels that are not activations: the inverted-dropout mask.</summary>
internal static class Dropout
{
    /// <summary>
    /// Inverted dropout in place, as ATen's <c>_dropout_impl</c>: every element independently kept with probability
    /// 1 - p and scaled by 1/(1 - p), otherwise multiplied by zero (so NaN/Inf stay NaN, like PyTorch); p = 1 zeroes all.
    /// </summary>
    public static void Apply<T>(Span<T> x, double p, Random random) where T : unmanaged, IFloatingPointIeee754<T>
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
