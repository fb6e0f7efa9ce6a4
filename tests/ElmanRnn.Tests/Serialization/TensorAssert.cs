using System.Numerics.Tensors;

namespace ElmanRnn.Tests.Serialization;

internal static class TensorAssert
{
    public static T[] Values<T>(Tensor<T> tensor)
    {
        var values = new T[tensor.FlattenedLength];
        tensor.FlattenTo(values);
        return values;
    }

    public static long[] Shape<T>(Tensor<T> tensor) => Array.ConvertAll(tensor.Lengths.ToArray(), l => (long)l);

    /// <summary>Exact comparison by <c>Equals</c> (NaN matches NaN, and -0 matches +0, so sign-sensitive tests check bits themselves).</summary>
    public static void ShouldEqual<T>(this Tensor<T> actual, long[] shape, params T[] values)
    {
        Shape(actual).Should().Equal(shape);
        Values(actual).Should().Equal(values);
    }
}
