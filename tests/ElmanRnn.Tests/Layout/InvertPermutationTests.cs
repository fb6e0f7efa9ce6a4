using ElmanRnn.Layout;

namespace ElmanRnn.Tests.Layout;

// Oracles: spec §10 case 51 and the definition q[p[i]] = i.
public class InvertPermutationTests
{
    [Fact]
    public void InvertsTheSpecExample()
    {
        PackedSequence.InvertPermutation([2, 0, 1]).Should().Equal(1, 2, 0);
    }

    [Fact]
    public void NullInvertsToNull()
    {
        PackedSequence.InvertPermutation(null).Should().BeNull();
    }

    [Fact]
    public void ComposingWithTheInverseGivesTheIdentity()
    {
        int[] permutation = [.. Enumerable.Range(0, 50).OrderBy(i => (i * 37) % 50)];

        int[] inverse = PackedSequence.InvertPermutation(permutation)!;

        for (int i = 0; i < permutation.Length; i++)
        {
            inverse[permutation[i]].Should().Be(i);
            permutation[inverse[i]].Should().Be(i);
        }
    }

    [Fact]
    public void EmptyPermutationInvertsToEmpty()
    {
        PackedSequence.InvertPermutation(ReadOnlySpan<int>.Empty).Should().BeEmpty();
    }

    [Fact]
    public void RejectsOutOfRangeAndRepeatedValues()
    {
        var outOfRange = () => PackedSequence.InvertPermutation([0, 3, 1]);
        var repeated = () => PackedSequence.InvertPermutation([1, 0, 1]);

        outOfRange.Should().Throw<ArgumentException>()
            .WithMessage("Expected permutation to be a permutation of 0 .. 2, but permutation[1] = 3 is out of*");
        repeated.Should().Throw<ArgumentException>()
            .WithMessage("Expected permutation to be a permutation of 0 .. 2, but the value 1 appears twice*");
    }
}
