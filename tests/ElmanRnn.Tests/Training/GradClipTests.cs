using ElmanRnn.Training;

namespace ElmanRnn.Tests.Training;

public class GradClipTests
{
    private static Parameter<double> P(double[] grad)
    {
        var p = new Parameter<double>("p", new double[grad.Length], [grad.Length]);
        grad.CopyTo(p.Gradient, 0);
        return p;
    }

    // Oracle: hand values. Grads (3, 4): total 5; coef = 1/(5 + 1e-6). Tol 1e-15.
    [Fact]
    public void ClipGradNorm_scales_by_hand_coefficient()
    {
        var p = P([3, 4]);
        GradClip.ClipGradNorm([p], 1.0).Should().BeApproximately(5, 1e-15);
        p.Gradient[0].Should().BeApproximately(3 / (5 + 1e-6), 1e-15);
        p.Gradient[1].Should().BeApproximately(4 / (5 + 1e-6), 1e-15);
    }

    // Oracle: hand values. Norm of norms across two parameters [3] and [4] is 5; max 10 → coef clamped to 1. Tol 1e-15.
    [Fact]
    public void ClipGradNorm_norm_of_norms_and_clamp()
    {
        var a = P([3]); var b = P([-4]);
        GradClip.ClipGradNorm([a, b], 10.0).Should().BeApproximately(5, 1e-15);
        a.Gradient[0].Should().Be(3); b.Gradient[0].Should().Be(-4);
    }

    // Oracle: hand values. Inf norm of (3, −4) is 4; max 2 → coef 2/(4+1e-6). Tol 1e-15.
    [Fact]
    public void ClipGradNorm_infinity()
    {
        var p = P([3, -4]);
        GradClip.ClipGradNorm([p], 2.0, double.PositiveInfinity).Should().Be(4);
        p.Gradient[1].Should().BeApproximately(-4 * 2 / (4 + 1e-6), 1e-15);
    }

    // Oracle: hand values (exact clamp).
    [Fact]
    public void ClipGradValue_clamps()
    {
        var p = P([-3, 0.5, 2]);
        GradClip.ClipGradValue([p], 1.0);
        p.Gradient.Should().Equal(-1, 0.5, 1);
    }
}
