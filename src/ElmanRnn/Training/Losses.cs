using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Layout;

namespace ElmanRnn.Training;

/// <summary>Loss functions with PyTorch's default (<c>reduction='mean'</c>) and their gradients.</summary>
public static class Losses
{
    /// <summary>
    /// Mean squared error, as <c>torch.nn.functional.mse_loss</c>: mean over all elements of (prediction − target)².
    /// The sum is taken in <see cref="double"/>.
    /// </summary>
    /// <param name="prediction">The prediction, any shape.</param>
    /// <param name="target">The target, the same shape.</param>
    /// <param name="gradPrediction">dL/dprediction = 2(prediction − target)/count.</param>
    /// <returns>The loss.</returns>
    public static double MseLoss<T>(Tensor<T> prediction, Tensor<T> target, out Tensor<T> gradPrediction)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        if (!prediction.Lengths.SequenceEqual(target.Lengths))
            throw new ArgumentException(
                $"Expected target of the prediction's shape {ShapeText.Format(prediction.Lengths)}, got {ShapeText.Format(target.Lengths)}",
                nameof(target));
        var p = new T[prediction.FlattenedLength];
        var t = new T[target.FlattenedLength];
        prediction.FlattenTo(p);
        target.FlattenTo(t);
        var g = new T[p.Length];
        double sum = 0;
        T scale = T.CreateChecked(2.0 / Math.Max(1, p.Length));
        for (int i = 0; i < p.Length; i++)
        {
            T d = p[i] - t[i];
            sum += double.CreateChecked(d) * double.CreateChecked(d);
            g[i] = scale * d;
        }
        gradPrediction = Tensor.Create(g, prediction.Lengths.ToArray());
        return p.Length == 0 ? double.NaN : sum / p.Length;   // torch: mean of nothing is nan
    }

    /// <summary>
    /// Cross entropy over class logits, as <c>torch.nn.functional.cross_entropy</c> with class-index targets: mean over
    /// the N rows of logsumexp(row) − row[target], computed stably (max subtracted) in <see cref="double"/>.
    /// </summary>
    /// <param name="logits">Shape (N, C).</param>
    /// <param name="targets">N class indices in [0, C).</param>
    /// <param name="gradLogits">dL/dlogits = (softmax − one-hot)/N.</param>
    /// <returns>The loss.</returns>
    public static double CrossEntropy<T>(Tensor<T> logits, ReadOnlySpan<int> targets, out Tensor<T> gradLogits)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (logits.Rank != 2)
            throw new ArgumentException($"Expected logits of shape (N, C), got rank {logits.Rank} {ShapeText.Format(logits.Lengths)}", nameof(logits));
        int n = (int)logits.Lengths[0], c = (int)logits.Lengths[1];
        if (targets.Length != n)
            throw new ArgumentException($"Expected {n} targets (one per row of logits), got {targets.Length}", nameof(targets));
        for (int i = 0; i < n; i++)
            if ((uint)targets[i] >= (uint)c)
                throw new ArgumentException($"Target {targets[i]} at index {i} is out of bounds: expected a class in [0, {c})", nameof(targets));
        var x = new T[logits.FlattenedLength];
        logits.FlattenTo(x);
        var g = new T[x.Length];
        double total = 0;
        var row = new double[c];
        for (int r = 0; r < n; r++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < c; j++) max = Math.Max(max, row[j] = double.CreateChecked(x[r * c + j]));
            double sum = 0;
            for (int j = 0; j < c; j++) sum += Math.Exp(row[j] - max);
            double lse = max + Math.Log(sum);
            total += lse - row[targets[r]];
            for (int j = 0; j < c; j++)
                g[r * c + j] = T.CreateChecked((Math.Exp(row[j] - lse) - (j == targets[r] ? 1 : 0)) / n);
        }
        gradLogits = Tensor.Create(g, [n, c]);
        return n == 0 ? double.NaN : total / n;
    }
}
