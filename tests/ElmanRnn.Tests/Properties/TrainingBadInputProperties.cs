using System.Numerics.Tensors;
using CsCheck;
using ElmanRnn.Training;

namespace ElmanRnn.Tests.Properties;

/// <summary>
/// The training kit's shape checks (Linear, losses): a wrong shape is refused with an <see cref="ArgumentException"/>
/// naming what was expected and what came. Oracle: shapes computed here. A failure prints CsCheck's seed: rerun with
/// <c>CsCheck_Seed=&lt;seed&gt;</c> to reproduce it.
/// </summary>
public class TrainingBadInputProperties
{
    [Fact]
    public void Linear_and_losses_refuse_wrong_shapes_naming_expected_and_actual() =>
        Gen.Select(Gen.Int[1, 6], Gen.Int[1, 6], Gen.Int[1, 4], Gen.Int[0, 7].Array[4], Gen.Int[-2, 8].Array[0, 5])
            .Sample((inFeatures, outFeatures, rank, dims, targets) =>
            {
                var linear = new Linear<float>(inFeatures, outFeatures, new Random(1));
                nint[] shape = dims.Take(rank).Select(d => (nint)d).ToArray();
                var tensor = Tensor.Create(new float[dims.Take(rank).Aggregate(1, (a, b) => a * b)], shape);
                string actual = $"[{string.Join(", ", shape)}]";

                if (shape[^1] != inFeatures)
                    PropertyKit.Refused(() => linear.Forward(tensor), $"last dimension {inFeatures}", actual);
                else
                {
                    nint[] right = [.. shape[..^1], outFeatures];
                    nint[] wrong = [.. shape[..^1], outFeatures + 1];
                    PropertyKit.Refused(() => linear.Backward(tensor, Tensor.Create(new float[wrong.Aggregate((nint)1, (a, b) => a * b)], wrong)),
                        $"[{string.Join(", ", right)}]", $"[{string.Join(", ", wrong)}]");
                }

                nint[] other = [.. shape[..^1], shape[^1] + 1];
                PropertyKit.Refused(() => Losses.MseLoss(tensor, Tensor.Create(new float[other.Aggregate((nint)1, (a, b) => a * b)], other), out _),
                    actual, $"[{string.Join(", ", other)}]");

                if (rank != 2)
                    PropertyKit.Refused(() => Losses.CrossEntropy(tensor, targets, out _), "(N, C)", $"rank {rank}");
                else if (targets.Length != shape[0])
                    PropertyKit.Refused(() => Losses.CrossEntropy(tensor, targets, out _), $"Expected {shape[0]} targets", $"got {targets.Length}");
                else if (targets.Any(t => t < 0 || t >= shape[1]))
                {
                    int bad = targets.First(t => t < 0 || t >= shape[1]);
                    PropertyKit.Refused(() => Losses.CrossEntropy(tensor, targets, out _), $"Target {bad}", $"[0, {shape[1]})");
                }
            }, iter: PropertyKit.Iter(100));
}
