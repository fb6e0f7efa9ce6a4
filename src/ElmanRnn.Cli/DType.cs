namespace ElmanRnn.Cli;

/// <summary>The element types the CLI computes in and exchanges through .npy files (NumPy's and PyTorch's names).</summary>
internal enum DType
{
    /// <summary>float32: <c>float</c>, .npy descr <c>'&lt;f4'</c>.</summary>
    Float32,

    /// <summary>float64: <c>double</c>, .npy descr <c>'&lt;f8'</c>.</summary>
    Float64,
}
