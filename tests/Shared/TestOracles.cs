using System.Numerics;
using ElmanRnn.Kernels;

namespace ElmanRnn.TestShared;

/// <summary>
/// Oracles and fixture readers shared by the test project and the ARM64 check (tests/ElmanRnn.Arm64Check, which
/// runs without xUnit under qemu-aarch64): both compile this file, so they judge the library by the same reference.
/// </summary>
internal static class TestOracles
{
    /// <summary>
    /// C as <see cref="Gemm"/> must leave it, by a naive triple loop: each element's chain
    /// acc = fma(a[i,p], w[j,p], acc) for p = 0..k-1 from its init value (a multiply and an add where the path has no
    /// FMA), the order the kernels promise on every path. <paramref name="c"/> (m rows, ldc apart) is not modified.
    /// </summary>
    public static T[] Gemm<T>(T[] a, int lda, int m, T[] w, int n, int k, T[] c, int ldc, GemmInit init, T[] bias)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] expected = (T[])c.Clone();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T acc = init switch { GemmInit.Zero => T.Zero, GemmInit.Bias => bias[j], _ => c[i * ldc + j] };
                for (int p = 0; p < k; p++)
                    acc = Simd.HasFma ? T.FusedMultiplyAdd(a[i * lda + p], w[j * k + p], acc) : a[i * lda + p] * w[j * k + p] + acc;
                expected[i * ldc + j] = acc;
            }
        return expected;
    }

    /// <summary>
    /// C (m, cols) = A (m, rows) · M (rows, cols), both row-major, as <see cref="Gemm"/> must give it with M packed by
    /// <see cref="PackedMatrix{T}.PackTransposed"/> (W = Mᵀ): <see cref="Gemm{T}"/>'s chain over Mᵀ written out.
    /// </summary>
    public static T[] TimesMatrix<T>(T[] a, int m, T[] matrix, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var transposed = new T[cols * rows];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++)
                transposed[j * rows + r] = matrix[r * cols + j];
        return Gemm(a, rows, m, transposed, cols, rows, new T[m * cols], cols, GemmInit.Zero, []);
    }

    /// <summary>The architecture a libtorch fixture file records in its metadata.</summary>
    public static RnnOptions FixtureOptions(IReadOnlyDictionary<string, string> meta) => new()
    {
        InputSize = int.Parse(meta["input_size"]),
        HiddenSize = int.Parse(meta["hidden_size"]),
        NumLayers = int.Parse(meta["num_layers"]),
        Nonlinearity = meta["nonlinearity"] == "relu" ? Nonlinearity.Relu : Nonlinearity.Tanh,
        Bias = meta["bias"] == "true",
        BatchFirst = meta["batch_first"] == "true",
        Bidirectional = meta["bidirectional"] == "true",
    };
}
