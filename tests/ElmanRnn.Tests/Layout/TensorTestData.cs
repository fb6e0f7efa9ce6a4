using System.Numerics.Tensors;

namespace ElmanRnn.Tests.Layout;

/// <summary>Builds and reads tensors for the layout tests. Packing only moves values, so every comparison against
/// these is exact.</summary>
internal static class TensorTestData
{
    /// <summary>A rank-1 float tensor, e.g. the sequence <c>[1, 2, 3]</c> of PyTorch's tests.</summary>
    public static Tensor<float> Seq(params float[] values) => Tensor.Create(values, [values.Length]);

    /// <summary>All elements in row-major order (works for non-dense tensors too).</summary>
    public static T[] Values<T>(Tensor<T> tensor)
    {
        var values = new T[tensor.FlattenedLength];
        tensor.FlattenTo(values);
        return values;
    }

    public static nint[] Shape<T>(Tensor<T> tensor) => tensor.Lengths.ToArray();

    /// <summary>Values of a row-major (d0, d1, rest) array with its first two dimensions swapped: (d1, d0, rest).
    /// The independent oracle for every transpose between time-major and batch-first.</summary>
    public static T[] SwapFirstTwoDims<T>(T[] values, int d0, int d1)
    {
        int rest = d0 * d1 == 0 ? 0 : values.Length / (d0 * d1);
        var swapped = new T[values.Length];
        for (int i = 0; i < d0; i++)
            for (int j = 0; j < d1; j++)
                Array.Copy(values, (i * d1 + j) * rest, swapped, (j * d0 + i) * rest, rest);
        return swapped;
    }

    /// <summary>
    /// A non-dense (B, T, *) view of a dense (T, B, *) array, made with explicit strides: what PyTorch's
    /// <c>padded.transpose(0, 1)</c> is.
    /// </summary>
    public static Tensor<T> TransposedView<T>(T[] timeMajor, int steps, int batch, params nint[] trailing)
    {
        int rowSize = 1;
        foreach (nint d in trailing)
            rowSize *= (int)d;

        var lengths = new nint[2 + trailing.Length];
        var strides = new nint[lengths.Length];
        lengths[0] = batch;
        lengths[1] = steps;
        strides[0] = rowSize;
        strides[1] = batch * rowSize;
        nint stride = 1;
        for (int d = lengths.Length - 1; d >= 2; d--)
        {
            lengths[d] = trailing[d - 2];
            strides[d] = stride;
            stride *= trailing[d - 2];
        }

        var view = Tensor.Create(timeMajor, lengths, strides);
        view.IsDense.Should().BeFalse("the view must exercise the strided read path");
        return view;
    }

    /// <summary><paramref name="count"/> distinct values from a seeded generator.</summary>
    public static float[] RandomValues(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
            values[i] = (float)random.NextDouble() * 2 - 1;
        return values;
    }
}
