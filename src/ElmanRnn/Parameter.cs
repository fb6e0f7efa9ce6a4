using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Layout;

namespace ElmanRnn;

/// <summary>
/// One trainable tensor, as PyTorch's <c>nn.Parameter</c>: its value and the gradient that backward passes accumulate
/// into it. <see cref="Value"/> is a live view of the owner's storage (writes are seen by the owner's next forward,
/// with no refresh call); <see cref="Grad"/> is a live view of the gradient buffer, added to (+=) by every backward
/// pass and cleared by <c>ZeroGrad</c>. Both are dense, row-major, of shape <see cref="Shape"/>.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class Parameter<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _shape;

    internal Parameter(string name, T[] values, int[] shape)
    {
        Name = name;
        Values = values;
        Gradient = new T[values.Length];
        _shape = shape;
        nint[] lengths = shape.Select(x => (nint)x).ToArray();
        Value = Tensor.Create(values, lengths);
        Grad = Tensor.Create(Gradient, lengths);
    }

    /// <summary>The name in the owner's state dict, e.g. <c>weight_ih_l0</c> or <c>bias</c>.</summary>
    public string Name { get; }

    /// <summary>The values: a live view, so an optimizer's (or the user's) writes are what the next forward uses.</summary>
    public Tensor<T> Value { get; }

    /// <summary>The accumulated gradient d(loss)/d(Value): a live view, added to by backward, cleared by ZeroGrad.</summary>
    public Tensor<T> Grad { get; }

    /// <summary>The shape of <see cref="Value"/> and <see cref="Grad"/>, as PyTorch's <c>param.shape</c>.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>Number of elements.</summary>
    public int Count => Values.Length;

    /// <summary>The storage behind <see cref="Value"/>, row-major: what optimizers update in place.</summary>
    internal T[] Values { get; }

    /// <summary>The storage behind <see cref="Grad"/>, row-major.</summary>
    internal T[] Gradient { get; }

    /// <summary>Sets the gradient to zero (PyTorch's <c>zero_grad(set_to_none=False)</c>).</summary>
    public void ZeroGrad() => Array.Clear(Gradient);

    /// <inheritdoc />
    public override string ToString() => $"{Name} {ShapeText.Format<int>(_shape)}";
}
