namespace ElmanRnn.Tests.Rnn;

/// <summary>
/// Spec §10 cases 28–32: RNN(1, 1) with hand-chosen scalar weights; expected values are float64 evaluations of the
/// formulas (the spec's hand values). Tolerance: 1e-15 absolute in float64.
/// </summary>
public class HandComputedTests
{
    private static readonly double[] TwoSteps = [1, 2];   // (L=2, N=1, I=1)

    [Fact]
    public void TanhFollowsTheCellFormula()
    {
        var (output, hn) = RnnTestKit.Scalar<double>(new() { InputSize = 1, HiddenSize = 1 })
            .Forward(RnnTestKit.Input<double>(TwoSteps, 2, 1, 1));
        output.ToDoubles().Should().Equal([0.6640367702678491, 0.5621446952832613], Close);
        hn.Shape().Should().Equal(1, 1, 1);
        hn.ToDoubles().Should().Equal([0.5621446952832613], Close);
    }

    [Fact]
    public void ReluFollowsTheCellFormula()
    {
        var (output, _) = RnnTestKit.Scalar<double>(new() { InputSize = 1, HiddenSize = 1, Nonlinearity = Nonlinearity.Relu })
            .Forward(RnnTestKit.Input<double>(TwoSteps, 2, 1, 1));
        output.ToDoubles().Should().Equal([0.8, 0.5], Close);
    }

    [Fact]
    public void WithoutBiasOnlyWeightsContribute()
    {
        var (output, _) = RnnTestKit.Scalar<double>(new() { InputSize = 1, HiddenSize = 1, Bias = false })
            .Forward(RnnTestKit.Input<double>(TwoSteps, 2, 1, 1));
        output.ToDoubles().Should().Equal([0.46211715726000974, 0.4913836852061291], Close);
    }

    [Fact]
    public void ReverseDirectionRunsFromTheLastStepAndItsFinalStateIsAtStepZero()
    {
        var (output, hn) = RnnTestKit.Scalar<double>(new() { InputSize = 1, HiddenSize = 1, Bidirectional = true })
            .Forward(RnnTestKit.Input<double>(TwoSteps, 2, 1, 1));
        output.Shape().Should().Equal(2, 1, 2);
        output.ToDoubles().Should().Equal(
            [0.6640367702678491, 0.901844598209524, 0.5621446952832613, 0.9640275800758169], Close);
        hn.ToDoubles().Should().Equal([0.5621446952832613, 0.901844598209524], Close);
    }

    [Fact]
    public void SecondLayerReadsTheFirstLayersOutput()
    {
        var (output, hn) = RnnTestKit.Scalar<double>(new() { InputSize = 1, HiddenSize = 1, NumLayers = 2 })
            .Forward(RnnTestKit.Input<double>(TwoSteps, 2, 1, 1));
        output.ToDoubles().Should().Equal([0.8687777064836079, 0.9152060654109105], Close);
        hn.ToDoubles().Should().Equal([0.5621446952832613, 0.9152060654109105], Close);
    }

    [Fact]
    public void FloatGivesTheSameValuesWithinSinglePrecision()
    {
        var (output, _) = RnnTestKit.Scalar<float>(new() { InputSize = 1, HiddenSize = 1, Bidirectional = true })
            .Forward(RnnTestKit.Input<float>(TwoSteps, 2, 1, 1));
        output.ToDoubles().Should().Equal(
            [0.6640367702678491, 0.901844598209524, 0.5621446952832613, 0.9640275800758169],
            (a, e) => Math.Abs(a - e) <= 1e-6);
    }

    private static bool Close(double actual, double expected) => Math.Abs(actual - expected) <= 1e-15;
}
