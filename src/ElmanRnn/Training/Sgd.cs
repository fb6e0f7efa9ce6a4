using System.Numerics;

namespace ElmanRnn.Training;

/// <summary>
/// Stochastic gradient descent with optional momentum, dampening, weight decay and Nesterov momentum: the update of
/// PyTorch's <c>torch.optim.SGD</c> (<c>_single_tensor_sgd</c>), element arithmetic in <typeparamref name="T"/>,
/// hyper-parameters held as <see cref="double"/> as Python holds them.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class Sgd<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Parameter<T>[] _parameters;
    private readonly T[]?[] _momentumBuffers;
    private readonly double _momentum, _dampening, _weightDecay;
    private double _lr;
    private readonly bool _nesterov;

    /// <summary>Creates the optimizer over <paramref name="parameters"/>, validating as PyTorch does.</summary>
    /// <param name="parameters">The parameters to update (their <c>Grad</c> is read, their <c>Value</c> written).</param>
    /// <param name="lr">Learning rate, ≥ 0.</param>
    /// <param name="momentum">Momentum factor, ≥ 0.</param>
    /// <param name="dampening">Dampening for momentum.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient, ≥ 0.</param>
    /// <param name="nesterov">Nesterov momentum (requires momentum &gt; 0 and dampening 0).</param>
    public Sgd(IEnumerable<Parameter<T>> parameters, double lr, double momentum = 0, double dampening = 0,
        double weightDecay = 0, bool nesterov = false)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (lr < 0) throw new ArgumentOutOfRangeException(nameof(lr), lr, $"Invalid learning rate: {lr}");
        if (momentum < 0) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"Invalid momentum value: {momentum}");
        if (weightDecay < 0) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"Invalid weight_decay value: {weightDecay}");
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException("Nesterov momentum requires a momentum and zero dampening", nameof(nesterov));
        _parameters = parameters.ToArray();
        if (_parameters.Length == 0) throw new ArgumentException("optimizer got an empty parameter list", nameof(parameters));
        _momentumBuffers = new T[]?[_parameters.Length];
        (_lr, _momentum, _dampening, _weightDecay, _nesterov) = (lr, momentum, dampening, weightDecay, nesterov);
    }

    /// <summary>
    /// The learning rate the next <see cref="Step"/> uses (PyTorch: <c>param_groups[0]["lr"]</c>, what an
    /// <c>lr_scheduler</c> writes between steps); ≥ 0, as the constructor checks it. The momentum buffers are kept.
    /// </summary>
    public double LearningRate
    {
        get => _lr;
        set => _lr = value < 0 ? throw new ArgumentOutOfRangeException(nameof(value), value, $"Invalid learning rate: {value}") : value;
    }

    /// <summary>Ascend instead of descend (PyTorch's <c>maximize=True</c>): the gradient is negated before weight decay
    /// and momentum. May change between steps, as <c>param_groups[0]["maximize"]</c> can.</summary>
    public bool Maximize { get; set; }

    /// <summary>One update of every parameter from its current gradient.</summary>
    public void Step()
    {
        T wd = T.CreateChecked(_weightDecay), mom = T.CreateChecked(_momentum);
        T oneMinusDampening = T.CreateChecked(1 - _dampening), negLr = T.CreateChecked(-_lr);
        for (int p = 0; p < _parameters.Length; p++)
        {
            T[] values = _parameters[p].Values, grads = _parameters[p].Gradient;
            bool first = _momentumBuffers[p] is null;
            T[]? buf = _momentum != 0 ? _momentumBuffers[p] ??= new T[values.Length] : null;
            for (int i = 0; i < values.Length; i++)
            {
                T g = Maximize ? -grads[i] : grads[i];               // grads[i] if not maximize else -grads[i]
                if (_weightDecay != 0) g += wd * values[i];          // grad.add(param, alpha=weight_decay)
                if (buf is not null)
                {
                    buf[i] = first ? g : buf[i] * mom + oneMinusDampening * g;   // clone, then mul_.add_(alpha=1-d)
                    g = _nesterov ? g + mom * buf[i] : buf[i];
                }
                values[i] += negLr * g;                              // param.add_(grad, alpha=-lr)
            }
        }
    }

    /// <summary>Sets every parameter's gradient to zero.</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters) p.ZeroGrad();
    }
}
