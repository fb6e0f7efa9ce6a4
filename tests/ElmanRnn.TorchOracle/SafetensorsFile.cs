using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace ElmanRnn.TorchOracle;

/// <summary>
/// Reads and writes the safetensors format for the golden fixtures.
/// </summary>
/// <remarks>
/// TorchSharp.PyBridge 1.4.4 only exposes safetensors through <c>Module.save_safetensors</c>, i.e. for a module's own
/// state dict and without <c>__metadata__</c>; a fixture needs inputs, outputs and the case's options beside the
/// parameters, so the format is written here. Layout: an 8-byte little-endian header length, a UTF-8 JSON header
/// <c>{"__metadata__": {string: string}, name: {"dtype", "shape", "data_offsets": [begin, end]}}</c> padded with
/// spaces to a multiple of 8 bytes (as the reference implementation does, so data stays aligned), then the raw
/// little-endian tensor bytes in header order.
/// </remarks>
internal static class SafetensorsFile
{
    public static void Write(
        string path, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var entries = tensors.Select(t => (t.Name, Tensor: t.Tensor.contiguous())).ToList();

        using var headerBuffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(headerBuffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (key, value) in metadata)
                json.WriteString(key, value);
            json.WriteEndObject();

            long offset = 0;
            foreach (var (name, tensor) in entries)
            {
                var length = tensor.NumberOfElements * tensor.ElementSize;
                json.WriteStartObject(name);
                json.WriteString("dtype", DTypeName(tensor.dtype));
                json.WriteStartArray("shape");
                foreach (var dimension in tensor.shape)
                    json.WriteNumberValue(dimension);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += length;
            }

            json.WriteEndObject();
        }

        var header = headerBuffer.ToArray();
        var paddedLength = (header.Length + 7) / 8 * 8;
        using var file = File.Create(path);
        Span<byte> lengthPrefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(lengthPrefix, (ulong)paddedLength);
        file.Write(lengthPrefix);
        file.Write(header);
        for (var i = header.Length; i < paddedLength; i++)
            file.WriteByte((byte)' ');
        foreach (var (_, tensor) in entries)
            file.Write(tensor.bytes);
    }

    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var headerLength = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(bytes));
        var dataStart = 8 + headerLength;
        using var header = JsonDocument.Parse(bytes.AsMemory(8, headerLength));

        var tensors = new Dictionary<string, Tensor>();
        var metadata = new Dictionary<string, string>();
        foreach (var property in header.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__")
            {
                foreach (var entry in property.Value.EnumerateObject())
                    metadata[entry.Name] = entry.Value.GetString()!;
                continue;
            }

            var dtype = property.Value.GetProperty("dtype").GetString() switch
            {
                "F32" => ScalarType.Float32,
                "F64" => ScalarType.Float64,
                "I64" => ScalarType.Int64,
                var other => throw new InvalidDataException($"{path}: unsupported dtype {other}."),
            };
            var shape = property.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            var offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt32())
                .ToArray();
            var tensor = empty(shape, dtype);
            tensor.bytes = bytes.AsSpan(dataStart + offsets[0], offsets[1] - offsets[0]);
            tensors[property.Name] = tensor;
        }

        return (tensors, metadata);
    }

    private static string DTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float64 => "F64",
        ScalarType.Int64 => "I64",
        _ => throw new ArgumentException($"Fixtures hold only float32, float64 and int64 tensors, not {dtype}."),
    };
}
