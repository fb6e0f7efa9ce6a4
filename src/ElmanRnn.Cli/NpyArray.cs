using System.Numerics.Tensors;

namespace ElmanRnn.Cli;

/// <summary>An array read from an .npy file: its values converted to <typeparamref name="T"/>, and how they were stored.</summary>
internal readonly record struct NpyArray<T>(Tensor<T> Values, DType Stored);
