using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text;
using ElmanRnn.Layout;

namespace ElmanRnn.Serialization;

public static partial class TorchSave
{
    /// <summary>
    /// Writes tensors as <c>torch.save(state_dict, path)</c> does, so <c>torch.load</c> (and
    /// <c>module.load_state_dict</c>) reads them back in Python: a zip archive with the pickled
    /// <c>OrderedDict</c> of tensors (<c>archive/data.pkl</c>, protocol 2, each tensor a
    /// <c>torch._utils._rebuild_tensor_v2</c> over its own storage), one little-endian record per storage
    /// (<c>archive/data/0</c>, …), <c>byteorder</c> and <c>version</c> records; stored uncompressed, as torch does.
    /// </summary>
    /// <param name="path">The .pt file to create (replaced if it exists).</param>
    /// <param name="tensors">Name → tensor, written in this order (e.g. <see cref="RnnLayer{T}.StateDict"/>).</param>
    /// <typeparam name="T">float (torch.float32) or double (torch.float64).</typeparam>
    public static void Write<T>(string path, IReadOnlyDictionary<string, Tensor<T>> tensors)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var stream = File.Create(path);
        Write(stream, tensors);
    }

    /// <summary>Writes tensors in <c>torch.save</c>'s format to <paramref name="stream"/> (left open); see
    /// <see cref="Write{T}(string, IReadOnlyDictionary{string, Tensor{T}})"/>.</summary>
    /// <param name="stream">Writable stream.</param>
    /// <param name="tensors">Name → tensor, in order.</param>
    /// <typeparam name="T">float or double.</typeparam>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    public static void Write<T>(Stream stream, IReadOnlyDictionary<string, Tensor<T>> tensors)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        string storageClass = typeof(T) == typeof(float) ? "FloatStorage"
            : typeof(T) == typeof(double) ? "DoubleStorage"
            : throw new NotSupportedException($"TorchSave.Write<{typeof(T).Name}>: the element type must be float or double.");
        const string archiveName = "archive";
        using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        var pickle = new PickleWriter();
        pickle.Global("collections", "OrderedDict");
        pickle.Op(PickleWriter.EmptyTuple);
        pickle.Op(PickleWriter.Reduce);
        pickle.Op(PickleWriter.Mark);
        int index = 0;
        foreach (var (name, tensor) in tensors)
        {
            ArgumentNullException.ThrowIfNull(tensor, $"{nameof(tensors)}[\"{name}\"]");
            T[] values = new T[tensor.FlattenedLength];
            tensor.FlattenTo(values);
            string key = index++.ToString(System.Globalization.CultureInfo.InvariantCulture);
            WriteRecord(zip, $"{archiveName}/data/{key}", LittleEndianBytes(values));

            pickle.String(name);
            pickle.Global("torch._utils", "_rebuild_tensor_v2");
            pickle.Op(PickleWriter.Mark);
            //   persistent id ('storage', torch.FloatStorage, key, 'cpu', numel)
            pickle.Op(PickleWriter.Mark);
            pickle.String("storage");
            pickle.Global("torch", storageClass);
            pickle.String(key);
            pickle.String("cpu");
            pickle.Int(values.Length);
            pickle.Op(PickleWriter.Tuple);
            pickle.Op(PickleWriter.BinPersId);
            pickle.Int(0);                                   // storage offset
            ReadOnlySpan<nint> lengths = tensor.Lengths;
            pickle.IntTuple(lengths, contiguousStrides: false);
            pickle.IntTuple(lengths, contiguousStrides: true);
            pickle.Op(PickleWriter.NewFalse);                // requires_grad
            pickle.Global("collections", "OrderedDict");     // backward_hooks
            pickle.Op(PickleWriter.EmptyTuple);
            pickle.Op(PickleWriter.Reduce);
            pickle.Op(PickleWriter.Tuple);
            pickle.Op(PickleWriter.Reduce);
        }
        pickle.Op(PickleWriter.SetItems);
        pickle.Op(PickleWriter.Stop);
        WriteRecord(zip, $"{archiveName}/data.pkl", pickle.ToArray());
        WriteRecord(zip, $"{archiveName}/byteorder", "little"u8.ToArray());
        WriteRecord(zip, $"{archiveName}/version", "3\n"u8.ToArray());
        WriteRecord(zip, $"{archiveName}/.data/version", "3\n"u8.ToArray());
    }

    private static void WriteRecord(ZipArchive zip, string name, byte[] bytes)
    {
        var entry = zip.CreateEntry(name, CompressionLevel.NoCompression);
        entry.LastWriteTime = new DateTimeOffset(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);   // reproducible bytes
        using Stream s = entry.Open();
        s.Write(bytes);
    }

    private static byte[] LittleEndianBytes<T>(T[] values) where T : unmanaged
    {
        byte[] bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            int size = bytes.Length / Math.Max(1, values.Length);
            for (int i = 0; i < bytes.Length; i += size)
                bytes.AsSpan(i, size).Reverse();
        }
        return bytes;
    }

    // The few pickle opcodes a state dict needs (protocol 2, as torch.save uses).
    private sealed class PickleWriter
    {
        public const byte Mark = (byte)'(', Stop = (byte)'.', Tuple = (byte)'t', EmptyTuple = (byte)')',
            Reduce = (byte)'R', SetItems = (byte)'u', BinPersId = (byte)'Q', NewFalse = 0x89;
        private readonly MemoryStream _bytes = new();

        public PickleWriter()
        {
            _bytes.WriteByte(0x80);   // PROTO 2
            _bytes.WriteByte(2);
        }

        public void Op(byte op) => _bytes.WriteByte(op);

        public void Global(string module, string name)
        {
            _bytes.WriteByte((byte)'c');
            _bytes.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
        }

        public void String(string value)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(value);
            _bytes.WriteByte((byte)'X');   // BINUNICODE
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(length, utf8.Length);
            _bytes.Write(length);
            _bytes.Write(utf8);
        }

        public void Int(long value)
        {
            if (value is < int.MinValue or > int.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(value), value, "A tensor dimension above 2^31 - 1 cannot be written.");
            _bytes.WriteByte((byte)'J');   // BININT
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, (int)value);
            _bytes.Write(bytes);
        }

        // size, or the contiguous (row-major) strides of that size
        public void IntTuple(ReadOnlySpan<nint> lengths, bool contiguousStrides)
        {
            if (lengths.Length == 0)
            {
                Op(EmptyTuple);
                return;
            }
            Op(Mark);
            long stride = 1;
            Span<long> strides = stackalloc long[lengths.Length];
            for (int d = lengths.Length - 1; d >= 0; d--)
            {
                strides[d] = stride;
                stride *= Math.Max(1, (long)lengths[d]);
            }
            for (int d = 0; d < lengths.Length; d++)
                Int(contiguousStrides ? strides[d] : lengths[d]);
            Op(Tuple);
        }

        public byte[] ToArray() => _bytes.ToArray();
    }
}
