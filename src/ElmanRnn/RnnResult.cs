using System.Numerics;
using System.Numerics.Tensors;

namespace ElmanRnn;

/// <summary>
/// What <see cref="RnnLayer{T}.Forward(Tensor{T}, Tensor{T})"/> returns; deconstructs as <c>var (output, hn) = ...</c>.
/// </summary>
/// <param name="Output">The last layer's states at every step: (L, N, D·H), (N, L, D·H) with BatchFirst, or (L, D·H) unbatched.</param>
/// <param name="Hn">Every layer's final state, rows ordered layer·D + direction: (NL·D, N, H), or (NL·D, H) unbatched.</param>
public readonly record struct RnnResult<T>(Tensor<T> Output, Tensor<T> Hn)
    where T : unmanaged, IFloatingPointIeee754<T>;
