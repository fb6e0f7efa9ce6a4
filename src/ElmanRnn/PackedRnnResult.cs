using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Layout;

namespace ElmanRnn;

/// <summary>
/// What <see cref="RnnLayer{T}.Forward(PackedSequence{T}, Tensor{T})"/> returns; deconstructs as
/// <c>var (output, hn) = ...</c>.
/// </summary>
/// <param name="Output">The last layer's states as a PackedSequence with the input's BatchSizes, SortedIndices and
/// UnsortedIndices; data (S, D·H). <see cref="PackedSequence.PadPacked"/> turns it into a padded tensor.</param>
/// <param name="Hn">Every layer's final state (NL·D, B, H) in the caller's original batch order: for each sequence,
/// the forward state after its own last valid step and the reverse state after its first step.</param>
public readonly record struct PackedRnnResult<T>(PackedSequence<T> Output, Tensor<T> Hn)
    where T : unmanaged, IFloatingPointIeee754<T>;
