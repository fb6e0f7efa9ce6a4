using System.Numerics;
using ElmanRnn.Kernels;
using ElmanRnn.TestShared;

namespace ElmanRnn.Tests.Kernels;

/// <summary>
/// Oracle: a naive triple loop that runs each element's chain acc = fma(a[i,p], w[j,p], acc) from its init value —
/// the order the kernels promise — so results must match bit for bit on every SIMD path (run under
/// DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0 and DOTNET_EnableHWIntrinsic=0 by .ci/run).
/// </summary>
public class GemmTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // Every remainder of the 6- and 8-row plans, with and without a full tile before it (4-row tiles, the 6-row
        // plan giving a tile back for 2 or 3 leftover rows, single rows).
        int[] rows = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 23, 24, 25, 32, 33, 64, 70];
        int[] cols = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 70];
        int[] ks = [1, 3, 16, 17, 70];
        foreach (int m in rows)
            foreach (int n in cols)
                yield return [m, n, ks[(m + n) % ks.Length]];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesFmaChainBitForBitAroundTileEdges_Float(int m, int n, int k)
    {
        foreach (GemmInit init in Enum.GetValues<GemmInit>())
            AssertExact<float>(m, n, k, init, lda: k + 3, ldc: n + 5);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesFmaChainBitForBitAroundTileEdges_Double(int m, int n, int k)
    {
        foreach (GemmInit init in Enum.GetValues<GemmInit>())
            AssertExact<double>(m, n, k, init, lda: k, ldc: n);
    }

    [Theory]
    [InlineData(3, 1)]
    [InlineData(5, 15)]
    [InlineData(7, 16)]
    [InlineData(20, 33)]
    [InlineData(70, 64)]
    public void TransposedPackingMatchesPackingTheTranspose(int rows, int cols)
    {
        // C = A·M with M packed by PackTransposed (the backward's X and H_prev): oracle, the FMA chain over Mᵀ written
        // out row-major; bit for bit. Packed into storage left over from a larger matrix first, so stale panel
        // contents would show past N.
        AssertTransposedPacking<float>(rows, cols);
        AssertTransposedPacking<double>(rows, cols);
    }

    [Fact]
    public void RowResultDoesNotDependOnHowManyRowsShareTheCall()
    {
        // Determinism contract: a sequence alone and inside a batch gives identical bits.
        var random = new Random(7);
        int m = 21, n = 45, k = 37;
        float[] a = Floats(random, m * k), w = Floats(random, n * k), c0 = Floats(random, m * n);
        var packed = PackedMatrix<float>.Pack(w, n, k);
        float[] all = (float[])c0.Clone();
        Gemm.Run<float>(a, k, m, packed, all, n, GemmInit.Accumulate, default, Activation.Tanh);
        for (int i = 0; i < m; i++)
        {
            float[] one = c0.AsSpan(i * n, n).ToArray();
            Gemm.Run<float>(a.AsSpan(i * k, k), k, 1, packed, one, n, GemmInit.Accumulate, default, Activation.Tanh);
            one.Should().Equal(all.AsSpan(i * n, n).ToArray());
        }
    }

    [Fact]
    public void WritesNothingOutsideItsRowsAndColumns()
    {
        var random = new Random(3);
        int m = 9, n = 17, k = 5, ldc = 40;
        float[] a = Floats(random, m * k), w = Floats(random, n * k);
        float[] c = Enumerable.Repeat(123f, m * ldc).ToArray();
        Gemm.Run<float>(a, k, m, PackedMatrix<float>.Pack(w, n, k), c, ldc, GemmInit.Zero, default, Activation.Identity);
        for (int i = 0; i < m; i++)
            c.AsSpan(i * ldc + n, ldc - n).ToArray().Should().OnlyContain(v => v == 123f);
    }

    [Theory]
    [InlineData("Tanh")]
    [InlineData("Relu")]
    public void AppliesActivationToEveryElement(string name)
    {
        var activation = Enum.Parse<Activation>(name);
        // Oracle: Math.Tanh / Math.Max on the identity result; 1e-15 relative (vectorised tanh is not libm's).
        var random = new Random(11);
        int m = 10, n = 37, k = 13;
        double[] a = Doubles(random, m * k), w = Doubles(random, n * k), bias = Doubles(random, n);
        var packed = PackedMatrix<double>.Pack(w, n, k);
        double[] linear = new double[m * n], activated = new double[m * n];
        Gemm.Run<double>(a, k, m, packed, linear, n, GemmInit.Bias, bias, Activation.Identity);
        Gemm.Run<double>(a, k, m, packed, activated, n, GemmInit.Bias, bias, activation);
        for (int i = 0; i < linear.Length; i++)
        {
            double expected = activation == Activation.Tanh ? Math.Tanh(linear[i]) : Math.Max(0, linear[i]);
            activated[i].Should().BeApproximately(expected, 1e-15);
        }
    }

    [Fact]
    public void RejectsOperandsThatDoNotFit()
    {
        var packed = PackedMatrix<float>.Pack(new float[6], 2, 3);
        Action tooShort = () => Gemm.Run<float>(new float[5], 3, 2, packed, new float[4], 2, GemmInit.Zero, default, Activation.Identity);
        tooShort.Should().Throw<InvalidOperationException>().WithMessage("*do not fit*");
    }

    private static void AssertExact<T>(int m, int n, int k, GemmInit init, int lda, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(m * 1000 + n * 10 + k);
        T[] a = Values<T>(random, Math.Max(0, (m - 1) * lda + k));
        T[] w = Values<T>(random, n * k);
        T[] bias = Values<T>(random, n);
        T[] c = Values<T>(random, Math.Max(0, (m - 1) * ldc + n));
        T[] expected = TestOracles.Gemm(a, lda, m, w, n, k, c, ldc, init, bias);

        Gemm.Run<T>(a, lda, m, PackedMatrix<T>.Pack(w, n, k), c, ldc, init, bias, Activation.Identity);
        c.Should().Equal(expected, $"m={m} n={n} k={k} init={init} path={Simd.Path}");
    }

    private static void AssertTransposedPacking<T>(int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(rows * 100 + cols);
        int m = 7;
        T[] matrix = Values<T>(random, rows * cols), a = Values<T>(random, m * rows), c = new T[m * cols];
        T[] expected = TestOracles.TimesMatrix(a, m, matrix, rows, cols);

        var stale = PackedMatrix<T>.PackTransposed(Values<T>(random, (rows + 5) * (cols + 40)), rows + 5, cols + 40);
        var packed = PackedMatrix<T>.PackTransposed(matrix, rows, cols, stale);
        Gemm.Run<T>(a, rows, m, packed, c, cols, GemmInit.Zero, default, Activation.Identity);
        c.Should().Equal(expected, $"rows={rows} cols={cols} path={Simd.Path}");
    }

    private static T[] Values<T>(Random random, int count) where T : unmanaged, IFloatingPointIeee754<T> =>
        TestTensors.Random(random, count).Select(T.CreateChecked).ToArray();

    private static float[] Floats(Random random, int count) => Values<float>(random, count);

    private static double[] Doubles(Random random, int count) => Values<double>(random, count);
}
