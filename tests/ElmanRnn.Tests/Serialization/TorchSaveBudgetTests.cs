using ElmanRnn.Serialization;
using static ElmanRnn.Tests.Serialization.SafeTensorsFiles;
using static ElmanRnn.Tests.Serialization.TorchFiles;

namespace ElmanRnn.Tests.Serialization;

/// <summary>
/// Files of a few kilobytes that would make a naive reader build gigabytes: memo references that a flattened
/// state dict expands, one storage materialised under thousands of names, a deflate bomb. Each is refused with
/// <see cref="InvalidDataException"/> naming the limit, and the refusal itself allocates little.
/// </summary>
public class TorchSaveBudgetTests
{
    // Far below what the naive reader allocated (gigabytes) and far above what reading the file needs.
    private const long AllocationBound = 64L << 20;

    /// <summary>
    /// A dict of <paramref name="levels"/> levels, each holding the level below under "a" and, through the memo,
    /// again under "b"; the innermost dict is <paramref name="leaf"/>. The pickle grows linearly, the flattened
    /// state dict as 2^levels.
    /// </summary>
    private static PickleBuilder Dag(PickleBuilder p, int levels, Action<PickleBuilder> leaf)
    {
        if (levels == 0)
        {
            leaf(p);
            return p;
        }
        p.EmptyDict().Mark().ShortBinUnicode("a");
        Dag(p, levels - 1, leaf).BinPut((byte)levels).ShortBinUnicode("b").BinGet((byte)levels);
        return p.SetItems();
    }

    private static void ShouldBeRefusedCheaply(Action read, string message)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        read.Should().Throw<InvalidDataException>().WithMessage(message);
        (GC.GetAllocatedBytesForCurrentThread() - before).Should().BeLessThan(AllocationBound);
    }

    // Oracle: 2^31 entries after flattening, over TorchSave.MaxFlattenedEntries; the naive reader never finished.
    [Fact]
    public void ADictDagOf31LevelsIsRefusedAtTheFlattenedEntryLimit()
    {
        byte[] file = TorchArchive("archive", Dag(new PickleBuilder().Proto(2), 31, p => p.EmptyDict()).Stop().ToArray(), []);
        file.Length.Should().BeLessThan(2000, "the point is a tiny file");

        ShouldBeRefusedCheaply(() => TorchSave.Read<float>(new MemoryStream(file)),
            $"*more than {TorchSave.MaxFlattenedEntries} dict entries once nested dicts are flattened*");
    }

    // Oracle: 2^20 one-float tensors after flattening, over TorchSave.MaxFlattenedEntries; the naive reader
    // allocated 2.3 GB and died in RnnCheckpoint.InferOptions.
    [Fact]
    public void ADictDagOf20LevelsOverOneTensorIsRefusedByRnnCheckpoint()
    {
        byte[] pickle = Dag(new PickleBuilder().Proto(2), 20,
            p => p.EmptyDict().ShortBinUnicode("weight_ih_l0").Tensor(Contiguous("", "0", 1)).SetItem()).Stop().ToArray();
        byte[] file = TorchArchive("archive", pickle, [("0", F32(1))]);
        string path = Path.Combine(Path.GetTempPath(), $"elman-dag-{Guid.NewGuid():N}.pt");
        File.WriteAllBytes(path, file);
        try
        {
            ShouldBeRefusedCheaply(() => RnnCheckpoint.LoadLayer<float>(path),
                $"*more than {TorchSave.MaxFlattenedEntries} dict entries*");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
