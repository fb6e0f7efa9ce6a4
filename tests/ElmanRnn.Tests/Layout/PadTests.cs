using System.Numerics.Tensors;
using ElmanRnn.Layout;
using static ElmanRnn.Tests.Layout.TensorTestData;

namespace ElmanRnn.Tests.Layout;

// Oracles: spec §10 case 48 and PyTorch's test_pad_sequence; for more dimensions, a padded tensor assembled
// element by element in the test. Exact comparisons.
// Not applicable from case 48: pad_sequence(5) ("Expected iterable") and pad_sequence(tensor) splitting a tensor
// along dim 0 are Python duck-typing; the IReadOnlyList<Tensor<T>> parameter rules both out at compile time.
public class PadTests
{
    private static readonly Tensor<float>[] Bac = [Seq(4, 5), Seq(1, 2, 3), Seq(6)];

    [Fact]
    public void BatchFirstStacksSequencesAsRows()
    {
        var padded = PackedSequence.Pad(Bac, batchFirst: true);

        Shape(padded).Should().Equal(3, 3);
        Values(padded).Should().Equal(
            4, 5, 0,
            1, 2, 3,
            6, 0, 0);
    }

    [Fact]
    public void TimeMajorIsTheTransposeOfBatchFirst()
    {
        var padded = PackedSequence.Pad(Bac);

        Shape(padded).Should().Equal(3, 3);
        Values(padded).Should().Equal(
            4, 1, 6,
            5, 2, 0,
            0, 3, 0);
    }

    [Fact]
    public void PaddingValueFillsTheGaps()
    {
        var padded = PackedSequence.Pad(Bac, batchFirst: true, paddingValue: 1f);

        Values(padded).Should().Equal(
            4, 5, 1,
            1, 2, 3,
            6, 1, 1);
    }

    [Fact]
    public void SortedSequencesPadToTheTrianglePyTorchShows()
    {
        var padded = PackedSequence.Pad([Seq(1, 2, 3), Seq(4, 5), Seq(6)], batchFirst: true);

        Values(padded).Should().Equal(
            1, 2, 3,
            4, 5, 0,
            6, 0, 0);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void LeftPaddingEndsEverySequenceAtTheLastStep(bool batchFirst)
    {
        float[] batchFirstValues =
        [
            0, 4, 5,
            1, 2, 3,
            0, 0, 6,
        ];

        var padded = PackedSequence.Pad(Bac, batchFirst, paddingSide: PaddingSide.Left);

        Values(padded).Should().Equal(batchFirst ? batchFirstValues : SwapFirstTwoDims(batchFirstValues, 3, 3));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void TrailingDimensionsArePreserved(int extraDims)
    {
        // test_pad_sequence "more dimensions": lengths 1², 2², ..., 9² in shuffled order, shape (L, 5, 4, ...).
        nint[] trailing = [5, .. Enumerable.Repeat((nint)4, extraDims)];
        int rowSize = (int)trailing.Aggregate((x, y) => x * y);
        int[] lengths = [16, 1, 81, 4, 36, 9, 64, 25, 49];
        var sequences = lengths
            .Select((l, i) => Tensor.Create(RandomValues(l * rowSize, seed: 100 + i), [l, .. trailing]))
            .ToArray();

        var expected = new float[lengths.Length * 81 * rowSize]; // (B, 81, *), zero padded
        for (int b = 0; b < lengths.Length; b++)
            Values(sequences[b]).CopyTo(expected, b * 81 * rowSize);

        var batchFirst = PackedSequence.Pad(sequences, batchFirst: true);
        var timeMajor = PackedSequence.Pad(sequences);

        Shape(batchFirst).Should().Equal([lengths.Length, 81, .. trailing]);
        Values(batchFirst).Should().Equal(expected);
        Shape(timeMajor).Should().Equal([81, lengths.Length, .. trailing]);
        Values(timeMajor).Should().Equal(SwapFirstTwoDims(expected, lengths.Length, 81));
    }

    [Fact]
    public void ZeroLengthSequencesBecomeAllPadding()
    {
        var padded = PackedSequence.Pad(
            [Seq(1, 2), Tensor.Create(Array.Empty<float>(), [0])], batchFirst: true, paddingValue: 7f);

        Values(padded).Should().Equal(1, 2, 7, 7);
    }

    [Fact]
    public void AllSequencesEmptyGiveAnEmptyTimeDimension()
    {
        var padded = PackedSequence.Pad([Tensor.Create(Array.Empty<float>(), [0, 3])]);

        Shape(padded).Should().Equal(0, 1, 3);
    }

    [Fact]
    public void ReadsNonDenseSequences()
    {
        // Column 1 of a 3×2 array, a strided (3) view holding [1, 3, 5].
        var column = Tensor.Create(new float[] { 0, 1, 2, 3, 4, 5 }, 1, [3], [2]);
        column.IsDense.Should().BeFalse();

        var padded = PackedSequence.Pad([Seq(9), column], batchFirst: true);

        Values(padded).Should().Equal(9, 0, 0, 1, 3, 5);
    }

    [Fact]
    public void UndefinedPaddingSideIsRejected()
    {
        // Spec case 48: padding_side='middle'.
        var act = () => PackedSequence.Pad(Bac, paddingSide: (PaddingSide)2);

        act.Should().Throw<ArgumentOutOfRangeException>()
            .WithMessage("Expected padding_side to be one of left or right, but got 2*")
            .Which.ParamName.Should().Be("paddingSide");
    }

    [Fact]
    public void EmptyListIsRejectedBeforeThePaddingSide()
    {
        // Spec case 48: pad_sequence([]). PyTorch checks emptiness first, so a bad side is not reported.
        var act = () => PackedSequence.Pad(Array.Empty<Tensor<float>>(), paddingSide: (PaddingSide)2);

        act.Should().Throw<ArgumentException>().WithMessage("received an empty list of sequences*")
            .Which.ParamName.Should().Be("sequences");
    }

    [Fact]
    public void MismatchedTrailingDimensionsAreRejected()
    {
        // PyTorch broadcasts a (L, 1) sequence into (L, 3) silently; here every trailing shape must match.
        var act = () => PackedSequence.Pad([
            Tensor.Create(new float[6], [2, 3]),
            Tensor.Create(new float[2], [2, 1]),
        ]);

        act.Should().Throw<ArgumentException>()
            .WithMessage("Expected every sequence to have the trailing dimensions [3] of sequences[0]*" +
                         "sequences[1] has shape [2, 1].*");
    }

    [Fact]
    public void NullListOrEntryIsRejected()
    {
        var nullList = () => PackedSequence.Pad<float>(null!);
        var nullEntry = () => PackedSequence.Pad([Seq(1), null!]);

        nullList.Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("sequences");
        nullEntry.Should().Throw<ArgumentNullException>().WithMessage("sequences[1] is null.*");
    }
}
