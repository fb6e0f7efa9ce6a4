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

    [Fact]
    public void LearningRate_setter_validates_as_the_constructor_and_keeps_the_old_value_on_failure()
    {
        var ps = new[] { Param<double>("p", [1.0]) };
        var sgd = new Sgd<double>(ps, 0.1);
        FluentActions.Invoking(() => sgd.LearningRate = -0.5).Should().Throw<ArgumentOutOfRangeException>().WithMessage("Invalid learning rate: -0.5*");
        sgd.LearningRate.Should().Be(0.1);
        var adam = new AdamW<double>(ps);
        FluentActions.Invoking(() => adam.LearningRate = double.NaN).Should().Throw<ArgumentOutOfRangeException>().WithMessage("Invalid learning rate: NaN*");
        adam.LearningRate.Should().Be(1e-3);
        adam.LearningRate = 0;
        adam.LearningRate.Should().Be(0);
    }

    // Oracle: hand arithmetic. maximize negates the gradient before weight decay (torch 2.x): p = 1, g = 0.5,
    // weight_decay = 0.2, lr = 0.1: d = −0.5 + 0.2·1 = −0.3 → p = 1.03. (Negating the whole update instead, torch
    // ≤ 1.12's rule, would give 1 + 0.1·0.7 = 1.07.) Then lr = 0.01: d = −0.5 + 0.206 = −0.294 → p = 1.03294. Tol 1e-15.
    [Fact]
    public void Sgd_maximize_and_a_changed_learning_rate_by_hand()
    {
        var p = Param<double>("p", [1.0]);
        var sgd = new Sgd<double>([p], 0.1, weightDecay: 0.2) { Maximize = true };
        SetGrad(p, [0.5]); sgd.Step();
        p.Values[0].Should().BeApproximately(1.03, 1e-15);
        sgd.LearningRate = 0.01;
        sgd.Step();
        p.Values[0].Should().BeApproximately(1.03294, 1e-15);
    }

    // Oracle: hand algebra. Adam's first step with maximize: m̂ = −g, v̂ = g², so p += lr·g/(|g| + eps).
    // Tol 1e-15.
    [Fact]
    public void Adam_maximize_first_step_by_hand()
    {
        var p = Param<double>("p", [1.0]);
        var adam = new Adam<double>([p], lr: 0.1) { Maximize = true };
        SetGrad(p, [0.5]); adam.Step();
        p.Values[0].Should().BeApproximately(1 + 0.1 * 0.5 / (0.5 + 1e-8), 1e-15);
    }
}
