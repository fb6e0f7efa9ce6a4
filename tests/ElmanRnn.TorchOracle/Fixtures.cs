using System.IO.Compression;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace ElmanRnn.TorchOracle;

/// <summary>
/// Writes the golden fixtures: libtorch's results for every option combination, and (when asked) PyTorch-format
/// weight files written by TorchSharp.PyBridge for the library's loader tests. Every file is read back and re-checked
/// against libtorch before it is placed; a committed file that agrees within the parity bounds is kept
/// (<see cref="Regeneration"/>).
/// </summary>
internal static class Fixtures
{
    /// <summary>Base of the per-case seeds; each case seeds both libtorch and its size draw with
    /// <c>BaseSeed + index</c>, so a case's content does not depend on the others.</summary>
    private const int BaseSeed = 20_260_000;

    /// <param name="goldenDirectory">Where the golden cases go.</param>
    /// <param name="pybridgeDirectory">Where the PyBridge state dicts go; null writes none.</param>
    /// <param name="force">Replace committed files that changed beyond the parity bounds instead of failing.</param>
    public static int Write(DirectoryInfo goldenDirectory, DirectoryInfo? pybridgeDirectory, bool force)
    {
        // One thread: a GEMM's blocking (and thus its rounding) may depend on the thread count; reruns on one
        // machine must produce identical bytes.
        set_num_threads(1);
        goldenDirectory.Create();

        int status;
        using (var golden = new Regeneration(force))
        {
            foreach (var (c, seed) in GoldenMatrix())
            {
                using var scope = NewDisposeScope();
                var fileName = c.Name + ".safetensors";
                var staged = Path.Combine(golden.Staging, fileName);
                WriteGolden(staged, c, seed);
                VerifyGolden(staged);
                golden.Place(staged, Path.Combine(goldenDirectory.FullName, fileName), FixtureComparison.SafeTensors);
            }
            status = golden.Report("Golden cases (each verified against libtorch)", goldenDirectory.FullName);
        }

        if (pybridgeDirectory is null)
            return status;
        pybridgeDirectory.Create();
        using var pybridge = new Regeneration(force);
        foreach (var (name, c, seed) in PyBridgeCases())
        {
            using var scope = NewDisposeScope();
            WritePyBridge(pybridge.Staging, name, c, seed);
            foreach (var suffix in new[] { ".safetensors", ".io.safetensors" })
                pybridge.Place(Path.Combine(pybridge.Staging, name + suffix),
                    Path.Combine(pybridgeDirectory.FullName, name + suffix), FixtureComparison.SafeTensors);
            pybridge.Place(Path.Combine(pybridge.Staging, name + ".pt"), Path.Combine(pybridgeDirectory.FullName, name + ".pt"),
                (before, after) => FixtureComparison.StateDicts(c, before, after));
        }
        return Math.Max(status, pybridge.Report("PyBridge state dicts (each reloaded and verified)", pybridgeDirectory.FullName));
    }

    /// <summary>{tanh, relu} × {bias, no bias} × {1, 2, 3 layers} × {uni, bi} × {4 input kinds} × {h0 given,
    /// absent} × {float32, float64}, each with small random sizes.</summary>
    private static IEnumerable<(RnnCase Case, int Seed)> GoldenMatrix()
    {
        var index = 0;
        foreach (var nonlinearity in new[] { "tanh", "relu" })
        foreach (var bias in new[] { true, false })
        foreach (var numLayers in new[] { 1, 2, 3 })
        foreach (var bidirectional in new[] { false, true })
        foreach (var kind in Enum.GetValues<InputKind>())
        foreach (var hasH0 in new[] { true, false })
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            var seed = BaseSeed + index++;
            var sizes = new Random(seed);
            var packed = kind == InputKind.Packed;
            // Packed cases get at least two sequences and two steps so that lengths can differ.
            var seqLen = sizes.Next(packed ? 2 : 1, 7);
            var batch = kind == InputKind.Unbatched ? 1 : sizes.Next(packed ? 2 : 1, 5);
            yield return (new RnnCase
            {
                Nonlinearity = nonlinearity,
                NumLayers = numLayers,
                Bidirectional = bidirectional,
                Bias = bias,
                Kind = kind,
                HasH0 = hasH0,
                InputSize = sizes.Next(3, 6),
                HiddenSize = sizes.Next(2, 7),
                SeqLen = seqLen,
                Batch = batch,
                Lengths = packed ? UnsortedLengths(sizes, seqLen, batch) : null,
                DType = dtype,
            }, seed);
        }
    }

    /// <summary>Lengths in 1..<paramref name="maxLength"/>, the maximum attained (so the padded output is as long
    /// as the input), at least two distinct values, and not in non-increasing order, so that
    /// <c>enforce_sorted=False</c> really has to permute.</summary>
    internal static int[] UnsortedLengths(Random random, int maxLength, int batch)
    {
        var lengths = new int[batch];
        for (var i = 0; i < batch; i++)
            lengths[i] = random.Next(1, maxLength + 1);
        var longest = random.Next(batch);
        lengths[longest] = maxLength;
        if (lengths.All(l => l == maxLength))
            lengths[(longest + 1) % batch] = random.Next(1, maxLength);
        // Sorted-descending lengths would not exercise the permutation; reversed, they certainly do.
        if (lengths.Zip(lengths.Skip(1)).All(pair => pair.First >= pair.Second))
            Array.Reverse(lengths);
        return lengths;
    }

    private static void WriteGolden(string path, RnnCase c, int seed)
    {
        manual_seed(seed);
        var rnn = TorchRnn.Create(c);
        // For packed cases the padding positions hold random values too: packing must ignore them.
        var input = randn(c.InputShape, c.DType);
        var h0 = c.HasH0 ? randn(c.HiddenShape, c.DType) : null;
        var (output, hn) = TorchRnn.Forward(rnn, c, input, h0);
        if (c.Kind == InputKind.Packed)
            CheckPackedAgainstSingleSequences(rnn, c, input, h0, output, hn);

        var tensors = TorchRnn.Parameters(rnn);
        tensors.Add(("input", input));
        if (c.Lengths is not null)
            tensors.Add(("lengths", tensor(c.Lengths.Select(l => (long)l).ToArray())));
        if (h0 is not null)
            tensors.Add(("h0", h0));
        tensors.Add(("output", output));
        tensors.Add(("h_n", hn));
        SafetensorsFile.Write(path, tensors, c.ToMetadata());
    }

    /// <summary>
    /// Rebuilds the case from the file alone (metadata, parameters, input, lengths, h0), reruns libtorch and demands
    /// bit-identical output and h_n: proves the file is self-describing and the writer round-trips.
    /// </summary>
    private static void VerifyGolden(string path)
    {
        var (tensors, metadata) = SafetensorsFile.Read(path);
        var lengths = tensors.TryGetValue("lengths", out var l) ? l.data<long>().Select(x => (int)x).ToArray() : null;
        var c = RnnCase.FromMetadata(metadata, lengths);
        var rnn = TorchRnn.Create(c);
        var parameterNames = TorchRnn.Parameters(rnn).Select(p => p.Name).ToHashSet();
        rnn.load_state_dict(
            tensors.Where(t => parameterNames.Contains(t.Key)).ToDictionary(t => t.Key, t => t.Value), strict: true);

        var (output, hn) = TorchRnn.Forward(rnn, c, tensors["input"], tensors.GetValueOrDefault("h0"));
        if (!Tolerance.Identical(output, tensors["output"]) || !Tolerance.Identical(hn, tensors["h_n"]))
            throw new InvalidOperationException($"{path}: rerunning the stored case does not reproduce its results.");
    }

    /// <summary>
    /// The packed-sequence equivalence property (spec §5.9): each sequence run alone over its own length, from its
    /// own h0 column, must give that sequence's output rows and h_n column, and its padded tail must be 0. This pins
    /// down that libtorch reads h0 and returns h_n in the caller's batch order.
    /// </summary>
    private static void CheckPackedAgainstSingleSequences(
        TorchSharp.Modules.RNN rnn, RnnCase c, Tensor input, Tensor? h0, Tensor output, Tensor hn)
    {
        var single = c with { Kind = InputKind.TimeMajor, Lengths = null };
        var scale = Math.Max(Tolerance.MaxAbs(output), Tolerance.MaxAbs(hn));
        for (var i = 0; i < c.Batch; i++)
        {
            var length = c.Lengths![i];
            var (alone, aloneHn) = TorchRnn.Forward(
                rnn, single, input[..length, i..(i + 1)], h0?[.., i..(i + 1)]);
            var error = Math.Max(
                Tolerance.MaxAbsDifference(alone, output[..length, i..(i + 1)]),
                Tolerance.MaxAbsDifference(aloneHn, hn[.., i..(i + 1)]));
            // Written so that a NaN fails too.
            if (!(Tolerance.Relative(error, scale) <= Tolerance.For(c.DType))
                || Tolerance.MaxAbs(output[length.., i]) != 0)
            {
                throw new InvalidOperationException(
                    $"{c.Name}: sequence {i} (length {length}) run alone differs from the packed batch by {error}.");
            }
        }
    }

    /// <summary>A few whole modules for the library's .pt / safetensors loaders: a default one, a bias-free one, a
    /// bidirectional 2-layer one, a float64 one and a 3-layer batch-first ReLU one.</summary>
    private static IEnumerable<(string Name, RnnCase Case, int Seed)> PyBridgeCases()
    {
        RnnCase Make(string nonlinearity, int layers, bool bidirectional, bool bias, InputKind kind, bool hasH0,
            int inputSize, int hiddenSize, int seqLen, int batch, ScalarType dtype) => new()
        {
            Nonlinearity = nonlinearity, NumLayers = layers, Bidirectional = bidirectional, Bias = bias, Kind = kind,
            HasH0 = hasH0, InputSize = inputSize, HiddenSize = hiddenSize, SeqLen = seqLen, Batch = batch,
            DType = dtype,
        };

        yield return ("rnn_tanh_l1", Make("tanh", 1, false, true, InputKind.TimeMajor, false, 4, 5, 7, 3,
            ScalarType.Float32), BaseSeed + 1001);
        yield return ("rnn_relu_nobias_l1", Make("relu", 1, false, false, InputKind.BatchFirst, true, 3, 4, 5, 2,
            ScalarType.Float32), BaseSeed + 1002);
        yield return ("rnn_tanh_bi_l2", Make("tanh", 2, true, true, InputKind.TimeMajor, true, 5, 3, 4, 2,
            ScalarType.Float32), BaseSeed + 1003);
        yield return ("rnn_tanh_bi_l2_f64", Make("tanh", 2, true, true, InputKind.Unbatched, true, 3, 6, 6, 1,
            ScalarType.Float64), BaseSeed + 1004);
        yield return ("rnn_relu_l3_bf", Make("relu", 3, false, true, InputKind.BatchFirst, false, 6, 8, 5, 3,
            ScalarType.Float32), BaseSeed + 1005);
    }

    /// <summary>
    /// Writes <c>{name}.pt</c> (PyBridge <c>save_py</c>: a torch.save zip of the state dict) and
    /// <c>{name}.safetensors</c> (PyBridge <c>save_safetensors</c>), plus <c>{name}.io.safetensors</c> with the case
    /// metadata, a test input, h0 (if any) and libtorch's output and h_n. Both weight files are loaded back with
    /// PyBridge into a differently initialised module, which must then reproduce the stored results exactly.
    /// </summary>
    private static void WritePyBridge(string directory, string name, RnnCase c, int seed)
    {
        manual_seed(seed);
        var rnn = TorchRnn.Create(c);
        var input = randn(c.InputShape, c.DType);
        var h0 = c.HasH0 ? randn(c.HiddenShape, c.DType) : null;
        var (output, hn) = TorchRnn.Forward(rnn, c, input, h0);

        var ptPath = Path.Combine(directory, name + ".pt");
        var safetensorsPath = Path.Combine(directory, name + ".safetensors");
        rnn.save_py(ptPath);
        PinZipTimestamps(ptPath);
        rnn.save_safetensors(safetensorsPath);

        var io = new List<(string, Tensor)> { ("input", input) };
        if (h0 is not null)
            io.Add(("h0", h0));
        io.Add(("output", output));
        io.Add(("h_n", hn));
        SafetensorsFile.Write(Path.Combine(directory, name + ".io.safetensors"), io, c.ToMetadata());

        foreach (var (path, load) in new (string, Action<TorchSharp.Modules.RNN>)[]
                 {
                     (ptPath, m => m.load_py(ptPath, strict: true)),
                     (safetensorsPath, m => m.load_safetensors(safetensorsPath, strict: true)),
                 })
        {
            manual_seed(seed + 1);
            var reloaded = TorchRnn.Create(c);
            load(reloaded);
            var (output2, hn2) = TorchRnn.Forward(reloaded, c, input, h0);
            if (!Tolerance.Identical(output2, output) || !Tolerance.Identical(hn2, hn))
                throw new InvalidOperationException($"{path}: the reloaded module does not reproduce its results.");
        }
    }

    /// <summary>
    /// save_py stamps every zip entry with the current time, so each regeneration would change the committed .pt
    /// files. Rewrites only the entries' timestamps; their (deflated) data is copied unchanged.
    /// </summary>
    private static void PinZipTimestamps(string path)
    {
        var pinned = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using var archive = ZipFile.Open(path, ZipArchiveMode.Update);
        foreach (var entry in archive.Entries)
            entry.LastWriteTime = pinned;
    }
}
