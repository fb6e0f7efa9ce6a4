using System.Numerics;

namespace ElmanRnn.Training;

/// <summary>
/// AdamW (PyTorch's <c>torch.optim.AdamW</c>): Adam with decoupled weight decay, <c>param *= 1 - lr·weight_decay</c>
/// before the Adam update.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class AdamW<T> : Adam<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the optimizer over <paramref name="parameters"/>, validating as PyTorch does.</summary>
    /// <param name="parameters">The parameters to update.</param>
    /// <param name="lr">Learning rate, ≥ 0.</param>
    /// <param name="beta1">First-moment decay, in [0, 1).</param>
    /// <param name="beta2">Second-moment decay, in [0, 1).</param>
    /// <param name="eps">Term added to the denominator, ≥ 0.</param>
    /// <param name="weightDecay">Decoupled weight decay, ≥ 0.</param>
    /// <param name="amsgrad">Use the AMSGrad variant.</param>
    public AdamW(IEnumerable<Parameter<T>> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 1e-2, bool amsgrad = false)
        : base(parameters, lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled: true) { }
}
