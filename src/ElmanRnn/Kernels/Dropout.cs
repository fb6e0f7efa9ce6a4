using System.Numerics;

namespace ElmanRnn.Kernels;

/// <summary>Elementwise kernels that are not activations: the inverted-dropout mask.</summary>
internal static class Dropout
{
    /// <summary>
    /// Inverted dropout in place, as ATen's <c>_dropout_impl</c>: every element independently kept with probability
    /// 1 - p and scaled by 1/(1 - p), otherwise multiplied by zero (so NaN/Inf stay NaN, like PyTorch); p = 1 zeroes all.
    /// </summary>
    /// <param name="x">The layer output to drop elements of, in place.</param>
    /// <param name="p">Probability of zeroing an element.</param>
    /// <param name="random">Source of the draws, one per element in order.</param>
    /// <param name="mask">Receives each element's multiplier (0 or 1/(1 - p)) for the backward pass; empty when none
    /// is kept.</param>
    /// <param name="gate">Held while drawing: a seeded System.Random is not thread-safe, and concurrent training-mode
    /// calls on one layer share it. A private object, never the caller's Random, which the caller may lock itself.</param>
    public static void Apply<T>(Span<T> x, double p, Random random, object gate, Span<T> mask = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T scale = p >= 1.0 ? T.Zero : T.CreateChecked(1.0 / (1.0 - p));
        lock (gate)
        {
            if (mask.IsEmpty)
                for (int i = 0; i < x.Length; i++)
                    x[i] *= random.NextDouble() >= p ? scale : T.Zero;
            else
                for (int i = 0; i < x.Length; i++)
                    x[i] *= mask[i] = random.NextDouble() >= p ? scale : T.Zero;
        }
    }
}
