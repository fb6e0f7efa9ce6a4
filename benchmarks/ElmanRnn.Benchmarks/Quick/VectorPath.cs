using ElmanRnn.Kernels;

namespace ElmanRnn.Benchmarks.Quick;

/// <summary>
/// The SIMD path the library's kernels take in this process (<see cref="Simd.Path"/>, <see cref="Simd.HasFma"/>),
/// named as docs/performance.md names it. Results differ per path, and one machine can show either (AVX-512 or, with
/// <c>DOTNET_EnableAVX512=0</c>, AVX2), so the docs keep one section and one chart per path.
/// </summary>
/// <param name="Name">"AVX-512", "AVX2", "128-bit" or "scalar", with " without FMA" when multiply and add are
/// separate.</param>
/// <param name="Slug">The same for file names: avx512, avx2, 128bit, scalar, with -nofma.</param>
/// <param name="Bits">Vector width; for the scalar path 0.</param>
/// <param name="Fused">Whether the kernels' multiply-add is one fused instruction.</param>
internal sealed record VectorPath(string Name, string Slug, int Bits, bool Fused)
{
    public static VectorPath Current { get; } = Create(Simd.Path, Simd.HasFma);

    /// <summary>"AVX-512 path (512-bit vectors, fused multiply-add)".</summary>
    public string Describe() =>
        $"{Name} path ({(Bits > 0 ? $"{Bits}-bit vectors" : "no vectors")}, " +
        $"{(Fused ? "fused multiply-add" : "separate multiply and add")})";

    private static VectorPath Create(SimdPath path, bool fused)
    {
        var (name, slug, bits) = path switch
        {
            SimdPath.Vector512 => ("AVX-512", "avx512", 512),
            SimdPath.Vector256 => ("AVX2", "avx2", 256),
            SimdPath.Vector128 => ("128-bit", "128bit", 128),
            _ => ("scalar", "scalar", 0),
        };
        return fused ? new(name, slug, bits, true) : new(name + " without FMA", slug + "-nofma", bits, false);
    }
}
