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

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SumsColumnsInTheDocumentedOrder(int rows, int cols)
    {
        AssertColumnSums<float>(rows, cols, ld: cols + 5);
        AssertColumnSums<double>(rows, cols, ld: cols);
    }

    [Fact]
    public void ColumnSumsOfZeroRowsAreZero()
    {
        float[] sums = [7f, 7f, 7f];
        Transpose.Run<float>([], 3, 0, 3, [], sums);
        sums.Should().Equal(0f, 0f, 0f);
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

    // Oracle for the sums: the order Transpose documents, written out element by element — per band of 8 rows
    // ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)), bands added in order from zero, then the rows below one by
    // one — so equality is exact; and, as a check that this order is a sum at all, within 1e-6 (float) / 1e-14
    // (double) of the column's sum in decimal arithmetic, relative to the sum of magnitudes.
    private static void AssertColumnSums<T>(int rows, int cols, int ld) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var random = new Random(rows * 31 + cols);
        T[] src = TestTensors.Random(random, (rows - 1) * ld + cols).Select(T.CreateChecked).ToArray();
        var expected = new T[cols];
        for (int c = 0; c < cols; c++)
        {
            T X(int r) => src[r * ld + c];
            T acc = T.Zero;
            int r = 0;
            for (; r + 8 <= rows; r += 8)
                acc += ((X(r) + X(r + 1)) + (X(r + 2) + X(r + 3))) + ((X(r + 4) + X(r + 5)) + (X(r + 6) + X(r + 7)));
            for (; r < rows; r++)
                acc += X(r);
            expected[c] = acc;
        }
        var sums = Enumerable.Repeat(T.CreateChecked(99), cols).ToArray();
        Transpose.Run<T>(src, ld, rows, cols, new T[cols * rows], sums);
        sums.Should().Equal(expected, $"rows={rows} cols={cols} {typeof(T).Name}");

        double bound = typeof(T) == typeof(float) ? 1e-6 : 1e-14;
        for (int c = 0; c < cols; c++)
        {
            decimal exact = 0, magnitude = 0;
            for (int r = 0; r < rows; r++)
            {
                exact += decimal.CreateChecked(src[r * ld + c]);
                magnitude += Math.Abs(decimal.CreateChecked(src[r * ld + c]));
            }
            Math.Abs(double.CreateChecked(sums[c]) - (double)exact).Should().BeLessThanOrEqualTo(bound * (double)magnitude);
        }
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
