using System.Runtime.InteropServices;
using System.Numerics.Tensors;

namespace ElmanRnn.Tests.Rnn;

/// <summary>
/// Sizes are checked in 64-bit before anything is allocated: an architecture that cannot exist in this process gets
/// an ArgumentOutOfRangeException naming the limit, never an OutOfMemoryException, an overflow or a crash. Oracle:
/// the arithmetic in the messages (H·H, the .NET array limit) and the reproductions.
/// </summary>
public class ArchitectureLimitTests
{
    [Theory]
    [InlineData(8, 46341, 1)]          // H·H = 2 147 488 281 wraps negative in int
    [InlineData(8, 1 << 20, 1)]        // H·H wraps to 0
    [InlineData(8, 1 << 30, 1)]
    [InlineData(int.MaxValue, 4, 1)]
    public void AParameterLargerThanOneArrayIsRefusedUpFront(int inputSize, int hidden, int layers)
    {
        var act = () => new RnnLayer<float>(new() { InputSize = inputSize, HiddenSize = hidden, NumLayers = layers });
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("RNN(*) is too large: *more than one .NET array can*");
    }

    [Fact]
    public void LayersThatCannotFitInMemoryAreRefusedUpFront()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var act = () => new RnnLayer<float>(new() { InputSize = 1, HiddenSize = 1, NumLayers = int.MaxValue });
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage(
            "RNN(1, 1, num_layers=2147483647) is too large: its parameters would need *bytes*this process can use*");
        (GC.GetAllocatedBytesForCurrentThread() - before).Should().BeLessThan(1 << 20, "nothing is allocated before the check");
    }

    [Fact]
    public void ManyOneUnitLayersConstructAndRunInLinearTime()
    {
        // 20 000 layers took 6.5 s to construct when every layer scanned every parameter; now one pass. The oracle for
        // the value: a one-unit tanh RNN with all weights w and biases b is the scalar recurrence per layer, computed here.
        var layer = new RnnLayer<double>(new() { InputSize = 1, HiddenSize = 1, NumLayers = 20_000 }) { Training = false };
        var dict = layer.StateDict().ToDictionary(kv => kv.Key, kv => Tensor.Create([kv.Key.StartsWith("weight") ? 0.5 : 0.0], kv.Value.Lengths));
        layer.LoadStateDict(dict);
        var (output, hn) = layer.Forward(Tensor.Create([1.0, -1.0], [2, 1, 1]));
        double[] x = [1.0, -1.0];
        for (int l = 0; l < 20_000; l++)
        {
            double h = 0;
            for (int t = 0; t < 2; t++)
                x[t] = h = Math.Tanh(0.5 * x[t] + 0.5 * h);
        }
        output.ToDoubles().Should().BeEquivalentTo(x, o => o.WithStrictOrdering().Using<double>(c => c.Subject.Should().BeApproximately(c.Expectation, 1e-12)).WhenTypeIs<double>());
        hn.Lengths[0].Should().Be(20_000);
    }

    [Fact]
    public void ElementTypesOtherThanFloatAndDoubleAreRefusedByName()
    {
        var act = () => new RnnLayer<Half>(new() { InputSize = 1, HiddenSize = 1 });
        act.Should().Throw<NotSupportedException>().WithMessage("RnnLayer<Half> is not supported: the element type must be float or double.");
        var nfloat = () => new RnnLayer<NFloat>(new() { InputSize = 1, HiddenSize = 1 });
        nfloat.Should().Throw<NotSupportedException>().WithMessage("RnnLayer<NFloat>*float or double*");
    }
}
