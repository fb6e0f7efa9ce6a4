using ElmanRnn.Training;

namespace ElmanRnn.Tests.Training;

public class LinearAndLossTests
{
    // Oracle: central finite differences (h = 1e-6) of L = Σ c·y in float64; tol 1e-7 absolute. Forward vs naive loop, 1e-14.
    [Fact]
    public void Linear_forward_and_backward_match_finite_differences()
    {
        var random = new Random(3);
        var lin = new Linear<double>(4, 3, random);
        var x = TestTensors.Create<double>(TestTensors.Random(random, 2 * 5 * 4), 2, 5, 4);
        double[] c = TestTensors.Random(random, 2 * 5 * 3);
        double L() => lin.Forward(x).ToDoubles().Zip(c, (a, b) => a * b).Sum();

        var y = lin.Forward(x);
        y.Shape().Should().Equal(2, 5, 3);
        double[] xs = x.ToDoubles(), ys = y.ToDoubles();
        for (int r = 0; r < 10; r++)
            for (int o = 0; o < 3; o++)
            {
                double e = lin.Bias.Values[o];
                for (int i = 0; i < 4; i++) e += xs[r * 4 + i] * lin.Weight.Values[o * 4 + i];
                ys[r * 3 + o].Should().BeApproximately(e, 1e-14);
            }

        var gx = lin.Backward(x, TestTensors.Create<double>(c, 2, 5, 3)).ToDoubles();
        const double h = 1e-6;
        var xData = new double[xs.Length]; x.FlattenTo(xData);
        for (int k = 0; k < xs.Length; k++)
        {
            double keep = xs[k];
            x[IndexOf(k, 5, 4)] = keep + h; double up = L();
            x[IndexOf(k, 5, 4)] = keep - h; double down = L();
            x[IndexOf(k, 5, 4)] = keep;
            gx[k].Should().BeApproximately((up - down) / (2 * h), 1e-7);
        }
        foreach (var p in lin.Parameters())
            for (int k = 0; k < p.Count; k++)
            {
                double keep = p.Values[k];
                p.Values[k] = keep + h; double up = L();
                p.Values[k] = keep - h; double down = L();
                p.Values[k] = keep;
                p.Gradient[k].Should().BeApproximately((up - down) / (2 * h), 1e-7);
            }
        lin.Parameters().Select(p => p.Name).Should().Equal("weight", "bias");
    }

    private static nint[] IndexOf(int k, int d1, int d2) => [k / (d1 * d2), k / d2 % d1, k % d2];

    // Oracle: hand values. pred (1,2,3), target (0,2,5): loss (1+0+4)/3; grad 2(1,0,−2)/3. Tol 1e-15.
    [Fact]
    public void MseLoss_by_hand()
    {
        var loss = Losses.MseLoss(TestTensors.Create<double>([1, 2, 3], 3), TestTensors.Create<double>([0, 2, 5], 3), out var g);
        loss.Should().BeApproximately(5.0 / 3, 1e-15);
        TestTensors.RelativeError(g.ToDoubles(), [2.0 / 3, 0, -4.0 / 3]).Should().BeLessThanOrEqualTo(1e-15);
        FluentActions.Invoking(() => Losses.MseLoss(TestTensors.Create<double>([1, 2], 2), TestTensors.Create<double>([1, 2, 3], 3), out _))
            .Should().Throw<ArgumentException>().WithMessage("*[2]*[3]*");
    }

    // Oracle: hand values. Row (0,0) target 0: ln 2, grad (−0.5, 0.5)/N; row (1000, 0) target 0: ≈0 loss (stability),
    // grad ≈ 0. Mean over N=2. Tol 1e-12.
    [Fact]
    public void CrossEntropy_by_hand_and_stable()
    {
        var loss = Losses.CrossEntropy(TestTensors.Create<double>([0, 0, 1000, 0], 2, 2), [0, 0], out var g);
        loss.Should().BeApproximately(Math.Log(2) / 2, 1e-12);
        TestTensors.RelativeError(g.ToDoubles(), [-0.25, 0.25, 0, 0]).Should().BeLessThanOrEqualTo(1e-12);
        FluentActions.Invoking(() => Losses.CrossEntropy(TestTensors.Create<double>([0, 0], 1, 2), [2], out _))
            .Should().Throw<ArgumentException>().WithMessage("*Target 2*[0, 2)*");
        FluentActions.Invoking(() => Losses.CrossEntropy(TestTensors.Create<double>([0, 0], 1, 2), [0, 1], out _))
            .Should().Throw<ArgumentException>().WithMessage("*Expected 1 targets*got 2*");
    }
}
