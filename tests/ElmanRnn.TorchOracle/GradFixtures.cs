using TorchSharp;
using static TorchSharp.torch;

namespace ElmanRnn.TorchOracle;

/// <summary>
/// Writes the golden gradient fixtures: libtorch autograd's gradients of
/// <c>loss = sum(output · grad_output) + sum(h_n · grad_hn)</c> with respect to the input, h0 and every parameter,
/// for random upstream gradients <c>grad_output</c> and <c>grad_hn</c>. Every file is read back and the backward pass
/// is rerun from the file alone, which must reproduce the stored gradients bit for bit; float64 cases are also checked
/// against central finite differences along a random direction.
/// </summary>
internal static class GradFixtures
{
    /// <summary>Base of the per-case seeds (distinct from the forward fixtures' 20 260 000 range).</summary>
    private const int BaseSeed = 20_270_000;

    /// <param name="directory">Where the gradient cases go.</param>
    /// <param name="force">Replace committed files that changed beyond the parity bounds instead of failing
    /// (<see cref="Regeneration"/>).</param>
    public static int Write(DirectoryInfo directory, bool force)
    {
        // One thread: reruns on one machine must produce identical bytes.
        set_num_threads(1);
        directory.Create();

        using var regeneration = new Regeneration(force);
        foreach (var (c, seed) in Matrix())
        {
            using var scope = NewDisposeScope();
            var fileName = c.Name + ".safetensors";
            var staged = Path.Combine(regeneration.Staging, fileName);
            WriteCase(staged, c, seed);
            Verify(staged);
            regeneration.Place(staged, Path.Combine(directory.FullName, fileName), FixtureComparison.SafeTensors);
        }
        return regeneration.Report("Gradient cases (each verified against libtorch)", directory.FullName);
    }

    /// <summary>{tanh, relu} × {bias, no bias} × {1, 2 layers} × {uni, bi} × {4 input kinds} × {h0 given, absent} ×
    /// {float32, float64}, each with small random sizes drawn as the forward fixtures draw theirs.</summary>
    private static IEnumerable<(RnnCase Case, int Seed)> Matrix()
    {
        var index = 0;
        foreach (var nonlinearity in new[] { "tanh", "relu" })
        foreach (var bias in new[] { true, false })
        foreach (var numLayers in new[] { 1, 2 })
        foreach (var bidirectional in new[] { false, true })
        foreach (var kind in Enum.GetValues<InputKind>())
        foreach (var hasH0 in new[] { true, false })
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            var seed = BaseSeed + index++;
            var sizes = new Random(seed);
            var packed = kind == InputKind.Packed;
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
                Lengths = packed ? Fixtures.UnsortedLengths(sizes, seqLen, batch) : null,
                DType = dtype,
            }, seed);
        }
    }

    /// <summary>What one forward + backward through libtorch gives.</summary>
    private sealed record Result(
        Tensor Output, Tensor Hn, Tensor GradInput, Tensor? GradH0, List<(string Name, Tensor Grad)> ParameterGrads);

    private static void WriteCase(string path, RnnCase c, int seed)
    {
        manual_seed(seed);
        var rnn = TorchRnn.Create(c);
        var input = randn(c.InputShape, c.DType);
        var h0 = c.HasH0 ? randn(c.HiddenShape, c.DType) : null;
        var gradOutput = randn(GradOutputShape(c), c.DType);
        var gradHn = randn(c.HiddenShape, c.DType);

        var r = ForwardBackward(rnn, c, input, h0, gradOutput, gradHn);
        if (c.DType == ScalarType.Float64)
            CheckFiniteDifferences(rnn, c, input, h0, gradOutput, gradHn, r, seed);

        var tensors = TorchRnn.Parameters(rnn);
        tensors.Add(("input", input));
        if (c.Lengths is not null)
            tensors.Add(("lengths", tensor(c.Lengths.Select(l => (long)l).ToArray())));
        if (h0 is not null)
            tensors.Add(("h0", h0));
        tensors.Add(("output", r.Output));
        tensors.Add(("h_n", r.Hn));
        tensors.Add(("grad_output", gradOutput));
        tensors.Add(("grad_hn", gradHn));
        tensors.Add(("grad_input", r.GradInput));
        if (r.GradH0 is not null)
            tensors.Add(("grad_h0", r.GradH0));
        foreach (var (name, grad) in r.ParameterGrads)
            tensors.Add(("grad." + name, grad));
        SafetensorsFile.Write(path, tensors, c.ToMetadata());
    }

    /// <summary>Shape of the upstream gradient of the output: the output's shape (layout of the input); for packed
    /// input the shape of the PackedSequence output's data, (S, D·H).</summary>
    private static long[] GradOutputShape(RnnCase c)
    {
        var width = (long)c.Directions * c.HiddenSize;
        return c.Kind switch
        {
            InputKind.BatchFirst => [c.Batch, c.SeqLen, width],
            InputKind.Unbatched => [c.SeqLen, width],
            InputKind.Packed => [c.Lengths!.Sum(), width],
            _ => [c.SeqLen, c.Batch, width],
        };
    }

    /// <summary>
    /// Runs the case with autograd on fresh leaf copies of <paramref name="input"/> and <paramref name="h0"/> and
    /// returns detached copies of output, h_n and every gradient. For packed input, <c>Output</c> is the
    /// PackedSequence output's data (S, D·H) (the tensor <paramref name="gradOutput"/> multiplies) and
    /// <c>GradInput</c> is the gradient with respect to the padded (T, N, I) tensor that was packed (zero at the
    /// padding positions).
    /// </summary>
    private static Result ForwardBackward(
        TorchSharp.Modules.RNN rnn, RnnCase c, Tensor input, Tensor? h0, Tensor gradOutput, Tensor gradHn)
    {
        rnn.zero_grad();
        var x = input.detach().clone().requires_grad_(true);
        var h = h0?.detach().clone().requires_grad_(true);
        var (output, padded, hn) = Run(rnn, c, x, h);
        var loss = (output * gradOutput).sum() + (hn * gradHn).sum();
        loss.backward();

        var parameterGrads = rnn.named_parameters()
            .Select(p => (p.name, p.parameter.grad?.detach().clone()
                ?? throw new InvalidOperationException($"{c.Name}: {p.name} received no gradient.")))
            .ToList();
        return new Result(padded.detach().clone(), hn.detach().clone(),
            x.grad?.detach().clone() ?? throw new InvalidOperationException($"{c.Name}: input received no gradient."),
            h?.grad?.detach().clone(), parameterGrads);
    }

    /// <summary>The forward as <see cref="TorchRnn.Forward"/> runs it. <c>Output</c> is what grad_output multiplies:
    /// the output, or for packed input the packed output's data (S, D·H); <c>Stored</c> is what the file stores as
    /// <c>output</c>, as in the forward fixtures: the output, or for packed input the padded time-major output.</summary>
    private static (Tensor Output, Tensor Stored, Tensor Hn) Run(
        TorchSharp.Modules.RNN rnn, RnnCase c, Tensor input, Tensor? h0)
    {
        if (c.Kind != InputKind.Packed)
        {
            var (output, hidden) = TorchRnn.Forward(rnn, c, input, h0);
            return (output, output, hidden);
        }

        var lengths = tensor(c.Lengths!.Select(l => (long)l).ToArray());
        var packed = nn.utils.rnn.pack_padded_sequence(input, lengths, batch_first: false, enforce_sorted: false);
        // The library sorts by length stably; the packed data's row order (and so grad_output's meaning) is only
        // well defined between the two if libtorch's sort agrees, ties included.
        var expected = Enumerable.Range(0, c.Batch).OrderByDescending(i => c.Lengths![i]).Select(i => (long)i);
        if (!packed.sorted_indices.data<long>().ToArray().SequenceEqual(expected))
            throw new InvalidOperationException($"{c.Name}: libtorch's sorted_indices is not the stable length sort.");
        // Not disposed: disposing a TorchSharp PackedSequence disposes its data, which the caller still uses.
        var (packedOutput, hn) = rnn.call(packed, h0);
        var (padded, _) = nn.utils.rnn.pad_packed_sequence(packedOutput, batch_first: false);
        return (packedOutput.data, padded, hn);
    }

    /// <summary>
    /// float64 only: the gradient's directional derivative along a random direction v over (input, h0, parameters)
    /// must match the central difference (loss(θ + εv) − loss(θ − εv)) / 2ε. An independent check that the stored
    /// gradients are those of the stated loss (ReLU kinks are a measure-zero risk at ε = 1e-6).
    /// </summary>
    private static void CheckFiniteDifferences(
        TorchSharp.Modules.RNN rnn, RnnCase c, Tensor input, Tensor? h0, Tensor gradOutput, Tensor gradHn, Result r,
        int seed)
    {
        const double epsilon = 1e-6;
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed + 7);
        var parameters = rnn.parameters().ToList();
        var original = parameters.Select(p => p.detach().clone()).ToList();
        var vInput = randn(input.shape, c.DType, generator: generator);
        var vH0 = h0 is null ? null : randn(h0.shape, c.DType, generator: generator);
        var vParams = parameters.Select(p => randn(p.shape, c.DType, generator: generator)).ToList();
        if (c.Kind == InputKind.Packed)
        {
            // Padding positions have no effect (their gradient is 0); keep the direction off them anyway.
            var mask = new double[c.SeqLen * c.Batch];
            for (var t = 0; t < c.SeqLen; t++)
            for (var i = 0; i < c.Batch; i++)
                mask[t * c.Batch + i] = t < c.Lengths![i] ? 1 : 0;
            vInput *= tensor(mask, [c.SeqLen, c.Batch, 1], c.DType);
        }

        double Loss(double scale)
        {
            for (var i = 0; i < parameters.Count; i++)
                parameters[i].copy_(original[i] + scale * vParams[i]);
            var (output, _, hn) = Run(rnn, c, input + scale * vInput, h0 is null ? null : h0 + scale * vH0!);
            return ((output * gradOutput).sum() + (hn * gradHn).sum()).item<double>();
        }

        var numeric = (Loss(epsilon) - Loss(-epsilon)) / (2 * epsilon);
        for (var i = 0; i < parameters.Count; i++)
            parameters[i].copy_(original[i]);

        var analytic = (r.GradInput * vInput).sum().item<double>();
        if (r.GradH0 is not null)
            analytic += (r.GradH0 * vH0!).sum().item<double>();
        for (var i = 0; i < parameters.Count; i++)
            analytic += (r.ParameterGrads[i].Grad * vParams[i]).sum().item<double>();
        if (!(Math.Abs(numeric - analytic) <= 1e-6 * Math.Max(1, Math.Abs(analytic))))
            throw new InvalidOperationException(
                $"{c.Name}: finite difference {numeric} disagrees with the autograd directional derivative {analytic}.");
    }

    /// <summary>Rebuilds the case from the file alone and reruns forward + backward with the stored upstream
    /// gradients: output, h_n and every gradient must come out bit for bit as stored.</summary>
    private static void Verify(string path)
    {
        var (tensors, metadata) = SafetensorsFile.Read(path);
        var lengths = tensors.TryGetValue("lengths", out var l) ? l.data<long>().Select(x => (int)x).ToArray() : null;
        var c = RnnCase.FromMetadata(metadata, lengths);
        var rnn = TorchRnn.Create(c);
        var parameterNames = TorchRnn.Parameters(rnn).Select(p => p.Name).ToList();
        rnn.load_state_dict(
            tensors.Where(t => parameterNames.Contains(t.Key)).ToDictionary(t => t.Key, t => t.Value), strict: true);

        var h0 = tensors.GetValueOrDefault("h0");
        var r = ForwardBackward(rnn, c, tensors["input"], h0, tensors["grad_output"], tensors["grad_hn"]);
        var expected = new List<(string, Tensor?)>
        {
            ("output", r.Output), ("h_n", r.Hn), ("grad_input", r.GradInput), ("grad_h0", r.GradH0),
        };
        expected.AddRange(r.ParameterGrads.Select(p => ("grad." + p.Name, (Tensor?)p.Grad)));
        foreach (var (name, value) in expected)
        {
            var stored = tensors.GetValueOrDefault(name);
            if ((value is null) != (stored is null) || (value is not null && !Tolerance.Identical(value, stored!)))
                throw new InvalidOperationException($"{path}: rerunning the stored case does not reproduce '{name}'.");
        }

        var expectedNames = parameterNames.Concat(parameterNames.Select(n => "grad." + n))
            .Concat(["input", "output", "h_n", "grad_output", "grad_hn", "grad_input"])
            .Concat(c.HasH0 ? ["h0", "grad_h0"] : Array.Empty<string>())
            .Concat(c.Lengths is null ? Array.Empty<string>() : ["lengths"]);
        if (!expectedNames.ToHashSet().SetEquals(tensors.Keys))
            throw new InvalidOperationException($"{path}: unexpected tensor set {string.Join(", ", tensors.Keys)}.");
    }
}
