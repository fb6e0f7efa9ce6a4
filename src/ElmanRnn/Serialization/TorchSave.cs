using System.Collections;
using System.IO.Compression;
using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Layout;

namespace ElmanRnn.Serialization;

/// <summary>
/// Reads the tensors of a <c>torch.save</c> file (the zip format PyTorch writes by default since 1.6, and
/// TorchSharp.PyBridge's <c>save_py</c>), such as <c>torch.save(model.state_dict(), "rnn.pt")</c>.
/// </summary>
/// <remarks>
/// <para>
/// The archive holds <c>{archive}/data.pkl</c>, a pickle of the saved object in which every tensor storage is
/// replaced by a key whose bytes are the record <c>{archive}/data/{key}</c>. The pickle is evaluated by a
/// restricted interpreter that knows only what a state dict contains (dicts, OrderedDict, tensors rebuilt by
/// <c>torch._utils._rebuild_tensor_v2</c> or <c>_rebuild_parameter</c>, and the storage classes
/// <c>torch.FloatStorage</c>, <c>DoubleStorage</c>, <c>HalfStorage</c>, <c>BFloat16Storage</c>, <c>LongStorage</c>,
/// <c>IntStorage</c>, <c>ShortStorage</c>, <c>CharStorage</c>, <c>ByteStorage</c>): nothing in the file is ever
/// executed, and any other global (for example <c>os.system</c>) is refused with <see cref="InvalidDataException"/>.
/// </para>
/// <para>
/// The saved object must be a dict. Nested dicts are flattened with dot-joined keys, so a checkpoint
/// <c>{"model": model.state_dict(), "epoch": 7}</c> yields <c>model.rnn.weight_ih_l0</c> and so on; values that
/// are not tensors (the epoch) and entries with non-string keys are skipped. Strided and storage-sharing tensors
/// are materialised as independent dense tensors; views that overlap themselves (expanded, stride 0) are refused.
/// Storages are read in the byte order of the archive's <c>byteorder</c> record (little-endian when absent).
/// A 0-dimensional tensor is returned with shape <c>[1]</c>, as <c>Tensor&lt;T&gt;</c> has no rank 0.
/// </para>
/// <para>
/// Work is budgeted by what the file holds, so a small file cannot make the reader build far more than its size:
/// flattening visits at most 100 000 dict entries (counting an entry again each time a memo reference reaches
/// it), the tensors may hold at most 4 × the elements of their storages + 2^20, and a record over 16 MiB may
/// declare at most 100 × its compressed size. Each limit is refused with <see cref="InvalidDataException"/>.
/// </para>
/// </remarks>
public static partial class TorchSave
{
    // Deeper nesting than this is not a checkpoint; the limit also stops a self-referencing dict.
    private const int MaxNesting = 32;

    // The pickle's memo lets a few bytes reference one dict many times, so a DAG of dicts each holding the previous
    // one twice flattens to 2^depth entries. Every entry visited while flattening counts, also when it is reached
    // again through another reference; a state dict with optimiser state has thousands, not a hundred thousand.
    internal const int MaxFlattenedEntries = 100_000;

    // Each tensor is materialised as its own dense copy, so one storage referenced under many names multiplies
    // what a file of a few kilobytes costs. Legitimate sharing is a handful of views per storage (tied weights,
    // one state dict saved under two keys, views into a flat buffer, which together cover it once), so the
    // elements materialised may be this many times the elements of the storages they read, plus an allowance
    // that keeps small files with any sharing pattern loadable.
    internal const int MaxReadsPerStorageElement = 4;
    internal const long MaterialisedElementAllowance = 1 << 20;

    // torch.save stores its records uncompressed; a deflated record comes from re-zipping, where real weights
    // shrink little. Deflate can expand a kilobyte to a megabyte, so a record may declare at most this ratio of
    // its compressed size, except up to the allowance, which leaves room for zero-filled buffers.
    internal const int MaxInflationRatio = 100;
    internal const long InflationAllowance = 16 << 20;

    /// <summary>Reads every tensor in the <c>torch.save</c> file at <paramref name="path"/>.</summary>
    /// <typeparam name="T">float or double; stored elements are converted to it.</typeparam>
    /// <param name="path">The .pt / .pth / .bin file.</param>
    /// <returns>Tensor name to dense tensor, in the order of the pickled dict.</returns>
    /// <exception cref="InvalidDataException">The file is not a zip-format torch.save file, is damaged, or holds something other than tensors in dicts.</exception>
    public static IReadOnlyDictionary<string, Tensor<T>> Read<T>(string path)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var stream = File.OpenRead(path);
        return Read<T>(stream);
    }

    /// <summary>Reads every tensor in a <c>torch.save</c> file from <paramref name="stream"/>.</summary>
    /// <typeparam name="T">float or double; stored elements are converted to it.</typeparam>
    /// <param name="stream">The file contents; left open.</param>
    /// <returns>Tensor name to dense tensor, in the order of the pickled dict.</returns>
    /// <exception cref="InvalidDataException">The file is not a zip-format torch.save file, is damaged, or holds something other than tensors in dicts.</exception>
    public static IReadOnlyDictionary<string, Tensor<T>> Read<T>(Stream stream)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(stream);
        // ZipArchive would buffer a stream that cannot seek too, but without a budget.
        using ZipArchive archive = OpenArchive(SeekableStream.Of(stream, "The torch.save stream"));
        ZipArchiveEntry pickle = FindDataPickle(archive);
        string prefix = pickle.FullName[..^"data.pkl".Length];
        bool bigEndian = ReadByteOrder(archive, prefix);

        object? root = RestrictedUnpickler.Load(ReadRecord(pickle, pickle.Length));
        if (root is not OrderedDictionary<object, object?> dict)
            throw new InvalidDataException($"torch.save file holds {Describe(root)}, not a dict of tensors (a state_dict).");

        var found = new List<(string Name, TensorRef Tensor)>();
        int visited = 0;
        Collect(dict, "", 0, found, ref visited);

        CheckMaterialisedSize(found);

        var storages = new Dictionary<string, (T[] Values, BitArray Read)>(StringComparer.Ordinal);
        var tensors = new OrderedDictionary<string, Tensor<T>>(found.Count, StringComparer.Ordinal);
        foreach ((string name, TensorRef tensor) in found)
        {
            if (!storages.TryGetValue(tensor.Storage.Key, out (T[] Values, BitArray Read) storage))
            {
                T[] values = ReadStorage<T>(archive, prefix, tensor.Storage, bigEndian);
                storages.Add(tensor.Storage.Key, storage = (values, new BitArray(values.Length)));
            }
            if (!tensors.TryAdd(name, Materialise(name, storage.Values, storage.Read, tensor)))
                throw new InvalidDataException($"torch.save file names the tensor '{name}' twice once nested dicts are flattened.");
        }
        return tensors;
    }

    // Runs before any storage is read: the storage lengths are the pickle's claims, which ReadStorage then holds
    // against the records, so a file cannot pass this check with storages it does not contain.
    private static void CheckMaterialisedSize(List<(string Name, TensorRef Tensor)> found)
    {
        Int128 materialised = 0, stored = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((_, TensorRef tensor) in found)
        {
            materialised += tensor.ElementCount;
            if (seen.Add(tensor.Storage.Key))
                stored += tensor.Storage.Length;
        }
        Int128 limit = stored * MaxReadsPerStorageElement + MaterialisedElementAllowance;
        if (materialised > limit)
            throw new InvalidDataException(
                $"torch.save file's {found.Count} tensors hold {materialised} elements in total, but their {seen.Count} storages hold only {stored}; " +
                $"at most {MaxReadsPerStorageElement} x the storage elements + {MaterialisedElementAllowance} ({limit}) are materialised, " +
                "so a storage cannot be loaded under many names.");
    }

    private static ZipArchive OpenArchive(Stream stream)
    {
        try
        {
            return new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"Not a torch.save file: it is not a readable zip archive ({e.Message}). " +
                "Files written with _use_new_zipfile_serialization=False (the pre-1.6 format) are not supported.", e);
        }
    }

    // torch names the top folder after the file or "archive" and TorchSharp.PyBridge uses "model", so the
    // folder is whatever holds data.pkl.
    private static ZipArchiveEntry FindDataPickle(ZipArchive archive)
    {
        ZipArchiveEntry[] pickles = archive.Entries
            .Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length)
            .ToArray();
        return pickles.Length switch
        {
            1 => pickles[0],
            0 => throw new InvalidDataException("Not a torch.save file: the zip archive has no {archive}/data.pkl record."),
            _ => throw new InvalidDataException($"torch.save file is ambiguous: it has several data.pkl records ({string.Join(", ", pickles.Select(e => e.FullName))})."),
        };
    }

    private static bool ReadByteOrder(ZipArchive archive, string prefix)
    {
        ZipArchiveEntry? entry = archive.GetEntry(prefix + "byteorder");
        if (entry is null)
            return false;
        string byteOrder = System.Text.Encoding.ASCII.GetString(ReadRecord(entry, 16));
        return byteOrder switch
        {
            "little" => false,
            "big" => true,
            _ => throw new InvalidDataException($"torch.save file has byteorder '{byteOrder}'; expected 'little' or 'big'."),
        };
    }

    private static T[] ReadStorage<T>(ZipArchive archive, string prefix, StorageRef storage, bool bigEndian)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        string name = $"{prefix}data/{storage.Key}";
        ZipArchiveEntry entry = archive.GetEntry(name)
            ?? throw new InvalidDataException($"torch.save file is missing the record '{name}' of storage '{storage.Key}'.");
        Int128 expected = (Int128)storage.Length * storage.Type.Size();
        if (entry.Length != expected)
            throw new InvalidDataException(
                $"torch.save record '{name}' has {entry.Length} bytes, but its storage holds {storage.Length} elements of {storage.Type} ({expected} bytes).");
        byte[] bytes = ReadRecord(entry, entry.Length);
        if (bytes.Length != entry.Length)
            throw new InvalidDataException($"torch.save record '{name}' is truncated: {bytes.Length} of {entry.Length} bytes.");
        var values = new T[storage.Length];
        ElementTypes.Decode(storage.Type, bytes, values.AsSpan(), bigEndian);
        return values;
    }

    /// <summary>Reads a whole record of at most <paramref name="maxLength"/> bytes.</summary>
    private static byte[] ReadRecord(ZipArchiveEntry entry, long maxLength)
    {
        if (maxLength > Array.MaxLength)
            throw new InvalidDataException($"torch.save record '{entry.FullName}' of {maxLength} bytes is larger than this reader supports.");
        // Checked before inflating. The declared size may be a lie too: whatever the stream yields, the read below
        // stops one byte past maxLength, which callers derive from the storage size the pickle needs.
        if (entry.Length > InflationAllowance && entry.Length > (Int128)entry.CompressedLength * MaxInflationRatio)
            throw new InvalidDataException(
                $"torch.save record '{entry.FullName}' declares {entry.Length} bytes compressed into {entry.CompressedLength}; records over " +
                $"{InflationAllowance} bytes may inflate at most {MaxInflationRatio} x their compressed size.");

        // A zip's size fields are only claims: the buffer grows as bytes actually arrive, so a forged size cannot
        // force a large allocation, and one byte past the limit is enough to tell that the record is too long.
        var buffer = new MemoryStream((int)Math.Min(maxLength, 1 << 20));
        try
        {
            using Stream source = entry.Open();
            var chunk = new byte[81920];
            int read;
            while (buffer.Length <= maxLength && (read = source.Read(chunk, 0, (int)Math.Min(chunk.Length, maxLength + 1 - buffer.Length))) > 0)
                buffer.Write(chunk, 0, read);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new InvalidDataException($"torch.save record '{entry.FullName}' cannot be read: {e.Message}", e);
        }

        if (buffer.Length > maxLength)
            throw new InvalidDataException($"torch.save record '{entry.FullName}' is longer than the {maxLength} bytes expected.");
        return buffer.ToArray();
    }

    private static void Collect(OrderedDictionary<object, object?> dict, string prefix, int depth, List<(string, TensorRef)> found, ref int visited)
    {
        if (depth > MaxNesting)
            throw new InvalidDataException($"torch.save file nests dicts more than {MaxNesting} deep (at '{prefix}').");
        foreach ((object key, object? value) in dict)
        {
            if (++visited > MaxFlattenedEntries)
                throw new InvalidDataException(
                    $"torch.save file expands to more than {MaxFlattenedEntries} dict entries once nested dicts are flattened (at '{prefix}'); " +
                    "its pickle references the same dicts many times over.");
            if (key is not string name)
                continue;
            switch (value)
            {
                case TensorRef tensor:
                    found.Add((prefix + name, tensor));
                    break;
                case OrderedDictionary<object, object?> nested:
                    Collect(nested, prefix + name + ".", depth + 1, found, ref visited);
                    break;
            }
        }
    }

    // read: one mark per storage element, all clear between calls.
    private static Tensor<T> Materialise<T>(string name, T[] storage, BitArray read, TensorRef tensor)
    {
        // dense: (size[0], ..., size[k-1]) row-major
        var dense = new T[tensor.ElementCount];
        long[] size = tensor.Size, stride = tensor.Stride;
        if (IsContiguous(tensor))
        {
            Array.Copy(storage, tensor.Offset, dense, 0, dense.LongLength);
        }
        else
        {
            // A view overlaps itself exactly when it reads some storage element twice (an expanded or stride-0 view
            // does). Marking each element read decides that for any strides. The marks belong to the storage and
            // are cleared again afterwards, so they cost an eighth of a byte per storage element once, not once per
            // tensor: a view of two elements over a large storage stays cheap however many names it has.
            var walk = new ViewWalk(tensor);
            for (int i = 0; i < dense.Length; i++, walk.Next())
            {
                if (read[(int)walk.Source])
                    throw new InvalidDataException(
                        $"torch.save tensor '{name}' of size {ShapeText.Format<long>(size)}, stride {ShapeText.Format<long>(stride)} reads storage element {walk.Source} " +
                        "more than once; views that overlap themselves (expanded, stride 0) are not supported.");
                read[(int)walk.Source] = true;
                dense[i] = storage[walk.Source];
            }
            walk = new ViewWalk(tensor);
            for (int i = 0; i < dense.Length; i++, walk.Next())
                read[(int)walk.Source] = false;
        }
        nint[] lengths = size.Length == 0 ? [1] : Array.ConvertAll(size, s => (nint)s);
        return Tensor.Create(dense, lengths);
    }

    // Row-major with no gaps (dimensions of length 1 may have any stride): such a view reads each element once.
    private static bool IsContiguous(TensorRef tensor)
    {
        long expected = 1;
        for (int d = tensor.Size.Length - 1; d >= 0; d--)
        {
            if (tensor.Size[d] != 1 && tensor.Stride[d] != expected)
                return false;
            expected *= tensor.Size[d];
        }
        return true;
    }

    /// <summary>The storage index of each element of a view, in row-major order of the view.</summary>
    private sealed class ViewWalk(TensorRef tensor)
    {
        private readonly long[] _index = new long[tensor.Size.Length];

        public long Source { get; private set; } = tensor.Offset;

        // Odometer step: advance the last dimension and carry into earlier ones.
        public void Next()
        {
            for (int d = _index.Length - 1; d >= 0; d--)
            {
                Source += tensor.Stride[d];
                if (++_index[d] < tensor.Size[d])
                    return;
                Source -= tensor.Stride[d] * tensor.Size[d];
                _index[d] = 0;
            }
        }
    }

    // Python's names for the values a pickle can leave, so the message reads like the saving side.
    private static string Describe(object? value) => value switch
    {
        null => "None",
        TensorRef => "a single tensor",
        List<object?> => "a list",
        object?[] => "a tuple",
        string => "a str",
        bool => "a bool",
        long => "an int",
        double => "a float",
        _ => value.GetType().Name,
    };
}
