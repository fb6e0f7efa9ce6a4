using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Layout;

namespace ElmanRnn.Training;

/// <summary>
/// A fully connected layer <c>y = x·Wᵀ + b</c>, as PyTorch's <c>torch.nn.Linear(in, out, bias=True)</c>, with its
/// backward pass. Weight and bias start uniform in [-1/√in, 1/√in] (what torch's default init gives).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class Linear<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Parameter<T>[] _parameters;

    /// <summary>Creates the layer, drawing the weight (row-major) and then the bias from <paramref name="random"/>.</summary>
    /// <param name="inFeatures">Size of each input row, ≥ 1.</param>
    /// <param name="outFeatures">Size of each output row, ≥ 1.</param>
    /// <param name="random">The source of the initial values; a fresh unseeded one when null.</param>
    public Linear(int inFeatures, int outFeatures, Random? random = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        random ??= new Random();
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        double bound = 1 / Math.Sqrt(inFeatures);
        var w = new T[outFeatures * inFeatures];
        for (int i = 0; i < w.Length; i++) w[i] = T.CreateChecked(bound * (2 * random.NextDouble() - 1));
        var b = new T[outFeatures];
        for (int i = 0; i < b.Length; i++) b[i] = T.CreateChecked(bound * (2 * random.NextDouble() - 1));
        Weight = new Parameter<T>("weight", w, [outFeatures, inFeatures]);
        Bias = new Parameter<T>("bias", b, [outFeatures]);
        _parameters = [Weight, Bias];
    }

    /// <summary>Size of each input row.</summary>
    public int InFeatures { get; }

    /// <summary>Size of each output row.</summary>
    public int OutFeatures { get; }

    /// <summary>The weight, shape (out, in).</summary>
    public Parameter<T> Weight { get; }

    /// <summary>The bias, shape (out).</summary>
    public Parameter<T> Bias { get; }

    /// <summary>The parameters in PyTorch's order: weight, bias. The same objects on every call.</summary>
    public IReadOnlyList<Parameter<T>> Parameters() => _parameters;

    /// <summary>Sets both gradients to zero.</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters) p.ZeroGrad();
    }

    /// <summary>Applies the layer to <paramref name="input"/> of shape (..., in), giving (..., out).</summary>
    /// <param name="input">Rows of <see cref="InFeatures"/> values in the last dimension.</param>
    /// <returns>A new tensor of shape (..., out).</returns>
    public Tensor<T> Forward(Tensor<T> input)
    {
        T[] x = Flatten(input, nameof(input));
        int rows = x.Length / InFeatures, n = InFeatures, m = OutFeatures;
        var y = new T[rows * m];
        T[] w = Weight.Values, b = Bias.Values;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<T> xr = x.AsSpan(r * n, n);
            for (int o = 0; o < m; o++)
                y[r * m + o] = TensorPrimitives.Dot(xr, w.AsSpan(o * n, n)) + b[o];
        }
        return Tensor.Create(y, WithLast(input, m));
    }

    /// <summary>
    /// Back-propagates <paramref name="gradOutput"/> (shaped like <see cref="Forward"/>'s result) through the layer
    /// applied to <paramref name="input"/>: adds dL/dW and dL/db to the parameters' gradients and returns dL/dinput.
    /// </summary>
    /// <param name="input">The input the forward pass saw, shape (..., in).</param>
    /// <param name="gradOutput">dL/doutput, shape (..., out).</param>
    /// <returns>dL/dinput, shape like <paramref name="input"/>.</returns>
    public Tensor<T> Backward(Tensor<T> input, Tensor<T> gradOutput)
    {
        ArgumentNullException.ThrowIfNull(gradOutput);
        T[] x = Flatten(input, nameof(input));
        int rows = x.Length / InFeatures, n = InFeatures, m = OutFeatures;
        var expected = WithLast(input, m);
        if (!gradOutput.Lengths.SequenceEqual(expected))
            throw new ArgumentException(
                $"Expected gradOutput of shape {ShapeText.Format(expected)}, got {ShapeText.Format(gradOutput.Lengths)}",
                nameof(gradOutput));
        var gy = new T[gradOutput.FlattenedLength];
        gradOutput.FlattenTo(gy);
        T[] w = Weight.Values, gw = Weight.Gradient, gb = Bias.Gradient;
        var gx = new T[x.Length];
        for (int r = 0; r < rows; r++)
        {
            Span<T> gxr = gx.AsSpan(r * n, n);
            ReadOnlySpan<T> xr = x.AsSpan(r * n, n);
            for (int o = 0; o < m; o++)
            {
                T g = gy[r * m + o];
                gb[o] += g;
                TensorPrimitives.MultiplyAdd(w.AsSpan(o * n, n), g, gxr, gxr);
                Span<T> gwo = gw.AsSpan(o * n, n);
                TensorPrimitives.MultiplyAdd(xr, g, gwo, gwo);
            }
        }
        return Tensor.Create(gx, input.Lengths.ToArray());
    }

    private T[] Flatten(Tensor<T> input, string name)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 1 || input.Lengths[^1] != InFeatures)
            throw new ArgumentException(
                $"Expected input with last dimension {InFeatures} (in_features), got shape {ShapeText.Format(input.Lengths)}",
                name);
        var x = new T[input.FlattenedLength];
        input.FlattenTo(x);
        return x;
    }

    private static nint[] WithLast(Tensor<T> input, int last)
    {
        nint[] shape = input.Lengths.ToArray();
        shape[^1] = last;
        return shape;
    }
}
