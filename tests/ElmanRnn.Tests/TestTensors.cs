using System.Numerics;
using System.Numerics.Tensors;

namespace ElmanRnn.Tests;

/// <summary>Small conversions between tensors and plain double arrays for assertions.</summary>
internal static class TestTensors
{
    public static Tensor<T> Create<T>(double[] values, params nint[] shape) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tensor.Create(values.Select(T.CreateChecked).ToArray(), shape);

    public static double[] ToDoubles<T>(this Tensor<T> tensor) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var flat = new T[tensor.FlattenedLength];
        tensor.FlattenTo(flat);
        return flat.Select(double.CreateChecked).ToArray();
    }

    public static nint[] Shape<T>(this Tensor<T> tensor) where T : unmanaged, IFloatingPointIeee754<T> =>
        tensor.Lengths.ToArray();

    public static double[] Random(Random random, int count, double scale = 1.0) =>
        Enumerable.Range(0, count).Select(_ => scale * (2 * random.NextDouble() - 1)).ToArray();

    /// <summary>max |actual - expected| / max(1, max |expected|): the error relative to the values' magnitude.</summary>
    public static double RelativeError(double[] actual, double[] expected)
    {
        actual.Length.Should().Be(expected.Length);
        double scale = Math.Max(1.0, expected.Length == 0 ? 0 : expected.Max(Math.Abs));
        double worst = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double e = Math.Abs(actual[i] - expected[i]);
            if (double.IsNaN(e)) return double.PositiveInfinity;
            worst = Math.Max(worst, e);
        }
        return worst / scale;
    }

    /// <summary>Weights as PyTorch names → tensors, from plain values.</summary>
    public static Dictionary<string, Tensor<T>> StateDict<T>(params (string Name, double[] Values, nint[] Shape)[] entries)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        entries.ToDictionary(e => e.Name, e => Create<T>(e.Values, e.Shape));
}
