using System.Numerics.Tensors;
using ElmanRnn.Layout;
using static ElmanRnn.Tests.Layout.TensorTestData;

namespace ElmanRnn.Tests.Layout;

// Oracles: spec §10 cases 46-47, PyTorch's test_total_length, and hand-built expected tensors. Exact comparisons.
public class PadPackedTests
{
    // The spec's sequences a = [1, 2, 3], b = [4, 5], c = [6], packed in the order b, c, a: original order is kept
    // by the unsorted indices, so every padded result below lists b, c, a.
    private static PackedSequence<float> PackedBca() =>
        PackedSequence.Pack([Seq(4, 5), Seq(6), Seq(1, 2, 3)], enforceSorted: false);

    [Theory]
    [InlineData(-1, false)]
    [InlineData(0, false)]
    [InlineData(2, false)]
    [InlineData(-1, true)]
    [InlineData(0, true)]
    [InlineData(2, true)]
    public void TotalLengthShorterThanTheLongestSequenceIsRejected(int totalLength, bool batchFirst)
    {
        // Spec case 46: k in {-1, 0, max - 1} with max = 3.
        var act = () => PackedSequence.PadPacked(PackedBca(), batchFirst, totalLength: totalLength);

        act.Should().Throw<ArgumentOutOfRangeException>()
            .WithMessage("Expected total_length to be at least the length of the longest sequence in input, but got " +
                         $"total_length={totalLength} and max sequence length being 3.*")
            .Which.ParamName.Should().Be("totalLength");
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, false)]
    [InlineData(8, false)]
    [InlineData(0, true)]
    [InlineData(1, true)]
    [InlineData(8, true)]
    public void TotalLengthAppendsPaddingTimeSteps(int extra, bool batchFirst)
    {
        // Spec case 46 / test_total_length: the result is the unextended padding followed by `extra` padding steps,
        // and the lengths are unchanged.
        int totalLength = 3 + extra;
        var expected = new float[totalLength * 3]; // batch-first (B=3, totalLength): rows b, c, a
        float[][] rows = [[4, 5], [6], [1, 2, 3]];
        for (int b = 0; b < 3; b++)
            rows[b].CopyTo(expected, b * totalLength);
        if (!batchFirst)
            expected = SwapFirstTwoDims(expected, 3, totalLength);

        var (padded, lengths) = PackedSequence.PadPacked(PackedBca(), batchFirst, totalLength: totalLength);

        Shape(padded).Should().Equal(batchFirst ? [3, totalLength] : [totalLength, 3]);
        Values(padded).Should().Equal(expected);
        lengths.Should().Equal(2, 1, 3);
    }

    [Fact]
    public void PaddingValueFillsEveryPaddedPosition()
    {
        // Spec case 47: padding_value = -1, here together with a total length of 4.
        var (padded, _) = PackedSequence.PadPacked(PackedBca(), batchFirst: true, paddingValue: -1f, totalLength: 4);

        Values(padded).Should().Equal(
            4, 5, -1, -1,
            6, -1, -1, -1,
            1, 2, 3, -1);
    }

    [Fact]
    public void TimeMajorIsTheDefaultLayout()
    {
        var (padded, lengths) = PackedSequence.PadPacked(PackedBca());

        Shape(padded).Should().Equal(3, 3);
        Values(padded).Should().Equal(
            4, 6, 1,
            5, 0, 2,
            0, 0, 3);
        lengths.Should().Equal(2, 1, 3);
    }

    [Fact]
    public void PadsAHandBuiltPackedSequenceWithNonDenseData()
    {
        // Rows a0 b0 a1 of width 2, stored as every other row of a (6, 2) array: data shape (3, 2), row stride 4.
        float[] backing = [1, 1, 9, 9, 2, 2, 9, 9, 3, 3, 9, 9];
        var data = Tensor.Create(backing, [3, 2], [4, 1]);
        var packed = new PackedSequence<float>(data, [2, 1]);

        var (padded, lengths) = PackedSequence.PadPacked(packed, batchFirst: true);

        Shape(padded).Should().Equal(2, 2, 2);
        Values(padded).Should().Equal(1, 1, 3, 3, 2, 2, 0, 0);
        lengths.Should().Equal(2, 1);
    }

    [Fact]
    public void ReturnedLengthsAreTheCallersToKeep()
    {
        var packed = PackedBca();

        var (_, lengths) = PackedSequence.PadPacked(packed);
        lengths[0] = 99;

        packed.Lengths.Should().Equal(2, 1, 3);
    }

    [Fact]
    public void PadsDoublesWithNegativeZeroIntact()
    {
        // Filling with -0.0 must keep the sign bit: the padded positions are bitwise -0.0, not +0.0.
        var packed = PackedSequence.Pack([Tensor.Create(new[] { 1.0, 2.0 }, [2]), Tensor.Create(new[] { 3.0 }, [1])]);

        var (padded, _) = PackedSequence.PadPacked(packed, batchFirst: true, paddingValue: -0.0);

        Values(padded).Select(BitConverter.DoubleToInt64Bits).Should()
            .Equal(new[] { 1.0, 2.0, 3.0, -0.0 }.Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void NullSequenceIsRejected()
    {
        var act = () => PackedSequence.PadPacked<float>(null!);

        act.Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("sequence");
    }
}
