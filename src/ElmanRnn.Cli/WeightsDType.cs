using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using ElmanRnn.Serialization;

namespace ElmanRnn.Cli;

/// <summary>
/// Tells whether a checkpoint's weights are float32 or float64 without reading them, so that <c>run</c> computes in
/// the dtype the model was saved in: from the safetensors header (only the tensors under the prefix), or from the
/// storage classes (<c>torch.FloatStorage</c>, <c>torch.DoubleStorage</c>, …) named in a <c>torch.save</c> file's
/// pickle (the whole file: storages are not tied to names without running the pickle).
/// </summary>
internal static class WeightsDType
{
    // Beyond these sizes the header or pickle is not a plain state dict and reading it is no longer cheap.
    private const long MaxSafeTensorsHeader = 100_000_000;
    private const long MaxPickle = 16 << 20;

    /// <summary>
    /// float64 when every floating-point tensor is float64, float32 when every one is float32, float16 or
    /// bfloat16 (which widen to float32 exactly); null when they are mixed or the file cannot be read this way
    /// (the real loader then reports any damage).
    /// </summary>
    /// <param name="stream">The checkpoint, seekable (see <see cref="SeekableStream"/>); left where it was.</param>
    /// <param name="prefix">The RNN's module path; only tensors under it count in a safetensors file.</param>
    public static DType? Detect(Stream stream, string prefix)
    {
        long start = stream.Position;
        try
        {
            return RnnCheckpoint.DetectFormat(stream) switch
            {
                CheckpointFormat.TorchSave => FromTorchSave(stream),
                CheckpointFormat.SafeTensors => FromSafeTensors(stream, prefix.Length == 0 || prefix.EndsWith('.') ? prefix : prefix + "."),
                _ => null,
            };
        }
        catch (Exception e) when (e is IOException or InvalidDataException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
        finally
        {
            stream.Position = start;
        }
    }

    private static DType? FromSafeTensors(Stream stream, string prefix)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (length > MaxSafeTensorsHeader || (long)length > stream.Length - stream.Position)
            return null;
        var header = new byte[length];
        stream.ReadExactly(header);

        using JsonDocument document = JsonDocument.Parse(header);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
            return null;
        var dtypes = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonProperty tensor in document.RootElement.EnumerateObject())
            if (tensor.Name != "__metadata__" && tensor.Name.StartsWith(prefix, StringComparison.Ordinal)
                && tensor.Value.ValueKind == JsonValueKind.Object && tensor.Value.TryGetProperty("dtype", out JsonElement dtype)
                && dtype.ValueKind == JsonValueKind.String)
                dtypes.Add(dtype.GetString()!);
        return Classify(dtypes.Contains("F64"), dtypes.Overlaps(["F32", "F16", "BF16"]));
    }

    private static DType? FromTorchSave(Stream stream)
    {
        using var archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        ZipArchiveEntry[] pickles = archive.Entries
            .Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length)
            .ToArray();
        if (pickles is not [var pickle] || pickle.Length > MaxPickle)
            return null;
        var bytes = new byte[pickle.Length];
        using (Stream entry = pickle.Open())
            entry.ReadExactly(bytes);

        // Protocol 2 (torch.save's default) names a class as "torch\nDoubleStorage\n"; protocol 4 and later as
        // separate strings "torch" and "DoubleStorage". The class name alone matches both.
        bool Names(string storage) => bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(storage)) >= 0;
        return Classify(Names("DoubleStorage"), Names("FloatStorage") || Names("HalfStorage") || Names("BFloat16Storage"));
    }

    private static DType? Classify(bool hasFloat64, bool hasNarrower) => (hasFloat64, hasNarrower) switch
    {
        (true, false) => DType.Float64,
        (false, true) => DType.Float32,
        _ => null,
    };
}
