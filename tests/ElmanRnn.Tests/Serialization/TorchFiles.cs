using System.IO.Compression;
using System.Text;

namespace ElmanRnn.Tests.Serialization;

/// <summary>Assembles torch.save archives and the pickles inside them.</summary>
internal static class TorchFiles
{
    /// <summary>
    /// A zip laid out record for record as torch.save (2.x) writes one: data.pkl, .format_version,
    /// .storage_alignment, byteorder, data/{key} in key order, version, .data/serialization_id, all stored
    /// uncompressed. <paramref name="byteOrder"/> null leaves the byteorder record out, as torch before 2.1 did.
    /// </summary>
    public static byte[] TorchArchive(string archive, byte[] pickle, IReadOnlyList<(string Key, byte[] Bytes)> storages, string? byteOrder = "little")
    {
        var records = new List<(string, byte[])>
        {
            ($"{archive}/data.pkl", pickle),
            ($"{archive}/.format_version", "1"u8.ToArray()),
            ($"{archive}/.storage_alignment", "64"u8.ToArray()),
        };
        if (byteOrder is not null)
            records.Add(($"{archive}/byteorder", Encoding.ASCII.GetBytes(byteOrder)));
        records.AddRange(storages.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => ($"{archive}/data/{s.Key}", s.Bytes)));
        records.Add(($"{archive}/version", "3\n"u8.ToArray()));
        records.Add(($"{archive}/.data/serialization_id", "1234567890123456789012345678901234567890"u8.ToArray()));
        return Zip(records, CompressionLevel.NoCompression);
    }

    public static byte[] Zip(IEnumerable<(string Name, byte[] Bytes)> records, CompressionLevel level)
    {
        using var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach ((string name, byte[] bytes) in records)
            {
                using Stream entry = zip.CreateEntry(name, level).Open();
                entry.Write(bytes);
            }
        }
        return stream.ToArray();
    }

    /// <summary>
    /// A protocol-2 state dict shaped like torch's (OrderedDict, _rebuild_tensor_v2, persistent ids) but with
    /// every global spelled out instead of memoised; an unpickler reads both forms identically.
    /// </summary>
    public static byte[] StateDictPickle(params PickledTensor[] tensors)
    {
        var p = new PickleBuilder().Proto(2).Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
        foreach (PickledTensor tensor in tensors)
            p.BinUnicode(tensor.Name).Tensor(tensor);
        return p.SetItems().Stop().ToArray();
    }

    /// <summary>Pushes <c>_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())</c>.</summary>
    public static PickleBuilder Tensor(this PickleBuilder p, PickledTensor tensor)
    {
        p.Global("torch._utils", "_rebuild_tensor_v2")
            .Mark()
            .Mark().BinUnicode("storage").Global("torch", tensor.StorageClass).BinUnicode(tensor.Key).BinUnicode("cpu").Int(tensor.StorageLength).Tuple()
            .BinPersId()
            .Int(tensor.Offset);
        p.Mark();
        foreach (long length in tensor.Size)
            p.Int(length);
        p.Tuple().Mark();
        foreach (long step in tensor.Stride)
            p.Int(step);
        return p.Tuple()
            .NewFalse()
            .Global("collections", "OrderedDict").EmptyTuple().Reduce()
            .Tuple()
            .Reduce();
    }

    /// <summary>A contiguous float32 tensor over all of storage <paramref name="key"/>.</summary>
    public static PickledTensor Contiguous(string name, string key, params long[] size)
    {
        long[] stride = new long[size.Length];
        long step = 1;
        for (int d = size.Length - 1; d >= 0; d--)
        {
            stride[d] = step;
            step *= size[d];
        }
        return new PickledTensor(name, "FloatStorage", key, step, 0, size, stride);
    }
}
