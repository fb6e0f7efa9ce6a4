namespace ElmanRnn.Tests.Rnn;

/// <summary>Spec §1 and §10 cases 1–15, 65 mapped to C#: PyTorch's ValueError/TypeError become
/// ArgumentOutOfRangeException keeping PyTorch's key phrase. Oracle: the spec's expected names, shapes and texts.</summary>
public class ConstructionTests
{
    [Fact]
    public void DefaultsAreTorchDefaults()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 20 });
        layer.Options.Should().Be(new RnnOptions
        {
            InputSize = 10, HiddenSize = 20, NumLayers = 1, Nonlinearity = Nonlinearity.Tanh, Bias = true,
            BatchFirst = false, Dropout = 0.0, Bidirectional = false,
        });
        layer.Training.Should().BeTrue();
        layer.StateDict().Should().HaveCount(4);
        layer.ToString().Should().Be("RNN(10, 20)");
        layer.Warnings.Should().BeEmpty();
    }

    [Fact]
    public void ReprListsNonDefaultsInTorchOrderWithoutNonlinearity()
    {
        var layer = new RnnLayer<float>(new()
        {
            InputSize = 10, HiddenSize = 20, NumLayers = 2, Nonlinearity = Nonlinearity.Relu, Bias = false,
            BatchFirst = true, Dropout = 0.5, Bidirectional = true,
        });
        layer.ToString().Should().Be("RNN(10, 20, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)");
        new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 20, NumLayers = 2, Dropout = 1 })
            .ToString().Should().Contain("dropout=1.0");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void HiddenSizeMustBePositive(int hidden)
    {
        Action build = () => _ = new RnnLayer<float>(new() { InputSize = 10, HiddenSize = hidden });
        build.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*hidden_size must be greater than zero*");
    }

    [Fact]
    public void InputSizeMustBePositive()
    {
        Action build = () => _ = new RnnLayer<float>(new() { InputSize = 0, HiddenSize = 5 });
        build.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*input_size must be greater than zero*");
    }

    [Fact]
    public void NumLayersMustBePositive()
    {
        Action build = () => _ = new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 10, NumLayers = 0 });
        build.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*num_layers must be greater than zero*");
    }

    [Theory]
    [InlineData(1.5)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void DropoutMustBeAProbability(double p)
    {
        Action build = () => _ = new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 20, NumLayers = 2, Dropout = p });
        build.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*dropout should be a number in range [0, 1]*");
    }

    [Fact]
    public void UndefinedNonlinearityIsRejectedFirst()
    {
        // PyTorch checks nonlinearity before anything else, so it wins over a bad hidden size.
        Action build = () => _ = new RnnLayer<float>(new() { InputSize = 1, HiddenSize = 0, Nonlinearity = (Nonlinearity)7 });
        build.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*Unknown nonlinearity '7'*");
    }

    [Fact]
    public void DropoutWithOneLayerWarnsOnceButConstructs()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 20, NumLayers = 1, Dropout = 0.5 });
        layer.Warnings.Should().ContainSingle()
            .Which.Should().Contain("dropout option adds dropout after all but last recurrent layer")
            .And.Contain("dropout=0.5").And.Contain("num_layers=1");
        new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 20, NumLayers = 2, Dropout = 0.5 }).Warnings.Should().BeEmpty();
        new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 20, Dropout = 0 }).Warnings.Should().BeEmpty();
    }

    [Fact]
    public void DropoutOfOneIsAccepted()
    {
        new RnnLayer<float>(new() { InputSize = 10, HiddenSize = 20, NumLayers = 2, Dropout = 1 }).Options.Dropout.Should().Be(1.0);
    }
}
