using System.Numerics;
using System.Numerics.Tensors;
using System.Text.RegularExpressions;
using ElmanRnn.Layout;

namespace ElmanRnn.Serialization;

/// <summary>
/// Loads PyTorch-trained <c>torch.nn.RNN</c> weights: from a <c>torch.save</c> (.pt/.pth) or safetensors file,
/// optionally out of a whole-model checkpoint, with the architecture read off the parameter names and shapes.
/// </summary>
/// <remarks>
/// <code>
/// // Python: torch.save(model.state_dict(), "model.pt")   where model.encoder.rnn is an nn.RNN
/// RnnLayer&lt;float&gt; rnn = RnnCheckpoint.LoadLayer&lt;float&gt;("model.pt", prefix: "encoder.rnn.");
/// // and back, for safetensors.torch.load_file / TorchSharp.PyBridge:
/// SafeTensors.Write("rnn.safetensors", rnn.StateDict());
/// </code>
/// A checkpoint stores parameters only: the nonlinearity, <c>batch_first</c> and dropout are not in it and are
/// given by the caller (dropout defaults to 0; use <c>InferOptions(...) with { Dropout = p }</c> to train with it).
/// </remarks>
public static class RnnCheckpoint
{
    private static readonly Regex ParameterName = new(@"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$", RegexOptions.CultureInvariant);

    // The same names after any module path, to tell the caller which prefix selects an RNN.
    private static readonly Regex PrefixedParameterName = new(@"^(.*\.)?(weight_ih|weight_hh|bias_ih|bias_hh)_l\d+(_reverse)?$", RegexOptions.CultureInvariant);

    // What torch.save wrote before its zip format (PyTorch < 1.6 or _use_new_zipfile_serialization=False):
    // PROTO 2 and then the legacy magic number 0x1950a86a20f9469cfc6c as a LONG1.
    private static ReadOnlySpan<byte> LegacyTorchMagic => [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19];

    /// <summary>
    /// Reads every tensor of a checkpoint file, recognising the format by content rather than by extension: a zip
    /// archive is a <c>torch.save</c> file (<see cref="TorchSave"/>), anything else must be safetensors
    /// (<see cref="SafeTensors"/>). A file that cannot seek (a named pipe, <c>&lt;(cat model.pt)</c>) is read into
    /// memory first.
    /// </summary>
    /// <typeparam name="T">float or double; stored elements are converted to it.</typeparam>
    /// <param name="path">The .pt, .pth, .bin or .safetensors file.</param>
    /// <returns>Tensor name to dense tensor, in file order.</returns>
    /// <exception cref="InvalidDataException">The file is in neither format (including torch's pre-1.6 format), is
    /// damaged, or cannot seek and holds more than one in-memory buffer can (about 2 GiB).</exception>
    public static IReadOnlyDictionary<string, Tensor<T>> Load<T>(string path)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var stream = File.OpenRead(path);
        return Load<T>(stream, $"'{path}'");
    }

    /// <summary>
    /// Reads every tensor of a checkpoint from <paramref name="stream"/>, recognising the format by content as
    /// <see cref="Load{T}(string)"/> does. A stream that cannot seek (a pipe, a network stream) is read to its end
    /// into memory first.
    /// </summary>
    /// <typeparam name="T">float or double; stored elements are converted to it.</typeparam>
    /// <param name="stream">The checkpoint, positioned at its first byte; left open.</param>
    /// <returns>Tensor name to dense tensor, in file order.</returns>
    /// <exception cref="InvalidDataException">As for <see cref="Load{T}(string)"/>.</exception>
    public static IReadOnlyDictionary<string, Tensor<T>> Load<T>(Stream stream)
        where T : unmanaged, IFloatingPointIeee754<T> => Load<T>(stream, "the stream");

    /// <summary><see cref="Load{T}(Stream)"/>, naming the stream <paramref name="source"/> in messages (e.g. <c>'model.pt'</c>).</summary>
    internal static IReadOnlyDictionary<string, Tensor<T>> Load<T>(Stream stream, string source)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Stream seekable = SeekableStream.Of(stream, source);
        switch (DetectFormat(seekable))
        {
            case CheckpointFormat.TorchSave:
                return TorchSave.Read<T>(seekable);
            case CheckpointFormat.LegacyTorchSave:
                throw new InvalidDataException(
                    $"{source} uses torch.save's legacy format (PyTorch < 1.6 or _use_new_zipfile_serialization=False), which is not supported; " +
                    "re-save it with a current torch.save or as safetensors.");
            default:
                try
                {
                    return SafeTensors.Read<T>(seekable);
                }
                catch (InvalidDataException e)
                {
                    throw new InvalidDataException($"{source} is neither a torch.save zip archive nor a valid safetensors file: {e.Message}", e);
                }
        }
    }

    /// <summary>
    /// Tells a checkpoint's format from its first bytes, leaving <paramref name="seekable"/> where it was: the one
    /// place that does (the CLI asks it too, before it peeks at the weights' dtype).
    /// </summary>
    internal static CheckpointFormat DetectFormat(Stream seekable)
    {
        long start = seekable.Position;
        Span<byte> head = stackalloc byte[LegacyTorchMagic.Length];
        head = head[..seekable.ReadAtLeast(head, head.Length, throwOnEndOfStream: false)];
        seekable.Position = start;

        // Local file header "PK\x03\x04", or "PK\x05\x06" for an archive with no records at all.
        if (head is [(byte)'P', (byte)'K', 3, 4, ..] or [(byte)'P', (byte)'K', 5, 6, ..])
            return CheckpointFormat.TorchSave;
        return head.SequenceEqual(LegacyTorchMagic) ? CheckpointFormat.LegacyTorchSave : CheckpointFormat.SafeTensors;
    }

    /// <summary>
    /// Selects one module's tensors from a whole-model state dict: those whose names start with
    /// <paramref name="prefix"/>, renamed without it (<c>encoder.rnn.weight_ih_l0</c> → <c>weight_ih_l0</c>).
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="stateDict">The whole model's tensors.</param>
    /// <param name="prefix">The module's path, e.g. <c>encoder.rnn</c>; a missing trailing dot is added.</param>
    /// <returns>The selected tensors, in their original order.</returns>
    /// <exception cref="ArgumentException">No name starts with the prefix; the message lists the prefixes under which nn.RNN parameters were found.</exception>
    public static IReadOnlyDictionary<string, Tensor<T>> StripPrefix<T>(IReadOnlyDictionary<string, Tensor<T>> stateDict, string prefix)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Length > 0 && !prefix.EndsWith('.'))
            prefix += ".";

        var selected = new OrderedDictionary<string, Tensor<T>>(StringComparer.Ordinal);
        foreach ((string name, Tensor<T> tensor) in stateDict)
            if (name.StartsWith(prefix, StringComparison.Ordinal))
                selected.Add(name[prefix.Length..], tensor);
        if (selected.Count == 0)
        {
            string[] prefixes = RnnPrefixes(stateDict.Keys).Select(p => p.Length > 0 ? $"'{p}'" : "the top level (no prefix)").ToArray();
            throw new ArgumentException($"No tensor name starts with '{prefix}'. " + (prefixes.Length > 0
                ? $"nn.RNN parameters appear under {string.Join(", ", prefixes)}."
                : "No name looks like an nn.RNN parameter (weight_ih_l0, ...)."), nameof(prefix));
        }
        return selected;
    }

    /// <summary>
    /// Reads an <c>nn.RNN</c>'s architecture off its state dict: input and hidden size from <c>weight_ih_l0</c>
    /// (H, H_in), the number of layers from the highest <c>_l{k}</c>, bidirectional from <c>_reverse</c> names and
    /// bias from <c>bias_*</c> names; then checks that every parameter of that architecture is present with its shape.
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="stateDict">The RNN's parameters under PyTorch's names (select them with <see cref="StripPrefix{T}"/> first).</param>
    /// <param name="nonlinearity">φ, which a checkpoint does not record. Default tanh, as in PyTorch.</param>
    /// <param name="batchFirst">The input layout, which a checkpoint does not record. Default false, as in PyTorch.</param>
    /// <returns>The options; <see cref="RnnOptions.Dropout"/> is 0.</returns>
    /// <exception cref="ArgumentException">A name is not an <c>nn.RNN</c> parameter, or parameters are missing or
    /// mis-shaped for the inferred architecture; every problem is listed.</exception>
    public static RnnOptions InferOptions<T>(IReadOnlyDictionary<string, Tensor<T>> stateDict, Nonlinearity nonlinearity = Nonlinearity.Tanh, bool batchFirst = false)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        string[] foreign = stateDict.Keys.Where(name => !ParameterName.IsMatch(name)).ToArray();
        if (foreign.Length > 0)
        {
            string[] prefixes = RnnPrefixes(stateDict.Keys).Where(p => p.Length > 0).ToArray();
            throw new ArgumentException(
                $"Not nn.RNN parameter names: {string.Join(", ", foreign.Select(n => $"'{n}'"))}." +
                (prefixes.Length > 0 ? $" To select the RNN under {string.Join(" or ", prefixes.Select(p => $"'{p}'"))}, use StripPrefix first." : ""),
                nameof(stateDict));
        }
        if (!stateDict.TryGetValue("weight_ih_l0", out Tensor<T>? inputWeights))
            throw new ArgumentException(stateDict.Count == 0
                ? "The state dict is empty; an nn.RNN has at least weight_ih_l0 and weight_hh_l0."
                : "weight_ih_l0 is missing, so the input and hidden sizes cannot be inferred.", nameof(stateDict));

        ReadOnlySpan<nint> shape = inputWeights.Lengths;
        if (shape.Length != 2 || shape[0] <= 0 || shape[1] <= 0 || shape[0] > int.MaxValue || shape[1] > int.MaxValue)
            throw new ArgumentException($"weight_ih_l0 has shape {ShapeText.Format(shape)}; an nn.RNN's is (hidden_size, input_size), both > 0.", nameof(stateDict));

        // Layers must be 0..k without gaps; checking that first also keeps a forged "_l2000000000" from expanding
        // into billions of expected names below.
        int[] layers = stateDict.Keys
            .Select(name => int.TryParse(ParameterName.Match(name).Groups[2].ValueSpan, out int layer) ? layer : int.MaxValue)
            .Distinct()
            .Order()
            .ToArray();
        if (layers[^1] != layers.Length - 1)
            throw new ArgumentException(
                $"The state dict has parameters for layers {string.Join(", ", layers)} but not for every layer from 0 to {layers[^1]}.", nameof(stateDict));

        var options = new RnnOptions
        {
            InputSize = (int)shape[1],
            HiddenSize = (int)shape[0],
            NumLayers = layers.Length,
            Nonlinearity = nonlinearity,
            Bias = stateDict.Keys.Any(name => name.StartsWith("bias_", StringComparison.Ordinal)),
            BatchFirst = batchFirst,
            Bidirectional = stateDict.Keys.Any(name => name.EndsWith("_reverse", StringComparison.Ordinal)),
        };

        var problems = new List<string>();
        foreach (ParameterSpec spec in RnnParameters.Describe(options))
        {
            if (!stateDict.TryGetValue(spec.Name, out Tensor<T>? tensor))
                problems.Add($"{spec.Name} is missing");
            else if (!tensor.Lengths.SequenceEqual(Array.ConvertAll(spec.Shape, s => (nint)s)))
                problems.Add($"{spec.Name} has shape {ShapeText.Format(tensor.Lengths)}, expected {spec.ShapeText}");
        }
        if (problems.Count > 0)
            throw new ArgumentException(
                $"The state dict is not a consistent nn.RNN. Inferred from its names and weight_ih_l0: input_size={options.InputSize}, " +
                $"hidden_size={options.HiddenSize}, num_layers={options.NumLayers}, bias={options.Bias}, bidirectional={options.Bidirectional}; " +
                $"but {string.Join("; ", problems)}.", nameof(stateDict));
        return options;
    }

    /// <summary>
    /// Builds an <see cref="RnnLayer{T}"/> from a checkpoint file: <see cref="Load{T}(string)"/>, <see cref="StripPrefix{T}"/>
    /// when <paramref name="prefix"/> is not empty, <see cref="InferOptions{T}"/>, then a strict
    /// <see cref="RnnLayer{T}.LoadStateDict"/>.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="path">The .pt, .pth, .bin or .safetensors file.</param>
    /// <param name="prefix">The RNN's module path inside a whole-model checkpoint (e.g. <c>encoder.rnn</c>); empty
    /// when the file holds just the RNN's state dict.</param>
    /// <param name="nonlinearity">φ, which a checkpoint does not record. Default tanh.</param>
    /// <param name="batchFirst">The input layout, which a checkpoint does not record. Default false.</param>
    /// <returns>The layer, in training mode as PyTorch modules start (with dropout 0 that changes nothing).</returns>
    /// <exception cref="InvalidDataException">The file is not a readable checkpoint.</exception>
    /// <exception cref="ArgumentException">The prefix selects nothing, or the tensors are not a consistent nn.RNN.</exception>
    public static RnnLayer<T> LoadLayer<T>(string path, string prefix = "", Nonlinearity nonlinearity = Nonlinearity.Tanh, bool batchFirst = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(prefix);
        using var stream = File.OpenRead(path);
        return LoadLayer<T>(stream, $"'{path}'", prefix, nonlinearity, batchFirst);
    }

    /// <summary>
    /// <see cref="LoadLayer{T}(string, string, Nonlinearity, bool)"/> from a stream; one that cannot seek (a pipe, a
    /// network stream) is read to its end into memory first.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="stream">The checkpoint, positioned at its first byte; left open.</param>
    /// <param name="prefix">The RNN's module path inside a whole-model checkpoint; empty when the stream holds just the RNN's state dict.</param>
    /// <param name="nonlinearity">φ, which a checkpoint does not record. Default tanh.</param>
    /// <param name="batchFirst">The input layout, which a checkpoint does not record. Default false.</param>
    /// <returns>The layer, in training mode as PyTorch modules start (with dropout 0 that changes nothing).</returns>
    /// <exception cref="InvalidDataException">The stream is not a readable checkpoint.</exception>
    /// <exception cref="ArgumentException">The prefix selects nothing, or the tensors are not a consistent nn.RNN.</exception>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("ApiDesign", "RS0026",
        Justification = "The path and stream overloads differ in their first parameter's type, so no call is ambiguous.")]
    public static RnnLayer<T> LoadLayer<T>(Stream stream, string prefix = "", Nonlinearity nonlinearity = Nonlinearity.Tanh, bool batchFirst = false)
        where T : unmanaged, IFloatingPointIeee754<T> => LoadLayer<T>(stream, "the stream", prefix, nonlinearity, batchFirst);

    /// <summary>The stream overload, naming the stream <paramref name="source"/> in messages (e.g. <c>'model.pt'</c>).</summary>
    internal static RnnLayer<T> LoadLayer<T>(Stream stream, string source, string prefix, Nonlinearity nonlinearity, bool batchFirst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(prefix);
        IReadOnlyDictionary<string, Tensor<T>> stateDict = Load<T>(stream, source);
        if (prefix.Length > 0)
            stateDict = StripPrefix(stateDict, prefix);
        var layer = new RnnLayer<T>(InferOptions(stateDict, nonlinearity, batchFirst));
        layer.LoadStateDict(stateDict);
        return layer;
    }

    /// <summary>The distinct module paths (with their trailing dot; "" for top-level names) under which nn.RNN parameter names occur.</summary>
    private static IEnumerable<string> RnnPrefixes(IEnumerable<string> names) => names
        .Select(name => PrefixedParameterName.Match(name))
        .Where(match => match.Success)
        .Select(match => match.Groups[1].Value)
        .Distinct();
}
