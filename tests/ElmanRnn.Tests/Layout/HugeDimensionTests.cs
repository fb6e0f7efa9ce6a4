using System.Numerics.Tensors;
using ElmanRnn.Layout;

namespace ElmanRnn.Tests.Layout;

/// <summary>
/// Dimensions above int.MaxValue used to be cast to int: [2^32+3, 0, 4] silently returned an output of shape
/// [3, 0, 2], Pad([[2^32+1, 0]]) a shape [1, 1, 0]. They are refused by name instead. Oracle: the shapes themselves
/// (the truncated cast is what must not happen).
/// </summary>
public class HugeDimensionTests
{
    // nint is 64-bit on every platform the tests run on.
    private static readonly nint TwoTo32 = (nint)Math.Pow(2, 32), Big = TwoTo32 + 3, TwoTo32Plus1 = TwoTo32 + 1;

    [Fact]
    public void ForwardRefusesADimensionAboveIntMaxValue()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 4, HiddenSize = 2 });
        var empty = Tensor.Create(Array.Empty<float>(), [Big, 0, 4]);
        var act = () => layer.Forward(empty);
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage(
            "input has shape [4294967299, 0, 4]: dimension 0 is 4294967299, more than ElmanRnn supports in one dimension (2147483647).*");
    }

    [Fact]
    public void ForwardRefusesAHugeStrideZeroBroadcast()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 6, HiddenSize = 7, Bidirectional = true });
        var broadcast = Tensor.Create(new float[6], 0, [4, TwoTo32, 6], [0, 0, 1]);
        var act = () => layer.Forward(broadcast);
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*dimension 1 is 4294967296*");
    }

    [Fact]
    public void PackingFunctionsRefuseADimensionAboveIntMaxValue()
    {
        var pad = () => PackedSequence.Pad([Tensor.Create(Array.Empty<float>(), [TwoTo32Plus1, 0])]);
        pad.Should().Throw<ArgumentOutOfRangeException>().WithMessage("sequences has shape [4294967297, 0]*");
    }
}
