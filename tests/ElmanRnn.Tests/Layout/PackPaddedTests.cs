using System.Numerics.Tensors;
using ElmanRnn.Layout;
using static ElmanRnn.Tests.Layout.TensorTestData;

namespace ElmanRnn.Tests.Layout;

// Oracles: the hand values of spec §10 (cases 43-45) and PyTorch's test_pack_padded_sequence. Packing only moves
// values, so every numeric comparison is exact.
public class PackPaddedTests
{
    [Fact]
    public void DocsExampleSortsByLengthAndPadsBackToTheOriginal()
    {
        // Spec case 43 (the pack_padded_sequence docstring example).
        var seq = Tensor.Create(new float[] { 1, 2, 0, 3, 0, 0, 4, 5, 6 }, [3, 3]);

        var packed = PackedSequence.PackPadded(seq, [2, 1, 3], batchFirst: true, enforceSorted: false);

        Values(packed.Data).Should().Equal(4, 1, 3, 5, 2, 6);
        Shape(packed.Data).Should().Equal(6);
        packed.BatchSizes.Should().Equal(3, 2, 1);
        packed.SortedIndices.Should().Equal(2, 0, 1);
        packed.UnsortedIndices.Should().Equal(1, 2, 0);

        var (padded, lengths) = PackedSequence.PadPacked(packed, batchFirst: true);
        Values(padded).Should().Equal(1, 2, 0, 3, 0, 0, 4, 5, 6);
        Shape(padded).Should().Equal(3, 3);
        lengths.Should().Equal(2, 1, 3);
    }

    public static TheoryData<int[], bool, bool> TorchTestCases => new()
    {
        // sortedLengths, shuffle, batchFirst: test_pack_padded_sequence's cases crossed with both layouts.
        { [10, 8, 4, 2, 2, 2, 1], false, false },
        { [10, 8, 4, 2, 2, 2, 1], false, true },
        { [11, 10, 8, 6, 4, 3, 1], false, false },
        { [11, 10, 8, 6, 4, 3, 1], false, true },
        { [11, 10, 8, 6, 4, 3, 1], true, false },
        { [11, 10, 8, 6, 4, 3, 1], true, true },
    };

    [Theory]
    [MemberData(nameof(TorchTestCases))]
    public void MatchesPyTorchTestPackPaddedSequence(int[] sortedLengths, bool shuffle, bool batchFirst)
    {
        // Spec case 45. PyTorch's generator: sorted sequence i (1-based) holds at time t the row
        // i·100 + 5t + [1, 2, 3, 4, 5]; padding is 0; the packed data is those rows time step by time step. The
        // shuffled variant permutes the batch columns (PyTorch uses random.shuffle; a fixed permutation here), which
        // makes the permutation itself the expected unsorted_indices. PyTorch's gradient check has no counterpart
        // until Layout gets a backward pass.
        int steps = sortedLengths[0], batch = sortedLengths.Length;
        int[] permutation = shuffle ? [3, 0, 6, 2, 5, 1, 4] : [.. Enumerable.Range(0, batch)];

        var timeMajor = new float[steps * batch * 5]; // (T, B, 5), column k holds sorted sequence permutation[k]
        for (int k = 0; k < batch; k++)
            for (int t = 0; t < sortedLengths[permutation[k]]; t++)
                for (int c = 0; c < 5; c++)
                    timeMajor[(t * batch + k) * 5 + c] = (permutation[k] + 1) * 100 + 5 * t + c + 1;
        int[] lengths = [.. permutation.Select(p => sortedLengths[p])];

        var batchSizes = new List<int>();
        var expectedData = new List<float>();
        for (int t = 0; t < steps; t++)
        {
            batchSizes.Add(sortedLengths.Count(l => l >= t + 1));
            for (int i = 0; i < batchSizes[t]; i++)
                expectedData.AddRange(Enumerable.Range(1, 5).Select(c => (float)((i + 1) * 100 + 5 * t + c)));
        }

        Tensor<float> source = batchFirst
            ? TransposedView(timeMajor, steps, batch, 5)
            : Tensor.Create(timeMajor, [steps, batch, 5]);

        var packed = PackedSequence.PackPadded(source, lengths, batchFirst, enforceSorted: !shuffle);

        Values(packed.Data).Should().Equal(expectedData);
        Shape(packed.Data).Should().Equal(expectedData.Count / 5, 5);
        packed.BatchSizes.Should().Equal(batchSizes);
        if (shuffle)
            packed.UnsortedIndices.Should().Equal(permutation);
        else
            packed.UnsortedIndices.Should().BeNull();

        var (padded, paddedLengths) = PackedSequence.PadPacked(packed, batchFirst);
        Shape(padded).Should().Equal(Shape(source));
        Values(padded).Should().Equal(Values(source));
        paddedLengths.Should().Equal(lengths);
    }

    [Fact]
    public void TiesAreAllowedUnderEnforceSorted()
    {
        // Spec case 44: (3, 3, 4) with lengths [2, 2, 1] packs.
        var packed = PackedSequence.PackPadded(Tensor.Create(RandomValues(36, seed: 1), [3, 3, 4]), [2, 2, 1]);

        packed.BatchSizes.Should().Equal(3, 2);
        Shape(packed.Data).Should().Equal(5, 4);
    }

    [Fact]
    public void EqualLengthsKeepTheirOriginalOrderWhenSorting()
    {
        // A stable descending sort of [2, 3, 2, 3, 1]: the 3s (indices 1, 3), then the 2s (0, 2), then 4.
        // Time-major (3, 5) input whose entry (t, b) is 10·b + t, so each packed value names its source.
        var input = new float[3 * 5];
        for (int t = 0; t < 3; t++)
            for (int b = 0; b < 5; b++)
                input[t * 5 + b] = 10 * b + t;

        var packed = PackedSequence.PackPadded(Tensor.Create(input, [3, 5]), [2, 3, 2, 3, 1], enforceSorted: false);

        packed.SortedIndices.Should().Equal(1, 3, 0, 2, 4);
        packed.UnsortedIndices.Should().Equal(2, 0, 3, 1, 4);
        packed.BatchSizes.Should().Equal(5, 4, 2);
        Values(packed.Data).Should().Equal(10, 30, 0, 20, 40, 11, 31, 1, 21, 12, 32);
    }

    [Fact]
    public void TimeStepsBeyondTheLongestLengthAreDropped()
    {
        // (5, 2) input with lengths [3, 2]: steps 3 and 4 hold only padding and do not appear in the packed data.
        var input = Tensor.Create(new float[] { 1, 2, 3, 4, 5, -1, -1, -1, -1, -1 }, [5, 2]);

        var packed = PackedSequence.PackPadded(input, [3, 2]);

        Values(packed.Data).Should().Equal(1, 2, 3, 4, 5);
        packed.BatchSizes.Should().Equal(2, 2, 1);
        PackedSequence.PadPacked(packed).Padded.Lengths.ToArray().Should().Equal(3, 2);
    }

    [Fact]
    public void TrailingDimensionsTravelWithEachRow()
    {
        // (T=2, B=2, 2, 3): every (t, b) row is a 2×3 block; lengths [2, 1] keep rows (0,0), (0,1), (1,0).
        float[] input = [.. Enumerable.Range(0, 24).Select(i => (float)i)];

        var packed = PackedSequence.PackPadded(Tensor.Create(input, [2, 2, 2, 3]), [2, 1]);

        Shape(packed.Data).Should().Equal(3, 2, 3);
        Values(packed.Data).Should().Equal(input[..18]);
    }

    [Fact]
    public void ReadsANonDenseSlice()
    {
        // A (2, 2) window with row stride 4 over a 3×4 array: the strided view is read in logical order.
        float[] backing = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        var window = Tensor.Create(backing, [2, 2], [4, 1]);
        window.IsDense.Should().BeFalse();

        var packed = PackedSequence.PackPadded(window, [2, 1]);

        Values(packed.Data).Should().Equal(0, 1, 4);
    }

    [Fact]
    public void PacksDoubles()
    {
        var input = Tensor.Create(new double[] { 1.5, 2.5, 3.5, 0 }, [2, 2]);

        var packed = PackedSequence.PackPadded(input, [2, 1]);

        Values(packed.Data).Should().Equal(1.5, 2.5, 3.5);
        packed.BatchSizes.Should().Equal(2, 1);
    }

    [Fact]
    public void ARiseAfterTiesAndADropInTheLengthsUnderEnforceSortedIsRejected()
    {
        // Oracle: spec §5.3 f: non-increasing lengths are required, so [2, 2, 1, 2] fails at its last entry.
        var act = () => PackedSequence.PackPadded(Tensor.Create(RandomValues(8, seed: 3), [2, 4]), [2, 2, 1, 2], enforceSorted: true);

        act.Should().Throw<ArgumentException>()
            .WithMessage("*must be sorted in decreasing order*lengths[3] = 2 > lengths[2] = 1*")
            .Which.ParamName.Should().Be("lengths");
    }

    [Fact]
    public void UnsortedLengthsUnderEnforceSortedAreRejectedWithTheFix()
    {
        // Spec case 44: pack_padded_sequence(randn(3, 3), [1, 3, 2]).
        var act = () => PackedSequence.PackPadded(Tensor.Create(RandomValues(9, seed: 2), [3, 3]), [1, 3, 2]);

        act.Should().Throw<ArgumentException>()
            .WithMessage("*must be sorted in decreasing order*")
            .WithMessage("*`enforceSorted: false`*")
            .WithMessage("*lengths[1] = 3 > lengths[0] = 1*")
            .Which.ParamName.Should().Be("lengths");
    }

    [Fact]
    public void EmptyInputIsRejectedBeforeLengthsAreLookedAt()
    {
        // Spec case 44: randn(0, 0) with [] and randn(0, 1, 10) with nonsense lengths both report the emptiness.
        var empty = () => PackedSequence.PackPadded(Tensor.Create(Array.Empty<float>(), [0, 0]), []);
        var emptyWithBadLengths = () => PackedSequence.PackPadded(
            Tensor.Create(Array.Empty<float>(), [0, 1, 10]), [11, 14, 14, 2], batchFirst: true);

        empty.Should().Throw<ArgumentException>().WithMessage("Cannot pack empty tensors.*");
        emptyWithBadLengths.Should().Throw<ArgumentException>().WithMessage("Cannot pack empty tensors.*");
    }

    [Fact]
    public void NonPositiveLengthIsRejected()
    {
        // Spec case 44: (3, 2, 4) with [3, 0]. Without enforceSorted a zero anywhere is caught too.
        var input = Tensor.Create(RandomValues(24, seed: 3), [3, 2, 4]);

        var sorted = () => PackedSequence.PackPadded(input, [3, 0]);
        var unsorted = () => PackedSequence.PackPadded(input, [0, 3], enforceSorted: false);
        var negative = () => PackedSequence.PackPadded(input, [3, -1]);

        foreach (var act in new[] { sorted, unsorted, negative })
            act.Should().Throw<ArgumentException>()
                .WithMessage("Length of all samples has to be greater than 0*");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void LengthCountDifferentFromBatchSizeIsRejected(bool enforceSorted)
    {
        // Spec case 44: (3, 2, 4) with [3, 2, 1]. PyTorch with enforce_sorted=False reorders the batch by the lengths
        // first, so too few lengths silently drop sequences there; here both modes reject.
        var input = Tensor.Create(RandomValues(24, seed: 4), [3, 2, 4]);

        var tooMany = () => PackedSequence.PackPadded(input, [3, 2, 1], enforceSorted: enforceSorted);
        var tooFew = () => PackedSequence.PackPadded(input, [3], enforceSorted: enforceSorted);

        tooMany.Should().Throw<ArgumentException>()
            .WithMessage("Expected `len(lengths)` to be equal to batch_size, but got 3 (batch_size=2)*");
        tooFew.Should().Throw<ArgumentException>()
            .WithMessage("Expected `len(lengths)` to be equal to batch_size, but got 1 (batch_size=2)*");
    }

    [Fact]
    public void AHugeLengthIsRejectedBeforeAnythingIsAllocatedForIt()
    {
        // issue 11: PackPadded(x[2, 1, 1], [268435456]) allocated 1.07 GB (a batch size per step) before rejecting.
        var input = Tensor.Create(new float[2], [2, 1, 1]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var act = () => PackedSequence.PackPadded(input, [268435456]);
        act.Should().Throw<ArgumentException>().WithMessage("lengths[0] = 268435456 exceeds the padded time dimension*");
        (GC.GetAllocatedBytesForCurrentThread() - before).Should().BeLessThan(1 << 20);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LengthBeyondThePaddedTimeDimensionIsRejected(bool batchFirst)
    {
        // PyTorch silently clamps here and returns batch sizes that claim more rows than its data holds.
        var input = Tensor.Create(RandomValues(8, seed: 5), batchFirst ? [2, 4] : [4, 2]);

        var act = () => PackedSequence.PackPadded(input, [5, 2], batchFirst);

        act.Should().Throw<ArgumentException>()
            .WithMessage("lengths[0] = 5 exceeds the padded time dimension of input (4*")
            .Which.ParamName.Should().Be("lengths");
    }

    [Fact]
    public void InputOfRankOneIsRejected()
    {
        var act = () => PackedSequence.PackPadded(Seq(1, 2, 3), [3]);

        act.Should().Throw<ArgumentException>().WithMessage("Expected input with at least 2 dimensions*[3]*");
    }

    [Fact]
    public void NullInputIsRejected()
    {
        var act = () => PackedSequence.PackPadded<float>(null!, [1]);

        act.Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("input");
    }
}
