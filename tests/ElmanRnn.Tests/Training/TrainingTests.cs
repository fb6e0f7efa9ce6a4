using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Training;

namespace ElmanRnn.Tests.Training;

public class OptimizerTests
{
    private static Parameter<T> Param<T>(string name, double[] values) where T : unmanaged, IFloatingPointIeee754<T> =>
        new(name, values.Select(T.CreateChecked).ToArray(), [values.Length]);

    private static void SetGrad<T>(Parameter<T> p, double[] g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < g.Length; i++) p.Gradient[i] = T.CreateChecked(g[i]);
    }

    private static double[] Values<T>(Parameter<T> p) where T : unmanaged, IFloatingPointIeee754<T> =>
        p.Values.Select(double.CreateChecked).ToArray();

    // Hand-fed gradient sequence: 15 steps for 2 parameters of sizes 3 and 2.
    private static double[][][] Grads()
    {
        var random = new Random(7);
        return Enumerable.Range(0, 15).Select(_ => new[] { TestTensors.Random(random, 3), TestTensors.Random(random, 2) }).ToArray();
    }

    private static readonly double[][] Init = [[0.5, -1.0, 0.25], [2.0, -0.75]];

    // Naive reference: torch's documented SGD algorithm transcribed in double.
    private static double[][] RefSgd(double lr, double mom, double damp, double wd, bool nesterov)
    {
        var theta = Init.Select(a => (double[])a.Clone()).ToArray();
        var b = Init.Select(a => new double[a.Length]).ToArray();
        var grads = Grads();
        for (int t = 0; t < grads.Length; t++)
            for (int p = 0; p < theta.Length; p++)
                for (int i = 0; i < theta[p].Length; i++)
                {
                    double g = grads[t][p][i] + wd * theta[p][i];
                    if (mom != 0)
                    {
                        b[p][i] = t == 0 ? g : mom * b[p][i] + (1 - damp) * g;
                        g = nesterov ? g + mom * b[p][i] : b[p][i];
                    }
                    theta[p][i] -= lr * g;
                }
        return theta;
    }

    // Naive reference: torch's documented Adam/AdamW algorithm (bias-corrected m̂, v̂) transcribed in double.
    private static double[][] RefAdam(double lr, double b1, double b2, double eps, double wd, bool amsgrad, bool decoupled)
    {
        var theta = Init.Select(a => (double[])a.Clone()).ToArray();
        var m = Init.Select(a => new double[a.Length]).ToArray();
        var v = Init.Select(a => new double[a.Length]).ToArray();
        var vmax = Init.Select(a => new double[a.Length]).ToArray();
        var grads = Grads();
        for (int t = 1; t <= grads.Length; t++)
            for (int p = 0; p < theta.Length; p++)
                for (int i = 0; i < theta[p].Length; i++)
                {
                    double g = grads[t - 1][p][i];
                    if (decoupled) theta[p][i] -= lr * wd * theta[p][i];
                    else g += wd * theta[p][i];
                    m[p][i] = b1 * m[p][i] + (1 - b1) * g;
                    v[p][i] = b2 * v[p][i] + (1 - b2) * g * g;
                    double mhat = m[p][i] / (1 - Math.Pow(b1, t));
                    double vv = v[p][i];
                    if (amsgrad) vv = vmax[p][i] = Math.Max(vmax[p][i], v[p][i]);
                    double vhat = vv / (1 - Math.Pow(b2, t));
                    theta[p][i] -= lr * mhat / (Math.Sqrt(vhat) + eps);
                }
        return theta;
    }

    private static double[][] Run<T>(Func<Parameter<T>[], Action> make) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ps = new[] { Param<T>("a", Init[0]), Param<T>("b", Init[1]) };
        Action step = make(ps);
        foreach (var g in Grads())
        {
            SetGrad(ps[0], g[0]);
            SetGrad(ps[1], g[1]);
            step();
        }
        return ps.Select(Values).ToArray();
    }

    private static void Compare(double[][] actual, double[][] expected, double tol)
    {
        for (int p = 0; p < expected.Length; p++)
            TestTensors.RelativeError(actual[p], expected[p]).Should().BeLessThanOrEqualTo(tol);
    }

    public static TheoryData<double, double, double, bool> SgdConfigs => new()
    {
        { 0, 0, 0, false }, { 0.9, 0, 0, false }, { 0.9, 0.3, 0.01, false }, { 0.8, 0, 0.05, true },
    };

    // Oracle: RefSgd (double transcription of torch's algorithm), 15 steps; tol 1e-12 (float64), 1e-5 (float32), relative.
    [Theory]
    [MemberData(nameof(SgdConfigs))]
    public void Sgd_matches_reference(double mom, double damp, double wd, bool nesterov)
    {
        var expected = RefSgd(0.1, mom, damp, wd, nesterov);
        Compare(Run<double>(ps => new Sgd<double>(ps, 0.1, mom, damp, wd, nesterov).Step), expected, 1e-12);
        Compare(Run<float>(ps => new Sgd<float>(ps, 0.1, mom, damp, wd, nesterov).Step), expected, 1e-5);
    }

    public static TheoryData<double, bool, bool> AdamConfigs => new()
    {
        { 0, false, false }, { 0.05, false, false }, { 0, true, false }, { 0.01, false, true }, { 0.1, true, true },
    };

    // Oracle: RefAdam (double transcription of torch's documented Adam/AdamW), 15 steps; tol 1e-12 (f64), 1e-5 (f32).
    [Theory]
    [MemberData(nameof(AdamConfigs))]
    public void Adam_matches_reference(double wd, bool amsgrad, bool decoupled)
    {
        var expected = RefAdam(0.01, 0.9, 0.999, 1e-8, wd, amsgrad, decoupled);
        Func<Parameter<double>[], Action> d = decoupled
            ? ps => new AdamW<double>(ps, 0.01, weightDecay: wd, amsgrad: amsgrad).Step
            : ps => new Adam<double>(ps, 0.01, weightDecay: wd, amsgrad: amsgrad).Step;
        Func<Parameter<float>[], Action> f = decoupled
            ? ps => new AdamW<float>(ps, 0.01, weightDecay: wd, amsgrad: amsgrad).Step
            : ps => new Adam<float>(ps, 0.01, weightDecay: wd, amsgrad: amsgrad).Step;
        Compare(Run(d), expected, 1e-12);
        Compare(Run(f), expected, 1e-5);
    }

    // Oracle: hand arithmetic. p=1, g=0.5, lr=0.1, momentum=0.9: buf=0.5 → p=0.95; then buf=0.95 → p=0.855. Tol 1e-15.
    [Fact]
    public void Sgd_momentum_first_steps_by_hand()
    {
        var p = Param<double>("p", [1.0]);
        var sgd = new Sgd<double>([p], 0.1, momentum: 0.9);
        SetGrad(p, [0.5]); sgd.Step();
        p.Values[0].Should().BeApproximately(0.95, 1e-15);
        sgd.Step();
        p.Values[0].Should().BeApproximately(0.855, 1e-15);
    }

    // Oracle: hand arithmetic. Nesterov first step: g + 0.9·buf = 0.5 + 0.45 = 0.95 → p = 1 − 0.095 = 0.905. Tol 1e-15.
    [Fact]
    public void Sgd_nesterov_first_step_by_hand()
    {
        var p = Param<double>("p", [1.0]);
        var sgd = new Sgd<double>([p], 0.1, momentum: 0.9, nesterov: true);
        SetGrad(p, [0.5]); sgd.Step();
        p.Values[0].Should().BeApproximately(0.905, 1e-15);
    }

    // Oracle: hand algebra. Step 1: m̂ = g, v̂ = g², so p −= lr·g/(|g| + eps) exactly: 1 − 0.1·0.5/(0.5+1e-8). Tol 1e-15.
    [Fact]
    public void Adam_first_step_by_hand()
    {
        var p = Param<double>("p", [1.0, 2.0]);
        var adam = new Adam<double>([p], lr: 0.1);
        SetGrad(p, [0.5, -3.0]); adam.Step();
        p.Values[0].Should().BeApproximately(1 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-15);
        p.Values[1].Should().BeApproximately(2 + 0.1 * 3.0 / (3.0 + 1e-8), 1e-15);
    }

    [Fact]
    public void Validation_uses_torch_messages()
    {
        var ps = new[] { Param<double>("p", [1.0]) };
        FluentActions.Invoking(() => new Sgd<double>(ps, -1)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("Invalid learning rate: -1*");
        FluentActions.Invoking(() => new Sgd<double>(ps, 0.1, momentum: -1)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("Invalid momentum value: -1*");
        FluentActions.Invoking(() => new Sgd<double>(ps, 0.1, weightDecay: -1)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("Invalid weight_decay value: -1*");
        FluentActions.Invoking(() => new Sgd<double>(ps, 0.1, nesterov: true)).Should().Throw<ArgumentException>().WithMessage("Nesterov momentum requires a momentum and zero dampening*");
        FluentActions.Invoking(() => new Sgd<double>(ps, 0.1, momentum: 0.9, dampening: 0.1, nesterov: true)).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => new Adam<double>(ps, beta1: 1.0)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("Invalid beta parameter at index 0: 1*");
    }
}

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
