namespace ElmanRnn.Cli;

/// <summary>Names of <see cref="DType"/> values.</summary>
internal static class DTypes
{
    /// <summary>NumPy's and PyTorch's name: <c>float32</c> or <c>float64</c>.</summary>
    public static string Name(this DType dtype) => dtype == DType.Float32 ? "float32" : "float64";
}
