using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Numerics.Tensors;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using ElmanRnn.Layout;

namespace ElmanRnn.Serialization;

/// <summary>
/// Reads and writes the safetensors format (huggingface/safetensors): an 8-byte little-endian header length N,
/// N bytes of JSON <c>{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}</c> with an
/// optional <c>"__metadata__"</c> string-to-string map, then the raw little-endian, row-major tensor bytes.
/// </summary>
/// <remarks>
/// Reading accepts the dtypes F64, F32, F16, BF16, I64, I32, I16, I8 and U8 and converts every element to
/// <c>T</c> (rounding to nearest when <c>T</c> is narrower). Files are validated as strictly as the reference
/// implementation does: the header is at most 100 MB, the byte ranges tile the data section exactly in offset
/// order, and each range is exactly shape × dtype size. A file that breaks any rule raises
/// <see cref="InvalidDataException"/> naming the tensor and the rule. <c>Tensor&lt;T&gt;</c> has no rank 0, so
/// a 0-dimensional tensor (shape <c>[]</c>) is returned with shape <c>[1]</c>.
/// </remarks>
public static class SafeTensors
{
    // The reference implementation refuses larger headers (MAX_HEADER_SIZE); so do we, before allocating.
    private const int MaxHeaderLength = 100_000_000;
    private const string MetadataKey = "__metadata__";

    /// <summary>Reads every tensor of the safetensors file at <paramref name="path"/>, in data-offset order.</summary>
    /// <typeparam name="T">float or double; stored elements are converted to it.</typeparam>
    /// <param name="path">The file to read.</param>
    /// <returns>Tensor name to dense tensor, ordered by position in the file.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file or uses an unsupported dtype.</exception>
    public static IReadOnlyDictionary<string, Tensor<T>> Read<T>(string path)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var stream = File.OpenRead(path);
        return Read<T>(stream);
    }

    /// <summary>Reads every tensor of a safetensors file from <paramref name="stream"/> (read to its end).</summary>
    /// <typeparam name="T">float or double; stored elements are converted to it.</typeparam>
    /// <param name="stream">The file contents, positioned at its first byte.</param>
    /// <returns>Tensor name to dense tensor, ordered by position in the file.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file or uses an unsupported dtype.</exception>
    public static IReadOnlyDictionary<string, Tensor<T>> Read<T>(Stream stream)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(stream);
        stream = Seekable(stream);
        Header header = ReadHeader(stream);
        if (header.DataLength > Array.MaxLength)
            throw new InvalidDataException($"safetensors data section of {header.DataLength} bytes is larger than this reader supports ({Array.MaxLength} bytes).");
        var data = new byte[header.DataLength];
        ReadExactly(stream, data, "the data section");
        return Decode<T>(header, data);
    }

    /// <summary>Reads every tensor of a safetensors file held in memory, in data-offset order.</summary>
    /// <typeparam name="T">float or double; stored elements are converted to it.</typeparam>
    /// <param name="file">The whole file.</param>
    /// <returns>Tensor name to dense tensor, ordered by position in the file.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file or uses an unsupported dtype.</exception>
    public static IReadOnlyDictionary<string, Tensor<T>> Read<T>(ReadOnlySpan<byte> file)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Header header = ParseHeader(file);
        return Decode<T>(header, file[^(int)header.DataLength..]);
    }

    /// <summary>Reads the <c>__metadata__</c> map of the safetensors file at <paramref name="path"/>, reading only its header.</summary>
    /// <param name="path">The file to read.</param>
    /// <returns>The metadata map; empty when the file has none.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file.</exception>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        using var stream = File.OpenRead(path);
        return ReadMetadata(stream);
    }

    /// <summary>Reads the <c>__metadata__</c> map of a safetensors file from <paramref name="stream"/>.</summary>
    /// <param name="stream">The file contents, positioned at its first byte.</param>
    /// <returns>The metadata map; empty when the file has none.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file.</exception>
    public static IReadOnlyDictionary<string, string> ReadMetadata(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ReadHeader(Seekable(stream)).Metadata;
    }

    /// <summary>Reads the <c>__metadata__</c> map of a safetensors file held in memory.</summary>
    /// <param name="file">The whole file.</param>
    /// <returns>The metadata map; empty when the file has none.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file.</exception>
    public static IReadOnlyDictionary<string, string> ReadMetadata(ReadOnlySpan<byte> file) => ParseHeader(file).Metadata;

    /// <summary>
    /// Writes <paramref name="tensors"/> to a new safetensors file at <paramref name="path"/> (replacing any file
    /// there), as F32 when <typeparamref name="T"/> is float and F64 when it is double.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="path">The file to create.</param>
    /// <param name="tensors">Name to tensor; written in the dictionary's enumeration order. Non-dense tensors are written row-major.</param>
    /// <param name="metadata">Optional <c>__metadata__</c> map, e.g. <c>{"format": "pt"}</c>.</param>
    /// <exception cref="ArgumentException">A name is <c>__metadata__</c>, which the format reserves.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    public static void Write<T>(string path, IReadOnlyDictionary<string, Tensor<T>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        byte[] header = BuildHeader(tensors, metadata);
        using var stream = File.Create(path);
        WriteTo(stream, header, tensors);
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> as a safetensors file to <paramref name="stream"/>, as F32 when
    /// <typeparamref name="T"/> is float and F64 when it is double.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="stream">The destination; left open.</param>
    /// <param name="tensors">Name to tensor; written in the dictionary's enumeration order. Non-dense tensors are written row-major.</param>
    /// <param name="metadata">Optional <c>__metadata__</c> map, e.g. <c>{"format": "pt"}</c>.</param>
    /// <exception cref="ArgumentException">A name is <c>__metadata__</c>, which the format reserves.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    public static void Write<T>(Stream stream, IReadOnlyDictionary<string, Tensor<T>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(stream);
        WriteTo(stream, BuildHeader(tensors, metadata), tensors);
    }

    private sealed record Entry(string Name, ElementType Type, nint[] Shape, long Begin, long End);

    private sealed record Header(IReadOnlyList<Entry> Entries, IReadOnlyDictionary<string, string> Metadata, long DataLength);

    // Non-seekable streams are buffered whole so that the header can be checked against the real file length
    // before anything sized by the header is allocated.
    private static Stream Seekable(Stream stream) => SeekableStream.Of(stream, "The safetensors stream");

    private static Header ReadHeader(Stream stream)
    {
        Span<byte> prefix = stackalloc byte[8];
        long available = stream.Length - stream.Position;
        if (available < 8)
            throw new InvalidDataException($"Not a safetensors file: it has {available} bytes, fewer than the 8-byte header length.");
        ReadExactly(stream, prefix, "the header length");
        int headerLength = CheckHeaderLength(BinaryPrimitives.ReadUInt64LittleEndian(prefix), available - 8);
        var json = new byte[headerLength];
        ReadExactly(stream, json, "the header");
        return ParseJson(json, available - 8 - headerLength);
    }

    private static Header ParseHeader(ReadOnlySpan<byte> file)
    {
        if (file.Length < 8)
            throw new InvalidDataException($"Not a safetensors file: it has {file.Length} bytes, fewer than the 8-byte header length.");
        int headerLength = CheckHeaderLength(BinaryPrimitives.ReadUInt64LittleEndian(file), file.Length - 8);
        return ParseJson(file.Slice(8, headerLength).ToArray(), file.Length - 8 - headerLength);
    }

    private static int CheckHeaderLength(ulong headerLength, long available)
    {
        if (headerLength > MaxHeaderLength)
            throw new InvalidDataException($"safetensors header length {headerLength} exceeds the format's limit of {MaxHeaderLength} bytes.");
        if ((long)headerLength > available)
            throw new InvalidDataException($"safetensors header length {headerLength} runs past the end of the file ({available} bytes follow the length field).");
        return (int)headerLength;
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string what)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"safetensors file ends inside {what}.", e);
        }
    }

    private static Header ParseJson(byte[] json, long dataLength)
    {
        // JsonDocument checks UTF-8 only outside strings; an invalid sequence inside a name or value would surface
        // later as InvalidOperationException from GetString. The reference reader also requires the whole header
        // to be UTF-8 (str::from_utf8) before parsing it.
        Span<char> scratch = stackalloc char[256];
        for (int read = 0; read < json.Length;)
        {
            OperationStatus status = Utf8.ToUtf16(json.AsSpan(read), scratch, out int bytesRead, out _, replaceInvalidSequences: false);
            if (status is OperationStatus.InvalidData or OperationStatus.NeedMoreData)
                throw new InvalidDataException($"safetensors header is not valid UTF-8 JSON: invalid UTF-8 sequence at header byte {read + bytesRead}.");
            read += bytesRead;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"safetensors header is not valid UTF-8 JSON: {e.Message}", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"safetensors header must be a JSON object, found {root.ValueKind}.");

            var entries = new List<Entry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            IReadOnlyDictionary<string, string> metadata = new Dictionary<string, string>();
            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (!names.Add(property.Name))
                    throw new InvalidDataException($"safetensors header names '{property.Name}' twice.");
                if (property.Name == MetadataKey)
                    metadata = ParseMetadata(property.Value);
                else
                    entries.Add(ParseEntry(property.Name, property.Value));
            }

            // Offsets, not header order, define the layout (writers differ in how they order the JSON); the name
            // breaks ties between empty tensors so the order is deterministic.
            entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin)
                : a.End != b.End ? a.End.CompareTo(b.End) : string.CompareOrdinal(a.Name, b.Name));
            long expectedBegin = 0;
            foreach (Entry entry in entries)
            {
                if (entry.Begin != expectedBegin)
                    throw new InvalidDataException(entry.Begin < expectedBegin
                        ? $"safetensors tensor '{entry.Name}' data [{entry.Begin}, {entry.End}) overlaps the previous tensor, which ends at {expectedBegin}."
                        : $"safetensors tensor '{entry.Name}' data starts at {entry.Begin}, leaving bytes [{expectedBegin}, {entry.Begin}) unused; tensors must tile the data section.");
                if (entry.End > dataLength)
                    throw new InvalidDataException($"safetensors tensor '{entry.Name}' data [{entry.Begin}, {entry.End}) runs past the end of the data section ({dataLength} bytes).");
                expectedBegin = entry.End;
            }
            if (expectedBegin != dataLength)
                throw new InvalidDataException($"safetensors data section has {dataLength} bytes but its tensors cover only {expectedBegin}.");
            return new Header(entries, metadata, dataLength);
        }
    }

    private static Dictionary<string, string> ParseMetadata(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"safetensors {MetadataKey} must be an object of strings, found {value.ValueKind}.");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty property in value.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"safetensors {MetadataKey} value '{property.Name}' must be a string, found {property.Value.ValueKind}.");
            if (!metadata.TryAdd(property.Name, property.Value.GetString()!))
                throw new InvalidDataException($"safetensors {MetadataKey} names '{property.Name}' twice.");
        }
        return metadata;
    }

    private static Entry ParseEntry(string name, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"safetensors tensor '{name}' must be described by an object, found {value.ValueKind}.");

        if (!value.TryGetProperty("dtype", out JsonElement dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"safetensors tensor '{name}' has no string \"dtype\".");
        string dtype = dtypeElement.GetString()!;
        ElementType type = dtype switch
        {
            "F64" => ElementType.F64,
            "F32" => ElementType.F32,
            "F16" => ElementType.F16,
            "BF16" => ElementType.BF16,
            "I64" => ElementType.I64,
            "I32" => ElementType.I32,
            "I16" => ElementType.I16,
            "I8" => ElementType.I8,
            "U8" => ElementType.U8,
            _ => throw new InvalidDataException(
                $"safetensors tensor '{name}' has dtype '{dtype}'; supported are F64, F32, F16, BF16, I64, I32, I16, I8 and U8."),
        };

        long[] shape = ReadIntegers(name, value, "shape", requiredCount: null);
        long[] offsets = ReadIntegers(name, value, "data_offsets", requiredCount: 2);
        if (offsets[1] < offsets[0])
            throw new InvalidDataException($"safetensors tensor '{name}' data_offsets [{offsets[0]}, {offsets[1]}] end before they begin.");

        long byteLength = offsets[1] - offsets[0];
        Int128 count = shape.Contains(0) ? 0 : 1;
        foreach (long length in shape)
        {
            count *= length;
            // Every remaining factor is at least 1, so a count past the byte range can never match it; leaving
            // here also keeps the product far from Int128's range.
            if (count > byteLength)
                break;
        }
        if (count * type.Size() != byteLength)
            throw new InvalidDataException(
                $"safetensors tensor '{name}' of shape {ShapeText.Format<long>(shape)} and dtype {dtype} needs {(count > byteLength ? "over " + byteLength : count * type.Size())} bytes, but its data_offsets [{offsets[0]}, {offsets[1]}] hold {byteLength}.");

        nint[] lengths = shape.Length == 0 ? [1] : Array.ConvertAll(shape, l => (nint)l);
        return new Entry(name, type, lengths, offsets[0], offsets[1]);
    }

    private static long[] ReadIntegers(string name, JsonElement value, string field, int? requiredCount)
    {
        if (!value.TryGetProperty(field, out JsonElement array) || array.ValueKind != JsonValueKind.Array
            || (requiredCount is int n && array.GetArrayLength() != n))
            throw new InvalidDataException(requiredCount is int m
                ? $"safetensors tensor '{name}' needs \"{field}\" as an array of {m} integers."
                : $"safetensors tensor '{name}' needs \"{field}\" as an array of integers.");

        var result = new long[array.GetArrayLength()];
        int i = 0;
        foreach (JsonElement item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v))
                throw new InvalidDataException($"safetensors tensor '{name}' {field} entry {item} is not an integer.");
            if (v < 0)
                throw new InvalidDataException($"safetensors tensor '{name}' {field} entry {v} is negative.");
            result[i++] = v;
        }
        return result;
    }

    private static OrderedDictionary<string, Tensor<T>> Decode<T>(Header header, ReadOnlySpan<byte> data)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tensors = new OrderedDictionary<string, Tensor<T>>(header.Entries.Count, StringComparer.Ordinal);
        foreach (Entry entry in header.Entries)
        {
            ReadOnlySpan<byte> bytes = data[(int)entry.Begin..(int)entry.End];
            var values = new T[bytes.Length / entry.Type.Size()];
            ElementTypes.Decode(entry.Type, bytes, values.AsSpan());
            tensors.Add(entry.Name, Tensor.Create(values, entry.Shape));
        }
        return tensors;
    }

    private static (string DType, int Size) OwnDType<T>() =>
        typeof(T) == typeof(float) ? ("F32", 4)
        : typeof(T) == typeof(double) ? ("F64", 8)
        : throw new NotSupportedException($"safetensors writing supports float (F32) and double (F64), not {typeof(T).Name}.");

    private static byte[] BuildHeader<T>(IReadOnlyDictionary<string, Tensor<T>> tensors, IReadOnlyDictionary<string, string>? metadata)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tensors);
        (string dtype, int size) = OwnDType<T>();

        var buffer = new ArrayBufferWriter<byte>();
        // The relaxed encoder keeps names such as "a+b" readable; its output is still plain JSON.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject(MetadataKey);
                foreach ((string key, string value) in metadata)
                    json.WriteString(key, value);
                json.WriteEndObject();
            }

            long offset = 0;
            foreach ((string name, Tensor<T> tensor) in tensors)
            {
                if (name == MetadataKey)
                    throw new ArgumentException($"'{MetadataKey}' is reserved by the safetensors format and cannot name a tensor.", nameof(tensors));
                ArgumentNullException.ThrowIfNull(tensor, $"{nameof(tensors)}[\"{name}\"]");
                long end = offset + (long)tensor.FlattenedLength * size;
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (nint length in tensor.Lengths)
                    json.WriteNumberValue((long)length);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }
            json.WriteEndObject();
        }

        // Spaces pad the header to a multiple of 8 so the data section, and every F64 in it, is 8-byte aligned
        // when the file is memory-mapped, as the reference writer does.
        int padding = (8 - buffer.WrittenCount % 8) % 8;
        buffer.GetSpan(padding)[..padding].Fill((byte)' ');
        buffer.Advance(padding);
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteTo<T>(Stream stream, byte[] header, IReadOnlyDictionary<string, Tensor<T>> tensors)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);

        int size = OwnDType<T>().Size;
        foreach (Tensor<T> tensor in tensors.Values)
        {
            var values = new T[tensor.FlattenedLength];
            tensor.FlattenTo(values);
            var bytes = new byte[values.Length * size];
            for (int i = 0; i < values.Length; i++)
            {
                if (size == 4)
                    BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), float.CreateTruncating(values[i]));
                else
                    BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), double.CreateTruncating(values[i]));
            }
            stream.Write(bytes);
        }
    }
}
