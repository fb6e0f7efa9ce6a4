using System.Numerics.Tensors;
using ElmanRnn.Layout;
using static ElmanRnn.Tests.Layout.TensorTestData;

namespace ElmanRnn.Tests.Layout;

// Oracles: spec §10 cases 40-42 and PyTorch's test_pack_sequence (including its compatibility check against
// pad + pack_padded). Exact comparisons.
public class PackTests
{
    private static readonly Tensor<float> A = Seq(1, 2, 3), B = Seq(4, 5), C = Seq(6);

    [Fact]
    public void SortedSequencesInterleaveTimeStepByTimeStep()
    {
        // Spec case 40.
        var packed = PackedSequence.Pack([A, B, C]);

        Values(packed.Data).Should().Equal(1, 4, 6, 2, 5, 3);
        Shape(packed.Data).Should().Equal(6);
        packed.BatchSizes.Should().Equal(3, 2, 1);
        packed.SortedIndices.Should().BeNull();
        packed.UnsortedIndices.Should().BeNull();
    }

    [Fact]
    public void UnsortedSequencesAreSortedAndThePermutationRecorded()
    {
        // Spec case 41: pack_sequence([b, c, a], enforce_sorted=False).
        var packed = PackedSequence.Pack([B, C, A], enforceSorted: false);

        Values(packed.Data).Should().Equal(1, 4, 6, 2, 5, 3);
        packed.BatchSizes.Should().Equal(3, 2, 1);
        packed.SortedIndices.Should().Equal(2, 0, 1);
        packed.UnsortedIndices.Should().Equal(1, 2, 0);
    }

    [Fact]
    public void UnsortedSequencesUnderEnforceSortedAreRejectedWithTheFix()
    {
        // Spec case 41, second half.
        var act = () => PackedSequence.Pack([B, C, A]);

        act.Should().Throw<ArgumentException>()
            .WithMessage("*must be sorted in decreasing order*")
            .WithMessage("*`enforceSorted: false`*")
            .WithMessage("*sequences[2].Lengths[0] = 3 > sequences[1].Lengths[0] = 1*")
            .Which.ParamName.Should().Be("sequences");
    }

    [Fact]
    public void ARiseAfterTiesAndADropUnderEnforceSortedIsRejected()
    {
        // Oracle: spec §5.7 and §5.3 f: pack_sequence with lengths [2, 2, 1, 2] and enforce_sorted=True raises the
        // sortedness error; ties are allowed, so only the last step (1 then 2) breaks the rule.
        var act = () => PackedSequence.Pack([Seq(1, 2), Seq(3, 4), Seq(5), Seq(6, 7)], enforceSorted: true);

        act.Should().Throw<ArgumentException>()
            .WithMessage("`lengths` array must be sorted in decreasing order when `enforceSorted` is true*")
            .WithMessage("*sequences[3].Lengths[0] = 2 > sequences[2].Lengths[0] = 1*")
            .WithMessage("*You can pass `enforceSorted: false` to PackPadded and/or Pack to sidestep this requirement*")
            .Which.ParamName.Should().Be("sequences");
    }

    [Fact]
    public void AlreadySortedInputWithoutEnforceSortedGetsIdentityIndices()
    {
        // Spec case 42: the indices are the identity, not null.
        var packed = PackedSequence.Pack([A, B, C], enforceSorted: false);

        packed.SortedIndices.Should().Equal(0, 1, 2);
        packed.UnsortedIndices.Should().Equal(0, 1, 2);
    }

    [Fact]
    public void EqualLengthsKeepTheirOriginalOrder()
    {
        var packed = PackedSequence.Pack([Seq(1), Seq(2, 2), Seq(3), Seq(4, 4)], enforceSorted: false);

        packed.SortedIndices.Should().Equal(1, 3, 0, 2);
        Values(packed.Data).Should().Equal(2, 4, 1, 3, 2, 4);
    }

    public static TheoryData<int, bool, bool> CompatibilityCases()
    {
        var cases = new TheoryData<int, bool, bool>();
        foreach (int extraDims in new[] { 0, 1, 2, 3 })
            foreach (bool batchFirst in new[] { false, true })
                foreach (bool shuffled in new[] { false, true })
                    cases.Add(extraDims, batchFirst, shuffled);
        return cases;
    }

    [Theory]
    [MemberData(nameof(CompatibilityCases))]
    public void AgreesWithPadThenPackPadded(int extraDims, bool batchFirst, bool shuffled)
    {
        // test_pack_sequence's _compatibility_test: lengths 9², 8², ..., 1² with shape (L, 5, 4, ...), sorted or
        // shuffled. Pack must equal PackPadded(Pad(...)), and PadPacked(Pack(...)) must equal Pad(...).
        nint[] trailing = [5, .. Enumerable.Repeat((nint)4, extraDims)];
        int rowSize = (int)trailing.Aggregate((x, y) => x * y);
        int[] lengths = shuffled ? [36, 81, 1, 49, 9, 64, 4, 25, 16] : [81, 64, 49, 36, 25, 16, 9, 4, 1];
        var sequences = lengths
            .Select((l, i) => Tensor.Create(RandomValues(l * rowSize, seed: 200 + i), [l, .. trailing]))
            .ToArray();

        foreach (bool enforceSorted in shuffled ? [false] : new[] { false, true })
        {
            var packed = PackedSequence.Pack(sequences, enforceSorted);
            var padded = PackedSequence.Pad(sequences, batchFirst);
            var packPadded = PackedSequence.PackPadded(padded, lengths, batchFirst, enforceSorted);

            Values(packed.Data).Should().Equal(Values(packPadded.Data));
            Shape(packed.Data).Should().Equal(Shape(packPadded.Data));
            packed.BatchSizes.Should().Equal(packPadded.BatchSizes);
            packed.SortedIndices.Should().BeEquivalentTo(packPadded.SortedIndices, o => o.WithStrictOrdering());
            packed.UnsortedIndices.Should().BeEquivalentTo(packPadded.UnsortedIndices, o => o.WithStrictOrdering());

            var (unpacked, _) = PackedSequence.PadPacked(packed, batchFirst);
            Shape(unpacked).Should().Equal(Shape(padded));
            Values(unpacked).Should().Equal(Values(padded));
        }
    }

    [Fact]
    public void ReadsNonDenseSequences()
    {
        // Column 0 of a 2×2 array, a strided (2) view holding [1, 3].
        var column = Tensor.Create(new float[] { 1, 2, 3, 4 }, [2], [2]);

        var packed = PackedSequence.Pack([column, Seq(7)]);

        Values(packed.Data).Should().Equal(1, 7, 3);
    }

    [Fact]
    public void PacksDoubles()
    {
        var packed = PackedSequence.Pack([Tensor.Create(new[] { 0.25, 0.5 }, [2]), Tensor.Create(new[] { 1.0 }, [1])]);

        Values(packed.Data).Should().Equal(0.25, 1.0, 0.5);
    }

    [Fact]
    public void EmptyListIsRejected()
    {
        var act = () => PackedSequence.Pack(Array.Empty<Tensor<float>>());

        act.Should().Throw<ArgumentException>().WithMessage("received an empty list of sequences*");
    }

    [Fact]
    public void ZeroLengthSequenceIsRejected()
    {
        var act = () => PackedSequence.Pack([A, Tensor.Create(Array.Empty<float>(), [0])]);

        act.Should().Throw<ArgumentException>()
            .WithMessage("Length of all samples has to be greater than 0*sequences[1].Lengths[0] = 0.*");
    }

    [Fact]
    public void OnlyEmptySequencesCannotBePacked()
    {
        var noSteps = () => PackedSequence.Pack([Tensor.Create(Array.Empty<float>(), [0])]);
        var noFeatures = () => PackedSequence.Pack([Tensor.Create(Array.Empty<float>(), [2, 0])]);

        noSteps.Should().Throw<ArgumentException>().WithMessage("Cannot pack empty tensors.*");
        noFeatures.Should().Throw<ArgumentException>().WithMessage("Cannot pack empty tensors.*");
    }

    [Fact]
    public void MismatchedTrailingDimensionsAreRejected()
    {
        var act = () => PackedSequence.Pack([Tensor.Create(new float[4], [2, 2]), Tensor.Create(new float[3], [1, 3])]);

        act.Should().Throw<ArgumentException>().WithMessage("Expected every sequence to have the trailing dimensions*");
    }
}
