using System.Buffers.Binary;
using System.IO.Hashing;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace ElmanRnn;

/// <summary>
/// The hidden state of a batch of B streams of a unidirectional <see cref="RnnLayer{T}"/>: what PyTorch's caller keeps
/// as <c>h_n</c> and feeds back as <c>h0</c>. Made by <see cref="RnnLayer{T}.CreateState"/>, advanced by
/// <see cref="RnnLayer{T}.Step"/>.
/// <para>
/// One layer may be stepped from many threads at once, each with its own state; a state itself is not thread-safe.
/// </para>
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>, as the layer.</typeparam>
public sealed class RnnState<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    // "ERNNSTAT", then version 1's header (little-endian), then the values, then a CRC-32 of all that precedes it:
    //   u16 version, u8 element bytes (4 float, 8 double), u8 nonlinearity (0 tanh, 1 relu), u8 bias,
    //   i32 input size, i32 hidden size, i32 layers, i32 batch size, u32 CRC-32 of the header so far.
    private static ReadOnlySpan<byte> Magic => "ERNNSTAT"u8;
    private const ushort Version = 1;
    private const int HeaderLength = 8 + 2 + 3 + 4 * 4 + 4;

    private readonly T[] _values;   // (NL, B, H)
    private T[] _scratch = [];      // (2, steps, B, H): inner layers' outputs, grown to the largest chunk stepped

    internal RnnState(RnnOptions options, int batchSize)
    {
        Options = options;
        BatchSize = batchSize;
        _values = new T[StateElements(options, batchSize)];
        Hidden = Tensor.Create(_values, [options.NumLayers, batchSize, options.HiddenSize]);
    }

    /// <summary>B: the number of streams this state carries.</summary>
    public int BatchSize { get; }

    /// <summary>
    /// The live state (NL, B, H): row layer·B + slot holds that stream's state after the layer's last step. Writes
    /// into it (to inject a state) are seen by the next <see cref="RnnLayer{T}.Step"/>.
    /// </summary>
    public Tensor<T> Hidden { get; }

    /// <summary>The architecture this state belongs to: a layer of other sizes refuses it.</summary>
    internal RnnOptions Options { get; }

    internal Span<T> Values => _values;

    /// <summary>Workspace for <see cref="RnnLayer{T}.Step"/>: allocated only when a chunk is larger than any before.</summary>
    internal Span<T> Scratch(int length)
    {
        if (_scratch.Length < length)
            _scratch = GC.AllocateUninitializedArray<T>(length);
        return _scratch.AsSpan(0, length);
    }

    /// <summary>All streams back to zeros, as if newly created without h0.</summary>
    public void Reset() => Array.Clear(_values);

    /// <summary>One stream of the batch back to zeros (it restarts its sequence); the others continue unchanged.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="slot"/> is not in 0..B-1.</exception>
    public void Reset(int slot)
    {
        if ((uint)slot >= (uint)BatchSize)
            throw new ArgumentOutOfRangeException(nameof(slot), slot,
                $"slot must be in 0..{BatchSize - 1} (the state carries {BatchSize} stream(s)).");
        int hidden = Options.HiddenSize;
        for (int l = 0; l < Options.NumLayers; l++)
            _values.AsSpan((l * BatchSize + slot) * hidden, hidden).Clear();
    }

    /// <summary>
    /// Writes the state in a small versioned binary format: element type, sizes (input, hidden, layers, nonlinearity,
    /// bias: the architecture's fingerprint), batch size, the values, and CRC-32 checksums, so
    /// <see cref="ReadFrom"/> can refuse anything truncated, corrupted or of another architecture.
    /// </summary>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var crc = new Crc32();
        Span<byte> header = stackalloc byte[HeaderLength];
        WriteHeader(header, Options, BatchSize);
        stream.Write(header);
        crc.Append(header);
        ReadOnlySpan<byte> payload = MemoryMarshal.AsBytes(_values.AsSpan());
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("RnnState files are little-endian; this machine is not.");
        stream.Write(payload);
        crc.Append(payload);
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(tail, crc.GetCurrentHashAsUInt32());
        stream.Write(tail);
    }

    /// <summary>
    /// Reads a state written by <see cref="WriteTo"/> for <paramref name="layer"/>, after checking everything: the
    /// format, the checksums, the element type and the architecture.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a state file, an unknown version, truncated or corrupted.</exception>
    /// <exception cref="ArgumentException">A valid state of another element type or architecture than the layer's.</exception>
    /// <exception cref="NotSupportedException">The layer is bidirectional (it cannot stream).</exception>
    public static RnnState<T> ReadFrom(Stream stream, RnnLayer<T> layer)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(layer);
        Span<byte> header = stackalloc byte[HeaderLength];
        ReadExactly(stream, header, "header");
        if (!header[..8].SequenceEqual(Magic))
            throw new InvalidDataException("Not an ElmanRnn state: the stream does not start with \"ERNNSTAT\".");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(header[^4..]) != Crc32.HashToUInt32(header[..^4]))
            throw new InvalidDataException(version == Version
                ? "Corrupted ElmanRnn state: the header's checksum does not match."
                : $"Unsupported ElmanRnn state version {version}; this library reads version {Version}.");

        int elementBytes = header[10];
        var stored = new RnnOptions
        {
            Nonlinearity = header[11] == 0 ? Nonlinearity.Tanh : header[11] == 1 ? Nonlinearity.Relu
                : throw new InvalidDataException($"Corrupted ElmanRnn state: nonlinearity code {header[11]}."),
            Bias = header[12] == 1,
            InputSize = BinaryPrimitives.ReadInt32LittleEndian(header[13..]),
            HiddenSize = BinaryPrimitives.ReadInt32LittleEndian(header[17..]),
            NumLayers = BinaryPrimitives.ReadInt32LittleEndian(header[21..]),
        };
        int batchSize = BinaryPrimitives.ReadInt32LittleEndian(header[25..]);
        if (elementBytes != Unsafe.SizeOf<T>())
            throw new ArgumentException(
                $"The state holds {TypeName(elementBytes)} values; this layer is RnnLayer<{typeof(T).Name}>.", nameof(layer));
        RnnOptions o = layer.Options;
        if (stored.InputSize != o.InputSize || stored.HiddenSize != o.HiddenSize || stored.NumLayers != o.NumLayers ||
            stored.Nonlinearity != o.Nonlinearity || stored.Bias != o.Bias)
            throw new ArgumentException(
                $"The state belongs to another architecture: {Describe(stored)}; this layer is {Describe(o)}.", nameof(layer));
        if (batchSize < 1 || StateElements(o, batchSize) > Array.MaxLength / Unsafe.SizeOf<T>())
            throw new InvalidDataException($"Corrupted ElmanRnn state: batch size {batchSize}.");

        // The batch size is only the header's claim: a forged one must not allocate gigabytes before the values turn
        // out to be missing (found by fuzzing). A seekable stream is measured first; any other is read in chunks,
        // so that memory grows only with the bytes that really arrive, until it has delivered values and checksum.
        long rest = StateElements(o, batchSize) * Unsafe.SizeOf<T>() + 4;
        if (stream.CanSeek)
        {
            long remaining = stream.Length - stream.Position;
            if (remaining < rest)
                throw new InvalidDataException(
                    $"Truncated ElmanRnn state: expected {rest - 4} bytes of values and a 4-byte checksum, the stream holds {remaining}.");
        }
        else
            stream = Prefetch(stream, rest);

        RnnState<T> state = layer.CreateState(batchSize);
        Span<byte> payload = MemoryMarshal.AsBytes(state._values.AsSpan());
        ReadExactly(stream, payload, "values");
        Span<byte> tail = stackalloc byte[4];
        ReadExactly(stream, tail, "checksum");
        var crc = new Crc32();
        crc.Append(header);
        crc.Append(payload);
        if (BinaryPrimitives.ReadUInt32LittleEndian(tail) != crc.GetCurrentHashAsUInt32())
            throw new InvalidDataException("Corrupted ElmanRnn state: the values' checksum does not match.");
        return state;
    }

    internal static long StateElements(RnnOptions options, int batchSize) =>
        (long)options.NumLayers * batchSize * options.HiddenSize;

    private static void WriteHeader(Span<byte> header, RnnOptions o, int batchSize)
    {
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], Version);
        header[10] = (byte)Unsafe.SizeOf<T>();
        header[11] = o.Nonlinearity == Nonlinearity.Tanh ? (byte)0 : (byte)1;
        header[12] = o.Bias ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt32LittleEndian(header[13..], o.InputSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[17..], o.HiddenSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[21..], o.NumLayers);
        BinaryPrimitives.WriteInt32LittleEndian(header[25..], batchSize);
        BinaryPrimitives.WriteUInt32LittleEndian(header[^4..], Crc32.HashToUInt32(header[..^4]));
    }

    private static MemoryStream Prefetch(Stream stream, long count)
    {
        var prefetched = new MemoryStream();
        var chunk = new byte[(int)Math.Min(count, 1 << 16)];
        while (prefetched.Length < count)
        {
            int read = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, count - prefetched.Length));
            if (read == 0)
                throw new InvalidDataException(
                    $"Truncated ElmanRnn state: expected {count - 4} bytes of values and a 4-byte checksum, the stream ended after {prefetched.Length}.");
            prefetched.Write(chunk, 0, read);
        }
        prefetched.Position = 0;
        return prefetched;
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string what)
    {
        int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (read < buffer.Length)
            throw new InvalidDataException(
                $"Truncated ElmanRnn state: expected {buffer.Length} bytes of {what}, the stream ended after {read}.");
    }

    private static string TypeName(int elementBytes) =>
        elementBytes switch { 4 => "float32", 8 => "float64", _ => $"{elementBytes}-byte" };

    private static string Describe(RnnOptions o) =>
        new StringBuilder($"RNN({o.InputSize}, {o.HiddenSize}, num_layers={o.NumLayers}, ")
            .Append(o.Nonlinearity == Nonlinearity.Tanh ? "tanh" : "relu").Append(o.Bias ? ", bias" : ", no bias")
            .Append(')').ToString();
}
