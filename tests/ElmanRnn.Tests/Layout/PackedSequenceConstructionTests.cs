using System.Numerics.Tensors;
using ElmanRnn.Layout;
using static ElmanRnn.Tests.Layout.TensorTestData;

namespace ElmanRnn.Tests.Layout;

// Oracles: spec §5.1 (fields, invariants, o_t = Σ_{s<t} batch_sizes[s]) with hand-worked layouts.
// Spec cases 52-53 do not apply: the port is CPU-only (batch_sizes cannot live on a GPU) and PackedSequence<T> has
// no dtype/device conversion (.to, .double()).
public class PackedSequenceConstructionTests
{
    // Rows a0 b0 c0 a1 b1 a2 of the sorted sequences a (3), b (2), c (1), one feature each.
    private static Tensor<float> SixRows() => Tensor.Create(new float[] { 1, 4, 6, 2, 5, 3 }, [6, 1]);

    [Fact]
    public void UnsortedIndicesDefaultToTheInverseOfSortedIndices()
    {
        var packed = new PackedSequence<float>(SixRows(), [3, 2, 1], sortedIndices: [2, 0, 1]);

        packed.SortedIndices.Should().Equal(2, 0, 1);
        packed.UnsortedIndices.Should().Equal(1, 2, 0);
    }

    [Fact]
    public void WithoutSortedIndicesBothIndexListsAreNull()
    {
        var packed = new PackedSequence<float>(SixRows(), [3, 2, 1]);

        packed.SortedIndices.Should().BeNull();
        packed.UnsortedIndices.Should().BeNull();
    }

    [Fact]
    public void DerivedSizesFollowTheBatchSizes()
    {
        var packed = new PackedSequence<float>(SixRows(), [3, 2, 1], sortedIndices: [2, 0, 1]);

        packed.BatchSize.Should().Be(3);
        packed.MaxLength.Should().Be(3);
        // Sorted lengths are [3, 2, 1]; original sequence i sits at sorted position unsorted[i] = [1, 2, 0][i].
        packed.Lengths.Should().Equal(2, 1, 3);
    }

    [Fact]
    public void DataIsTheTensorPassedInNotACopy()
    {
        var data = SixRows();

        new PackedSequence<float>(data, [3, 2, 1]).Data.Should().BeSameAs(data);
    }

    [Fact]
    public void StepOffsetsArePrefixSumsOfTheBatchSizes()
    {
        var packed = new PackedSequence<float>(Tensor.Create(new float[9], [9]), [4, 2, 2, 1]);

        packed.StepOffsets.ToArray().Should().Equal(0, 4, 6, 8, 9);
        packed.BatchSizesSpan.ToArray().Should().Equal(4, 2, 2, 1);
        packed.SortedIndicesSpan.IsEmpty.Should().BeTrue();
        packed.UnsortedIndicesSpan.IsEmpty.Should().BeTrue();
    }

    [Fact]
    public void ArraysAreCopiedIn()
    {
        int[] batchSizes = [3, 2, 1];
        int[] sorted = [2, 0, 1];
        int[] unsorted = [1, 2, 0];
        var packed = new PackedSequence<float>(SixRows(), batchSizes, sorted, unsorted);

        batchSizes[0] = 7;
        sorted[0] = 7;
        unsorted[0] = 7;

        packed.BatchSizes.Should().Equal(3, 2, 1);
        packed.SortedIndices.Should().Equal(2, 0, 1);
        packed.UnsortedIndices.Should().Equal(1, 2, 0);
    }

    [Fact]
    public void ExposedListsCannotBeWrittenThrough()
    {
        var packed = new PackedSequence<float>(SixRows(), [3, 2, 1], sortedIndices: [2, 0, 1]);

        IReadOnlyList<int>[] lists =
            [packed.BatchSizes, packed.SortedIndices!, packed.UnsortedIndices!, packed.Lengths];
        foreach (var list in lists)
        {
            list.Should().NotBeAssignableTo<int[]>();
            var write = () => ((IList<int>)list)[0] = 9;
            write.Should().Throw<NotSupportedException>();
        }
    }

    [Fact]
    public void DataKeepsAnyTrailingShape()
    {
        var packed = new PackedSequence<double>(Tensor.Create(new double[3 * 2 * 4], [3, 2, 4]), [2, 1]);

        Shape(packed.Data).Should().Equal(3, 2, 4);
        packed.Lengths.Should().Equal(2, 1);
    }

    [Fact]
    public void ToStringShowsTheLayout()
    {
        var packed = new PackedSequence<float>(SixRows(), [3, 2, 1], sortedIndices: [2, 0, 1]);

        packed.ToString().Should().Be(
            "PackedSequence<Single>(data: [6, 1], batchSizes: [3, 2, 1], sortedIndices: [2, 0, 1], " +
            "unsortedIndices: [1, 2, 0])");
    }

    [Fact]
    public void RejectsInconsistentBatchSizes()
    {
        var empty = () => new PackedSequence<float>(SixRows(), []);
        var zero = () => new PackedSequence<float>(SixRows(), [6, 0]);
        var increasing = () => new PackedSequence<float>(SixRows(), [2, 3, 1]);
        var wrongSum = () => new PackedSequence<float>(SixRows(), [3, 2]);

        empty.Should().Throw<ArgumentException>().WithMessage("batch_sizes can not be empty*");
        zero.Should().Throw<ArgumentException>().WithMessage("*positive, but got batchSizes[1] = 0.*");
        increasing.Should().Throw<ArgumentException>()
            .WithMessage("*non-increasing*batchSizes[1] = 3 > batchSizes[0] = 2.*");
        wrongSum.Should().Throw<ArgumentException>()
            .WithMessage("Expected data to have sum(batchSizes) = 5 rows, but got data of shape [6, 1].*")
            .Which.ParamName.Should().Be("data");
    }

    [Fact]
    public void RejectsIndicesThatAreNotAPermutationOfTheBatch()
    {
        var wrongLength = () => new PackedSequence<float>(SixRows(), [3, 2, 1], sortedIndices: [1, 0]);
        var notPermutation = () => new PackedSequence<float>(SixRows(), [3, 2, 1], sortedIndices: [0, 0, 1]);

        wrongLength.Should().Throw<ArgumentException>()
            .WithMessage("Expected sortedIndices to have batchSizes[0] = 3 entries, but got 2.*");
        notPermutation.Should().Throw<ArgumentException>()
            .WithMessage("Expected sortedIndices to be a permutation of 0 .. 2*");
    }

    [Fact]
    public void RejectsUnsortedIndicesThatDoNotInvertSortedIndices()
    {
        var withoutSorted = () => new PackedSequence<float>(SixRows(), [3, 2, 1], unsortedIndices: [1, 2, 0]);
        var notInverse = () => new PackedSequence<float>(SixRows(), [3, 2, 1], [2, 0, 1], [2, 0, 1]);
        var wrongLength = () => new PackedSequence<float>(SixRows(), [3, 2, 1], [2, 0, 1], [1, 2]);

        withoutSorted.Should().Throw<ArgumentException>()
            .WithMessage("unsortedIndices was given without sortedIndices*");
        notInverse.Should().Throw<ArgumentException>()
            .WithMessage("Expected unsortedIndices to be the inverse of sortedIndices, but sortedIndices[0] = 2 " +
                         "while unsortedIndices[2] = 1.*");
        wrongLength.Should().Throw<ArgumentException>()
            .WithMessage("Expected unsortedIndices to have 3 entries like sortedIndices, but got 2.*");
    }

    [Fact]
    public void RejectsNullData()
    {
        var act = () => new PackedSequence<float>(null!, [1]);

        act.Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("data");
    }
}
