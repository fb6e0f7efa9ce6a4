using System.Numerics;
using System.Numerics.Tensors;

namespace ElmanRnn;

/// <summary>
/// What <see cref="RnnLayer{T}.Backward(RnnTape{T}, Tensor{T}, Tensor{T})"/> returns besides the parameter gradients it accumulates: the gradients of
/// the loss with respect to that forward's input and h0.
/// </summary>
/// <param name="Input">d(loss)/d(input), shaped like the forward's input: the dense tensor, the padded tensor of the
/// <c>lengths</c> overload (exactly zero past each length), or the packed data (S, H_in) of a PackedSequence.</param>
/// <param name="H0">d(loss)/d(h0), shaped like the h0 that forward was given (the caller's batch order for packed
/// input), or null when forward ran without h0 (a default initial state is a constant, as in PyTorch).</param>
public readonly record struct RnnGradients<T>(Tensor<T> Input, Tensor<T>? H0)
    where T : unmanaged, IFloatingPointIeee754<T>;
