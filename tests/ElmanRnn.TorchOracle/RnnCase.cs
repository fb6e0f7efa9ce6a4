using System.Globalization;
using TorchSharp;

namespace ElmanRnn.TorchOracle;

/// <summary>
/// One RNN configuration together with the shape of the data fed to it: everything needed to regenerate a case with
/// libtorch and to rebuild it from a fixture file's metadata alone.
/// </summary>
internal sealed record RnnCase
{
    public required string Nonlinearity { get; init; }   // "tanh" or "relu", PyTorch's spelling
    public required int NumLayers { get; init; }
    public required bool Bidirectional { get; init; }
    public required bool Bias { get; init; }
    public required InputKind Kind { get; init; }
    public required bool HasH0 { get; init; }
    public required int InputSize { get; init; }
    public required int HiddenSize { get; init; }

    /// <summary>L; for packed input the padded length T, which equals the longest sequence.</summary>
    public required int SeqLen { get; init; }

    /// <summary>N; 1 for unbatched input.</summary>
    public required int Batch { get; init; }

    /// <summary>Per-sequence lengths in the caller's (unsorted) order; packed input only.</summary>
    public int[]? Lengths { get; init; }

    /// <summary>Inter-layer dropout; libtorch runs in eval mode, where it must have no effect.</summary>
    public double Dropout { get; init; }

    public required torch.ScalarType DType { get; init; }

    public bool BatchFirst => Kind == InputKind.BatchFirst;

    public int Directions => Bidirectional ? 2 : 1;

    public string DTypeName => DType switch
    {
        torch.ScalarType.Float32 => "float32",
        torch.ScalarType.Float64 => "float64",
        _ => throw new InvalidOperationException($"Unsupported dtype {DType}."),
    };

    public string KindName => Kind switch
    {
        InputKind.BatchFirst => "batch_first",
        InputKind.TimeMajor => "time_major",
        InputKind.Unbatched => "unbatched",
        InputKind.Packed => "packed",
        _ => throw new InvalidOperationException($"Unknown input kind {Kind}."),
    };

    /// <summary>A file-name-safe identifier of the option combination (sizes excluded), e.g.
    /// <c>tanh_bias_l2_bi_packed_h0_f64</c>.</summary>
    public string Name =>
        $"{Nonlinearity}_{(Bias ? "bias" : "nobias")}_l{NumLayers}_{(Bidirectional ? "bi" : "uni")}_{KindName}"
        + $"_{(HasH0 ? "h0" : "noh0")}_{(DType == torch.ScalarType.Float32 ? "f32" : "f64")}";

    /// <summary>Shape of the tensor handed to the RNN (for packed input: the padded time-major tensor).</summary>
    public long[] InputShape => Kind switch
    {
        InputKind.BatchFirst => [Batch, SeqLen, InputSize],
        InputKind.Unbatched => [SeqLen, InputSize],
        _ => [SeqLen, Batch, InputSize],
    };

    /// <summary>Shape of h0 and h_n: never batch-first; no batch axis for unbatched input.</summary>
    public long[] HiddenShape => Kind == InputKind.Unbatched
        ? [NumLayers * Directions, HiddenSize]
        : [NumLayers * Directions, Batch, HiddenSize];

    /// <summary>The safetensors <c>__metadata__</c> map (string to string, as the format requires).</summary>
    public Dictionary<string, string> ToMetadata()
    {
        return new Dictionary<string, string>
        {
            ["nonlinearity"] = Nonlinearity,
            ["num_layers"] = Invariant(NumLayers),
            ["bidirectional"] = Bool(Bidirectional),
            ["bias"] = Bool(Bias),
            ["batch_first"] = Bool(BatchFirst),
            ["input_kind"] = KindName,
            ["has_h0"] = Bool(HasH0),
            ["input_size"] = Invariant(InputSize),
            ["hidden_size"] = Invariant(HiddenSize),
            ["seq_len"] = Invariant(SeqLen),
            ["batch_size"] = Invariant(Batch),
            ["dropout"] = Dropout.ToString("R", CultureInfo.InvariantCulture),
            ["dtype"] = DTypeName,
        };
    }

    /// <summary>Rebuilds a case from <see cref="ToMetadata"/>'s output; packed lengths live in the file's
    /// <c>lengths</c> tensor and are passed in separately.</summary>
    public static RnnCase FromMetadata(IReadOnlyDictionary<string, string> metadata, int[]? lengths)
    {
        string Get(string key) => metadata.TryGetValue(key, out var value)
            ? value
            : throw new InvalidDataException($"Fixture metadata lacks '{key}'.");
        int GetInt(string key) => int.Parse(Get(key), CultureInfo.InvariantCulture);
        bool GetBool(string key) => Get(key) switch
        {
            "true" => true,
            "false" => false,
            var other => throw new InvalidDataException($"Metadata '{key}' is '{other}', expected true or false."),
        };

        return new RnnCase
        {
            Nonlinearity = Get("nonlinearity"),
            NumLayers = GetInt("num_layers"),
            Bidirectional = GetBool("bidirectional"),
            Bias = GetBool("bias"),
            Kind = Get("input_kind") switch
            {
                "batch_first" => InputKind.BatchFirst,
                "time_major" => InputKind.TimeMajor,
                "unbatched" => InputKind.Unbatched,
                "packed" => InputKind.Packed,
                var other => throw new InvalidDataException($"Unknown input_kind '{other}'."),
            },
            HasH0 = GetBool("has_h0"),
            InputSize = GetInt("input_size"),
            HiddenSize = GetInt("hidden_size"),
            SeqLen = GetInt("seq_len"),
            Batch = GetInt("batch_size"),
            Lengths = lengths,
            Dropout = double.Parse(Get("dropout"), CultureInfo.InvariantCulture),
            DType = Get("dtype") switch
            {
                "float32" => torch.ScalarType.Float32,
                "float64" => torch.ScalarType.Float64,
                var other => throw new InvalidDataException($"Unknown dtype '{other}'."),
            },
        };
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Bool(bool value) => value ? "true" : "false";
}
