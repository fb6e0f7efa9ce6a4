using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using ElmanRnn.Cli;
using ElmanRnn.Serialization;

namespace ElmanRnn.Fuzz;

/// <summary>
/// One fuzz target per reader of untrusted bytes. Each feeds the input to the reader and swallows only the
/// exceptions that reader documents for bad input; anything else escapes and is a finding (a crash to AFL, a
/// failure to <c>replay</c>).
/// </summary>
internal static class Targets
{
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
    {
        ["safetensors"] = SafeTensorsTarget,
        ["pt"] = TorchSaveTarget,
        ["pickle"] = PickleTarget,
        ["npy"] = NpyTarget,
        ["state"] = StateTarget,
        ["checkpoint"] = CheckpointTarget,
    };

    // SafeTensors.Read/ReadMetadata document InvalidDataException only. The span and stream overloads parse
    // differently (the stream one reads the declared lengths before it has the bytes), so both run.
    private static void SafeTensorsTarget(byte[] data)
    {
        Expect<InvalidDataException>(() => SafeTensors.Read<float>(data));
        Expect<InvalidDataException>(() => SafeTensors.Read<double>(new MemoryStream(data, writable: false)));
        Expect<InvalidDataException>(() => SafeTensors.ReadMetadata(data));
    }

    // TorchSave.Read documents InvalidDataException only. The input is the whole zip archive.
    private static void TorchSaveTarget(byte[] data) =>
        Expect<InvalidDataException>(() => TorchSave.Read<float>(new MemoryStream(data, writable: false)));

    // Mutating a whole .pt rarely gets past the zip's CRCs into the pickle, so this target fuzzes the pickle
    // alone: the input becomes archive/data.pkl of a freshly built archive, and every storage the pickle names
    // (if it unpickles) gets a record of exactly the size it claims, so TorchSave.Read reaches the tensor
    // rebuilding behind the unpickler.
    private static void PickleTarget(byte[] data)
    {
        object? root;
        try
        {
            root = RestrictedUnpickler.Load(data);
        }
        catch (InvalidDataException)
        {
            return;
        }
        Expect<InvalidDataException>(() => TorchSave.Read<float>(new MemoryStream(ArchiveAround(data, root))));
    }

    // Npy.Read documents InvalidDataException for bad bytes (ArgumentException only for a non-seekable stream).
    private static void NpyTarget(byte[] data) =>
        Expect<InvalidDataException>(() => Npy.Read<float>(new MemoryStream(data, writable: false)));

    // RnnState.ReadFrom documents InvalidDataException, ArgumentException for another architecture or element
    // type, NotSupportedException for a bidirectional layer (never the case here). Both checksums in the input
    // are recomputed first (header CRC over its first 29 bytes, the trailing CRC over everything before it), so
    // mutations are not all stopped at the checksum test; the checksum tests themselves are unit-tested. The
    // layer is the architecture the header names when that is small, so the reader gets past that check too.
    private static void StateTarget(byte[] data)
    {
        const int headerLength = 33;
        if (data.Length >= headerLength)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(headerLength - 4), Crc32.HashToUInt32(data.AsSpan(0, headerLength - 4)));
            if (data.Length >= headerLength + 4)
                BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(data.Length - 4), Crc32.HashToUInt32(data.AsSpan(0, data.Length - 4)));
        }
        RnnOptions options = StatedArchitecture(data) ?? new RnnOptions { InputSize = 3, HiddenSize = 4 };
        if (data.Length > 10 && data[10] == 8)
            ExpectState(() => RnnState<double>.ReadFrom(new MemoryStream(data, writable: false), new RnnLayer<double>(options)));
        else
            ExpectState(() => RnnState<float>.ReadFrom(new MemoryStream(data, writable: false), new RnnLayer<float>(options)));
    }

    // RnnCheckpoint.LoadLayer documents InvalidDataException (unreadable file) and ArgumentException (tensors
    // that are not a consistent nn.RNN). It takes a path, so the input goes through a file.
    private static void CheckpointTarget(byte[] data)
    {
        string path = Path.Combine(Path.GetTempPath(), $"elmanrnn-fuzz-{Environment.ProcessId}.bin");
        File.WriteAllBytes(path, data);
        try
        {
            RnnCheckpoint.LoadLayer<float>(path);
        }
        catch (InvalidDataException)
        {
        }
        catch (ArgumentException e) when (e.GetType() == typeof(ArgumentException))
        {
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void Expect<TException>(Action read) where TException : Exception
    {
        try
        {
            read();
        }
        catch (TException e) when (e.GetType() == typeof(TException))
        {
        }
    }

    private static void ExpectState(Action read)
    {
        try
        {
            read();
        }
        catch (InvalidDataException)
        {
        }
        catch (ArgumentException e) when (e.GetType() == typeof(ArgumentException))
        {
        }
    }

    private static RnnOptions? StatedArchitecture(byte[] data)
    {
        if (data.Length < 29 || data[11] > 1)
            return null;
        int input = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(13));
        int hidden = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(17));
        int layers = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(21));
        if (input is < 1 or > 16 || hidden is < 1 or > 16 || layers is < 1 or > 4)
            return null;
        return new RnnOptions
        {
            InputSize = input,
            HiddenSize = hidden,
            NumLayers = layers,
            Nonlinearity = data[11] == 0 ? Nonlinearity.Tanh : Nonlinearity.Relu,
            Bias = data[12] == 1,
        };
    }

    // A torch.save-shaped archive: archive/data.pkl, archive/byteorder and one record per storage the pickle names
    // with the byte size it claims (storages of more than 2^20 elements are left out, which the reader reports as missing).
    private static byte[] ArchiveAround(byte[] pickle, object? root)
    {
        var storages = new Dictionary<string, long>(StringComparer.Ordinal);
        CollectStorages(root, storages, new HashSet<object>(ReferenceEqualityComparer.Instance));
        var zip = new MemoryStream();
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
        {
            Add(archive, "archive/data.pkl", pickle);
            Add(archive, "archive/byteorder", "little"u8.ToArray());
            foreach ((string key, long bytes) in storages)
                Add(archive, $"archive/data/{key}", new byte[bytes]);
        }
        return zip.ToArray();
    }

    private static void Add(ZipArchive archive, string name, byte[] contents)
    {
        using Stream entry = archive.CreateEntry(name, CompressionLevel.NoCompression).Open();
        entry.Write(contents);
    }

    private static void CollectStorages(object? node, Dictionary<string, long> storages, HashSet<object> seen)
    {
        if (node is null || !seen.Add(node))
            return;
        switch (node)
        {
            case TensorRef tensor:
                // Bounded before multiplying: a forged length must not overflow (or OOM) the harness itself.
                if (tensor.Storage.Length is >= 0 and <= 1 << 20)
                    storages.TryAdd(tensor.Storage.Key, tensor.Storage.Length * tensor.Storage.Type.Size());
                break;
            case object?[] tuple:
                foreach (object? item in tuple)
                    CollectStorages(item, storages, seen);
                break;
            case List<object?> list:
                foreach (object? item in list)
                    CollectStorages(item, storages, seen);
                break;
            case OrderedDictionary<object, object?> dict:
                foreach ((object key, object? value) in dict)
                {
                    CollectStorages(key, storages, seen);
                    CollectStorages(value, storages, seen);
                }
                break;
        }
    }
}
