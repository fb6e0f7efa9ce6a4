using System.Numerics.Tensors;
using ElmanRnn.Layout;
using static ElmanRnn.Tests.Layout.TensorTestData;

namespace ElmanRnn.Tests.Layout;

// Oracles: spec §10 cases 49-50 and PyTorch's test_unpad_sequence / test_unpack_sequence: a round trip returns the
// input sequences bit for bit, in their original order.
public class UnpackUnpadTests
{
    private static readonly Tensor<float>[] Abc = [Seq(1, 2, 3), Seq(4, 5), Seq(6)];

    private static void ShouldEqualSequences(Tensor<float>[] actual, Tensor<float>[] expected)
    {
        actual.Should().HaveSameCount(expected);
        for (int i = 0; i < expected.Length; i++)
        {
            Shape(actual[i]).Should().Equal(Shape(expected[i]), $"sequence {i} keeps its shape");
            Values(actual[i]).Should().Equal(Values(expected[i]), $"sequence {i} keeps its values");
        }
    }

    /// <summary>test_unpad_sequence / test_unpack_sequence's "more dimensions" sequences: lengths 1², ..., 9² in
    /// shuffled order, shape (L, 5, 4, ...).</summary>
    private static Tensor<float>[] SquareLengthSequences(int extraDims, int seed)
    {
        nint[] trailing = [5, .. Enumerable.Repeat((nint)4, extraDims)];
        int rowSize = (int)trailing.Aggregate((x, y) => x * y);
        int[] lengths = [25, 1, 64, 9, 81, 4, 49, 16, 36];
        return [.. lengths.Select((l, i) => Tensor.Create(RandomValues(l * rowSize, seed + i), [l, .. trailing]))];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UnpadInvertsPad(bool batchFirst)
    {
        // Spec case 49.
        var padded = PackedSequence.Pad(Abc, batchFirst);

        ShouldEqualSequences(PackedSequence.Unpad(padded, [3, 2, 1], batchFirst), Abc);
    }

    [Fact]
    public void UnpadLeavesTheCallersTensorAsItWas()
    {
        // Spec case 49 says PyTorch's unpad_sequence(batch_first=False) transposes its argument in place; this port
        // deliberately does not.
        var padded = PackedSequence.Pad(Abc);
        float[] before = Values(padded);

        PackedSequence.Unpad(padded, [3, 2, 1]);

        Shape(padded).Should().Equal(3, 3);
        Values(padded).Should().Equal(before);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, false)]
    [InlineData(0, true)]
    [InlineData(3, true)]
    public void UnpadInvertsPadWithTrailingDimensions(int extraDims, bool batchFirst)
    {
        var sequences = SquareLengthSequences(extraDims, seed: 300);
        int[] lengths = [.. sequences.Select(s => (int)s.Lengths[0])];

        var unpadded = PackedSequence.Unpad(PackedSequence.Pad(sequences, batchFirst), lengths, batchFirst);

        ShouldEqualSequences(unpadded, sequences);
    }

    [Fact]
    public void UnpadReadsANonDenseTensor()
    {
        // The batch-first view of a time-major (T=3, B=2) array: sequence b is column b.
        var view = TransposedView(new float[] { 1, 4, 2, 5, 3, 6 }, steps: 3, batch: 2);

        var unpadded = PackedSequence.Unpad(view, [3, 1], batchFirst: true);

        ShouldEqualSequences(unpadded, [Seq(1, 2, 3), Seq(4)]);
    }

    [Fact]
    public void UnpadAcceptsZeroLengths()
    {
        var unpadded = PackedSequence.Unpad(Tensor.Create(new float[] { 1, 2, 3, 4 }, [2, 2]), [0, 2]);

        Shape(unpadded[0]).Should().Equal(0);
        Values(unpadded[1]).Should().Equal(2, 4);
    }

    [Fact]
    public void UnpackReturnsSequencesInTheirOriginalOrder()
    {
        // Spec case 50 (one-dimensional part of test_unpack_sequence).
        var packed = PackedSequence.Pack(Abc, enforceSorted: false);

        ShouldEqualSequences(PackedSequence.Unpack(packed), Abc);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void UnpackInvertsPackForShuffledLengthsWithTrailingDimensions(int extraDims)
    {
        // Spec case 50: shuffled lengths 1², ..., 9²; extraDims = 2 is the spec's 5×4×4.
        var sequences = SquareLengthSequences(extraDims, seed: 400);

        var unpacked = PackedSequence.Unpack(PackedSequence.Pack(sequences, enforceSorted: false));

        ShouldEqualSequences(unpacked, sequences);
    }

    [Fact]
    public void UnpackOfSortedPackHasNoPermutationToUndo()
    {
        var unpacked = PackedSequence.Unpack(PackedSequence.Pack(Abc));

        ShouldEqualSequences(unpacked, Abc);
    }

    [Fact]
    public void UnpadRejectsLengthsThatDoNotFit()
    {
        var padded = PackedSequence.Pad(Abc); // (3, 3)

        var tooFew = () => PackedSequence.Unpad(padded, [3, 2]);
        var tooLong = () => PackedSequence.Unpad(padded, [4, 2, 1]);
        var negative = () => PackedSequence.Unpad(padded, [3, -1, 1]);

        tooFew.Should().Throw<ArgumentException>()
            .WithMessage("Expected `len(lengths)` to be equal to batch_size, but got 2 (batch_size=3)*");
        tooLong.Should().Throw<ArgumentException>()
            .WithMessage("Expected every length to be in 0 .. 3*lengths[0] = 4.*");
        negative.Should().Throw<ArgumentException>()
            .WithMessage("Expected every length to be in 0 .. 3*lengths[1] = -1.*");
    }

    [Fact]
    public void UnpadRejectsRankOneAndNull()
    {
        var rankOne = () => PackedSequence.Unpad(Seq(1, 2), [2]);
        var nullTensor = () => PackedSequence.Unpad<float>(null!, [1]);

        rankOne.Should().Throw<ArgumentException>().WithMessage("Expected padded with at least 2 dimensions*");
        nullTensor.Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("padded");
    }

    [Fact]
    public void UnpackRejectsNull()
    {
        var act = () => PackedSequence.Unpack<float>(null!);

        act.Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("sequence");
    }
}
