using System.Numerics;

namespace ElmanRnn.Training;

/// <summary>Gradient clipping as <c>torch.nn.utils.clip_grad_norm_</c> and <c>clip_grad_value_</c>.</summary>
public static class GradClip
{
    /// <summary>
    /// Scales all gradients together so that their total norm is at most <paramref name="maxNorm"/>: the norm of each
    /// gradient, then the norm of those norms; every gradient is multiplied by
    /// <c>min(maxNorm / (total + 1e-6), 1)</c> (always, as torch does). Norms are reduced in <see cref="double"/>.
    /// </summary>
    /// <param name="parameters">The parameters whose gradients are clipped in place.</param>
    /// <param name="maxNorm">The largest allowed total norm.</param>
    /// <param name="normType">The p of the p-norm; <see cref="double.PositiveInfinity"/> for the max norm.</param>
    /// <returns>The total norm before clipping.</returns>
    public static double ClipGradNorm<T>(IEnumerable<Parameter<T>> parameters, double maxNorm, double normType = 2.0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (double.IsNaN(normType) || normType <= 0)
            throw new ArgumentOutOfRangeException(nameof(normType), normType, $"normType must be positive or infinity, got {normType}");
        var list = parameters.ToArray();
        if (list.Length == 0) return 0.0;
        var norms = new double[list.Length];
        for (int p = 0; p < list.Length; p++) norms[p] = double.CreateChecked(T.CreateChecked(Norm(list[p].Gradient, normType)));
        double total = double.CreateChecked(T.CreateChecked(Norm(norms, normType)));
        T totalT = T.CreateChecked(total);
        T coef = T.CreateChecked(maxNorm) / (totalT + T.CreateChecked(1e-6));   // tensor arithmetic, in T
        if (coef > T.One) coef = T.One;                                        // clamp(max=1.0)
        foreach (var p in list)
        {
            T[] g = p.Gradient;
            for (int i = 0; i < g.Length; i++) g[i] *= coef;
        }
        return total;
    }

    /// <summary>Clamps every gradient element into [-<paramref name="clipValue"/>, <paramref name="clipValue"/>].</summary>
    /// <param name="parameters">The parameters whose gradients are clipped in place.</param>
    /// <param name="clipValue">The largest allowed magnitude, ≥ 0.</param>
    public static void ClipGradValue<T>(IEnumerable<Parameter<T>> parameters, double clipValue)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(clipValue >= 0)) throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, $"clipValue must be >= 0, got {clipValue}");
        T hi = T.CreateChecked(clipValue), lo = -hi;
        foreach (var p in parameters)
        {
            T[] g = p.Gradient;
            for (int i = 0; i < g.Length; i++)
                g[i] = T.IsNaN(g[i]) ? g[i] : g[i] < lo ? lo : g[i] > hi ? hi : g[i];
        }
    }

    private static double Norm<T>(T[] values, double p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (double.IsPositiveInfinity(p))
        {
            double max = 0;
            foreach (T x in values) max = Math.Max(max, Math.Abs(double.CreateChecked(x)));
            return max;
        }
        double sum = 0;
        if (p == 2)
        {
            foreach (T x in values) { double d = double.CreateChecked(x); sum += d * d; }
            return Math.Sqrt(sum);
        }
        if (p == 1)
        {
            foreach (T x in values) sum += Math.Abs(double.CreateChecked(x));
            return sum;
        }
        foreach (T x in values) sum += Math.Pow(Math.Abs(double.CreateChecked(x)), p);
        return Math.Pow(sum, 1 / p);
    }
}
