using ElmanRnn.Kernels;

namespace ElmanRnn.Tests.Kernels;

/// <summary>
/// Oracle: dst[c·rows + r] = src[r·ld + c] element by element; a transposition moves values, so equality is exact on
/// every path (the AVX register blocks where AVX is there, element by element elsewhere and at the edges).
/// </summary>
public class TransposeTests
{
    public static IEnumerable<object[]> Shapes()
    {
        int[] sizes = [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 40];
        foreach (int rows in sizes)
            foreach (int cols in sizes)
                yield return [rows, cols];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesElementByElementTransposition(int rows, int cols)
    {
        AssertExact<float>(rows, cols, ld: cols + 3);
        AssertExact<double>(rows, cols, ld: cols);
    }

    [Fact]
    public void LeavesTheDestinationPastItsSizeAlone()
    {
        float[] src = Enumerable.Range(0, 9 * 11).Select(i => (float)i).ToArray();
        float[] dst = Enumerable.Repeat(-1f, 11 * 9 + 5).ToArray();
        Transpose.Run<float>(src, 11, 9, 11, dst);
        dst.AsSpan(11 * 9).ToArray().Should().OnlyContain(v => v == -1f);
    }

    [Fact]
    public void RejectsOperandsThatDoNotFit()
    {
        Action shortSource = () => Transpose.Run<float>(new float[10], 4, 3, 4, new float[12]);
        shortSource.Should().Throw<InvalidOperationException>().WithMessage("*do not fit*");
        Action shortDestination = () => Transpose.Run<float>(new float[12], 4, 3, 4, new float[11]);
        shortDestination.Should().Throw<InvalidOperationException>().WithMessage("*do not fit*");
    }

    private static void AssertExact<T>(int rows, int cols, int ld) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var random = new Random(rows * 100 + cols);
        T[] src = TestTensors.Random(random, (rows - 1) * ld + cols).Select(T.CreateChecked).ToArray();
        var expected = new T[cols * rows];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                expected[c * rows + r] = src[r * ld + c];
        var dst = new T[cols * rows];
        Transpose.Run<T>(src, ld, rows, cols, dst);
        dst.Should().Equal(expected, $"rows={rows} cols={cols} ld={ld} {typeof(T).Name}");
    }
}
