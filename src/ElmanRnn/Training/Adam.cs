using System.Numerics;

namespace ElmanRnn.Training;

/// <summary>
/// Adam (PyTorch's <c>torch.optim.Adam</c>, <c>_single_tensor_adam</c>): the same order of operations, scalars
/// (bias corrections, step size) in <see cref="double"/> as Python computes them, element arithmetic in
/// <typeparamref name="T"/> as the tensor ops do, with ATen's <c>lerp</c> formula for the first moment.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public class Adam<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Parameter<T>[] _parameters;
    private readonly T[][] _expAvg, _expAvgSq;
    private readonly T[][]? _maxExpAvgSq;
    private readonly double _beta1, _beta2, _eps, _weightDecay;
    private double _lr;
    private readonly bool _decoupled;
    private long _step;

    /// <summary>Creates the optimizer over <paramref name="parameters"/>, validating as PyTorch does.</summary>
    /// <param name="parameters">The parameters to update.</param>
    /// <param name="lr">Learning rate, ≥ 0.</param>
    /// <param name="beta1">First-moment decay, in [0, 1).</param>
    /// <param name="beta2">Second-moment decay, in [0, 1).</param>
    /// <param name="eps">Term added to the denominator, ≥ 0.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient, ≥ 0.</param>
    /// <param name="amsgrad">Use the AMSGrad variant (the running maximum of the second moment).</param>
    public Adam(IEnumerable<Parameter<T>> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0, bool amsgrad = false)
        : this(parameters, lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled: false) { }

    private protected Adam(IEnumerable<Parameter<T>> parameters, double lr, double beta1, double beta2, double eps,
        double weightDecay, bool amsgrad, bool decoupled)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(lr >= 0)) throw new ArgumentOutOfRangeException(nameof(lr), lr, $"Invalid learning rate: {lr}");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, $"Invalid epsilon value: {eps}");
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, $"Invalid beta parameter at index 0: {beta1}");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, $"Invalid beta parameter at index 1: {beta2}");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"Invalid weight_decay value: {weightDecay}");
        _parameters = parameters.ToArray();
        if (_parameters.Length == 0) throw new ArgumentException("optimizer got an empty parameter list", nameof(parameters));
        _expAvg = _parameters.Select(p => new T[p.Count]).ToArray();
        _expAvgSq = _parameters.Select(p => new T[p.Count]).ToArray();
        _maxExpAvgSq = amsgrad ? _parameters.Select(p => new T[p.Count]).ToArray() : null;
        (_lr, _beta1, _beta2, _eps, _weightDecay, _decoupled) = (lr, beta1, beta2, eps, weightDecay, decoupled);
    }

    /// <summary>
    /// The learning rate the next <see cref="Step"/> uses (PyTorch: <c>param_groups[0]["lr"]</c>, what an
    /// <c>lr_scheduler</c> writes between steps): the step size lr / bias_correction1 and AdamW's decay 1 − lr·weight_decay
    /// take it as it is at that step; the moments and the step count are kept. ≥ 0, as the constructor checks it.
    /// </summary>
    public double LearningRate
    {
        get => _lr;
        set => _lr = !(value >= 0) ? throw new ArgumentOutOfRangeException(nameof(value), value, $"Invalid learning rate: {value}") : value;
    }

    /// <summary>Ascend instead of descend (PyTorch's <c>maximize=True</c>): the gradient is negated before weight decay
    /// and the moments. May change between steps, as <c>param_groups[0]["maximize"]</c> can.</summary>
    public bool Maximize { get; set; }

    /// <summary>One update of every parameter from its current gradient.</summary>
    public void Step()
    {
        _step++;                                                     // step_t += 1 (all parameters share the count)
        double biasCorrection1 = 1 - Math.Pow(_beta1, _step);
        double biasCorrection2 = 1 - Math.Pow(_beta2, _step);
        T negStepSize = T.CreateChecked(-(_lr / biasCorrection1));
        T bc2Sqrt = T.CreateChecked(Math.Sqrt(biasCorrection2));
        T eps = T.CreateChecked(_eps), wd = T.CreateChecked(_weightDecay);
        T decay = T.CreateChecked(1 - _lr * _weightDecay);
        T w = T.CreateChecked(1 - _beta1), oneMinusW = T.One - w;    // lerp weight; ATen's (1 - weight) in T
        bool lowWeight = T.Abs(w) < T.CreateChecked(0.5);
        T beta2 = T.CreateChecked(_beta2), oneMinusBeta2 = T.CreateChecked(1 - _beta2);
        for (int p = 0; p < _parameters.Length; p++)
        {
            T[] values = _parameters[p].Values, grads = _parameters[p].Gradient;
            T[] m = _expAvg[p], v = _expAvgSq[p];
            T[]? vMax = _maxExpAvgSq?[p];
            for (int i = 0; i < values.Length; i++)
            {
                T g = Maximize ? -grads[i] : grads[i];               // grads[i] if not maximize else -grads[i]
                if (_weightDecay != 0)
                {
                    if (_decoupled) values[i] *= decay;              // param.mul_(1 - lr * weight_decay)
                    else g += wd * values[i];                        // grad.add(param, alpha=weight_decay)
                }
                T diff = g - m[i];                                   // exp_avg.lerp_(grad, 1 - beta1)
                m[i] = lowWeight ? m[i] + w * diff : g - diff * oneMinusW;
                v[i] = v[i] * beta2 + oneMinusBeta2 * g * g;         // mul_(beta2).addcmul_(grad, grad, 1 - beta2)
                T second = v[i];
                if (vMax is not null) second = vMax[i] = T.Max(vMax[i], v[i]);
                T denom = T.Sqrt(second) / bc2Sqrt + eps;
                values[i] += negStepSize * m[i] / denom;             // addcdiv_(exp_avg, denom, value=-step_size)
            }
        }
    }

    /// <summary>Sets every parameter's gradient to zero.</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters) p.ZeroGrad();
    }
}
