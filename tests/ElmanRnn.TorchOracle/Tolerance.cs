using static TorchSharp.torch;

namespace ElmanRnn.TorchOracle;

/// <summary>How close two results must be: matmul accumulation order is unspecified (spec §3.1), so results are
/// compared relative to the magnitude of the reference rather than bitwise.</summary>
internal static class Tolerance
{
    public static double For(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => 1e-5,
        ScalarType.Float64 => 1e-12,
        _ => throw new ArgumentException($"No tolerance defined for {dtype}."),
    };

    /// <summary>The largest element of a tensor as a double (0 for an empty tensor).</summary>
    public static double MaxAbs(Tensor t) =>
        t.numel() == 0 ? 0 : t.abs().max().to_type(ScalarType.Float64).item<double>();

    /// <summary>max |actual − expected|, or +∞ when the shapes differ.</summary>
    public static double MaxAbsDifference(Tensor actual, Tensor expected) =>
        actual.shape.SequenceEqual(expected.shape)
            ? MaxAbs(actual.to_type(ScalarType.Float64) - expected.to_type(ScalarType.Float64))
            : double.PositiveInfinity;

    /// <summary>Same shape, dtype and values (for reruns of the same libtorch computation, which are exact).</summary>
    public static bool Identical(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>
    /// Divides by the reference's peak magnitude, but never by less than 1. Rounding errors scale with the
    /// magnitudes of the summed terms (inputs, weights, states; all about 1 here), not with the result: a ReLU
    /// output that nearly cancels to 0.007 carries the same ~1e-7 absolute float32 error as one of 1, and
    /// measured relative to 0.007 that would look like 1.6e-5 (seen between PyTorch 1.13 and libtorch 2.10).
    /// </summary>
    public static double Relative(double difference, double scale) => difference / Math.Max(scale, 1);
}
