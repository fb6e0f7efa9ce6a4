using System.IO.Compression;
using ElmanRnn.Serialization;
using ElmanRnn.Tests.Cli;
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

    // Oracle: as for TorchSave, the flattened-entry limit; `elman-rnn run` reports it and fails instead of hanging.
    [Fact]
    public void ElmanRnnRunRefusesADictDag()
    {
        string directory = Directory.CreateTempSubdirectory("elmanrnn-dag-").FullName;
        try
        {
            string weights = Path.Combine(directory, "dag.pt"), input = Path.Combine(directory, "x.npy");
            File.WriteAllBytes(weights, TorchArchive("archive", Dag(new PickleBuilder().Proto(2), 31, p => p.EmptyDict()).Stop().ToArray(), []));
            File.WriteAllBytes(input, NpyFiles.Build(1, NpyFiles.Header("<f4", false, "(1, 1, 1)"), new byte[sizeof(float)]));

            CliResult result = CliRunner.Invoke("run", "--weights", weights, "--input", input, "--output-dir", Path.Combine(directory, "out"));

            result.ExitCode.Should().NotBe(0);
            result.Error.Should().Contain($"more than {TorchSave.MaxFlattenedEntries} dict entries");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>A dict naming the tensor <paramref name="tensor"/> <paramref name="names"/> times through the memo.</summary>
    private static byte[] UnderManyNames(PickledTensor tensor, int names)
    {
        var p = new PickleBuilder().Proto(2).EmptyDict().Mark().BinUnicode("k0").Tensor(tensor).BinPut(0);
        for (int i = 1; i < names; i++)
            p.BinUnicode($"k{i}").BinGet(0);
        return p.SetItems().Stop().ToArray();
    }

    // Oracle: 10 000 x 8192 elements materialised from one 8192-element storage exceeds
    // 4 x 8192 + 2^20 (TorchSave's materialisation limit); the naive reader allocated 1.27 GB.
    [Fact]
    public void OneStorageUnderTenThousandNamesIsRefusedAtTheMaterialisationLimit()
    {
        byte[] file = TorchArchive("archive", UnderManyNames(Contiguous("", "0", 8192), 10_000), [("0", new byte[8192 * sizeof(float)])]);

        ShouldBeRefusedCheaply(() => TorchSave.Read<float>(new MemoryStream(file)),
            "*10000 tensors hold 81920000 elements in total, but their 1 storages hold only 8192*at most 4 x the storage elements + 1048576 (1081344)*");
    }

    // Oracle: the same two storage elements under every name (torch's x[::2][:2] of a flat buffer), and a
    // materialised total within the allowance. Overlap marks were once allocated per tensor over the whole
    // storage: 20 000 x 128 KB here.
    [Fact]
    public void ManySmallStridedViewsOfALargeStorageLoadCheaply()
    {
        const int storageLength = 1 << 20;
        byte[] storage = new byte[storageLength * sizeof(float)];
        BitConverter.TryWriteBytes(storage.AsSpan(2 * sizeof(float)), 5f).Should().BeTrue();
        byte[] pickle = UnderManyNames(new PickledTensor("", "FloatStorage", "0", storageLength, 0, [2], [2]), 20_000);
        byte[] file = TorchArchive("archive", pickle, [("0", storage)]);
        long before = GC.GetAllocatedBytesForCurrentThread();

        IReadOnlyDictionary<string, System.Numerics.Tensors.Tensor<float>> read = TorchSave.Read<float>(new MemoryStream(file));

        (GC.GetAllocatedBytesForCurrentThread() - before).Should().BeLessThan(AllocationBound);
        read.Should().HaveCount(20_000);
        read["k19999"].ToArray().Should().Equal(0f, 5f);
    }

    // Oracle: a 128 MiB record deflated into ~130 KB declares about 1000 x its compressed size, over
    // TorchSave.MaxInflationRatio and past its allowance; the naive reader ran out of memory inflating it.
    [Fact]
    public void ADeflateBombStorageIsRefusedBeforeInflating()
    {
        const int elements = 32 << 20;
        byte[] file = Zip([("archive/data.pkl", StateDictPickle(Contiguous("w", "0", elements))), ("archive/data/0", new byte[elements * sizeof(float)])],
            CompressionLevel.Optimal);
        file.Length.Should().BeLessThan(1 << 20, "the point is a small file");

        ShouldBeRefusedCheaply(() => TorchSave.Read<float>(new MemoryStream(file)),
            $"*record 'archive/data/0' declares 134217728 bytes compressed into *; records over {TorchSave.InflationAllowance} bytes may inflate at most {TorchSave.MaxInflationRatio} x*");
    }

    // Oracle: the allowance of TorchSave's inflation rule; a re-zipped file's zero-filled buffer loads.
    [Fact]
    public void ADeflatedZeroStorageWithinTheAllowanceLoads()
    {
        const int elements = 1 << 20;
        byte[] file = Zip([("archive/data.pkl", StateDictPickle(Contiguous("w", "0", elements))), ("archive/data/0", new byte[elements * sizeof(float)])],
            CompressionLevel.Optimal);

        TorchSave.Read<float>(new MemoryStream(file))["w"].ToArray().Should().HaveCount(elements).And.OnlyContain(x => x == 0f);
    }
}
