namespace ElmanRnn.TorchOracle;

/// <summary>
/// Puts regenerated fixture files in place without churning the committed ones. libtorch's CPU kernels round
/// differently on different CPUs (vector width, FMA, blocking), so a rerun on another machine changes the last bits of
/// many results although nothing meaningful changed. Each file is therefore written to a staging directory first and
/// then compared with the file it would replace:
/// <list type="bullet">
/// <item>no file there yet: the new one is moved in;</item>
/// <item>byte-identical: nothing to do;</item>
/// <item>the same tensors (names, dtypes, shapes, metadata, integers exactly) and every floating-point tensor within
/// the parity bounds of <see cref="Tolerance"/> (1e-5 float32, 1e-12 float64, relative to max(1, peak |old|)): the
/// committed file is kept;</item>
/// <item>anything else changed beyond the bounds: the committed file is kept and the command fails, unless
/// <c>--force</c>, which replaces it.</item>
/// </list>
/// Nothing is written outside the directories the command was given.
/// </summary>
internal sealed class Regeneration(bool force) : IDisposable
{
    private readonly string _staging = Directory.CreateTempSubdirectory("elmanrnn-oracle-").FullName;
    private readonly List<string> _beyondBounds = [];
    private int _new, _identical, _kept, _replaced;

    /// <summary>A fresh directory for files before they are placed; deleted on dispose.</summary>
    public string Staging => _staging;

    /// <summary>
    /// Moves <paramref name="staged"/> to <paramref name="target"/> or keeps the file there, as the class describes.
    /// <paramref name="difference"/> compares the committed file with the new one: null when they agree within the
    /// parity bounds, else what differs beyond them.
    /// </summary>
    public void Place(string staged, string target, Func<string, string, string?> difference)
    {
        if (!File.Exists(target))
        {
            File.Move(staged, target);
            _new++;
            return;
        }
        if (File.ReadAllBytes(staged).AsSpan().SequenceEqual(File.ReadAllBytes(target)))
        {
            File.Delete(staged);
            _identical++;
            return;
        }
        string? beyond = difference(target, staged);
        if (beyond is null)
        {
            File.Delete(staged);
            _kept++;
        }
        else if (force)
        {
            File.Move(staged, target, overwrite: true);
            _replaced++;
            Console.WriteLine($"Replaced (--force) {target}: {beyond}");
        }
        else
        {
            File.Delete(staged);
            _beyondBounds.Add($"{target}: {beyond}");
        }
    }

    /// <summary>Prints the counts; 1 when a file changed beyond the bounds and was left as it was, else 0.</summary>
    public int Report(string what, string directory)
    {
        Console.WriteLine(
            $"{what} in {directory}: {_new} new, {_identical} identical, {_kept} within the parity bounds (committed file kept), " +
            $"{_replaced} replaced (--force), {_beyondBounds.Count} changed beyond the parity bounds.");
        foreach (string file in _beyondBounds)
            Console.Error.WriteLine($"Changed beyond the parity bounds, left as it was: {file}");
        if (_beyondBounds.Count == 0)
            return 0;
        Console.Error.WriteLine("Rerun with --force to replace these files (and review why libtorch's results moved).");
        return 1;
    }

    public void Dispose() => Directory.Delete(_staging, recursive: true);
}
