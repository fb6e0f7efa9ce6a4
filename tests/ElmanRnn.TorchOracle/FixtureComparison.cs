using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace ElmanRnn.TorchOracle;

/// <summary>
/// Whether a regenerated fixture says the same as the committed one within the parity bounds
/// (<see cref="Regeneration"/>): null when it does, else the first difference beyond them.
/// </summary>
internal static class FixtureComparison
{
    /// <summary>Two safetensors fixtures: the same metadata and tensor names, dtypes and shapes; integer tensors
    /// equal; floating-point tensors within <see cref="Tolerance.For"/> relative to max(1, peak |old|).</summary>
    public static string? SafeTensors(string oldPath, string newPath)
    {
        using var scope = NewDisposeScope();
        var (oldTensors, oldMetadata) = SafetensorsFile.Read(oldPath);
        var (newTensors, newMetadata) = SafetensorsFile.Read(newPath);

        foreach (var key in oldMetadata.Keys.Union(newMetadata.Keys))
            if (oldMetadata.GetValueOrDefault(key) != newMetadata.GetValueOrDefault(key))
                return $"metadata '{key}' is '{oldMetadata.GetValueOrDefault(key)}', now '{newMetadata.GetValueOrDefault(key)}'";
        return Tensors(oldTensors, newTensors);
    }

    /// <summary>Two PyBridge <c>save_py</c> state dicts of case <paramref name="c"/>, loaded into modules and compared
    /// parameter by parameter as <see cref="SafeTensors"/> compares tensors.</summary>
    public static string? StateDicts(RnnCase c, string oldPath, string newPath)
    {
        using var scope = NewDisposeScope();
        var before = TorchRnn.Create(c);
        var after = TorchRnn.Create(c);
        try
        {
            before.load_py(oldPath, strict: true);
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException)
        {
            return $"the committed file does not load as this case's state dict ({e.Message})";
        }
        after.load_py(newPath, strict: true);
        return Tensors(
            TorchRnn.Parameters(before).ToDictionary(p => p.Name, p => p.Tensor),
            TorchRnn.Parameters(after).ToDictionary(p => p.Name, p => p.Tensor));
    }

    private static string? Tensors(IReadOnlyDictionary<string, Tensor> before, IReadOnlyDictionary<string, Tensor> after)
    {
        var missing = before.Keys.Except(after.Keys).Concat(after.Keys.Except(before.Keys)).ToList();
        if (missing.Count > 0)
            return $"the tensors differ: {string.Join(", ", missing)} in only one of the files";
        foreach (var (name, old) in before)
        {
            var fresh = after[name];
            if (old.dtype != fresh.dtype || !old.shape.SequenceEqual(fresh.shape))
                return $"{name} was {old.dtype} [{string.Join(", ", old.shape)}], now {fresh.dtype} [{string.Join(", ", fresh.shape)}]";
            if (!old.is_floating_point())
            {
                if (!Tolerance.Identical(old, fresh))
                    return $"{name} (integers) changed";
                continue;
            }
            var error = Tolerance.Relative(Tolerance.MaxAbsDifference(fresh, old), Tolerance.MaxAbs(old));
            // Written so that a NaN fails too.
            if (!(error <= Tolerance.For(old.dtype)))
                return $"{name} differs by {error:G3} relative to max(1, peak), beyond {Tolerance.For(old.dtype):G1}";
        }
        return null;
    }
}
