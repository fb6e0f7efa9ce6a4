using BenchmarkDotNet.Attributes;
using ElmanRnn.Kernels;

namespace ElmanRnn.Benchmarks.Suites;

/// <summary>
/// The backward's data movement around its GEMMs, for case c's shape (S = L·N = 3200 rows of H = 256 floats):
/// <c>Transpose</c> turns dZ into dZᵀ and sums db_ih's columns on the way; <c>PackTransposed</c> lays X (or H_prev)
/// out as the weight products' right-hand operand; <c>Copy</c> moves the same 3.2 MB, the memory-bound floor the two
/// are measured against. Each call takes the next of four source/destination pairs (52 MB in all), so the sources
/// come from memory as they do in a training step, not from a cache that one call warmed for the next.
/// </summary>
public class BackwardKernels
{
    private const int Rows = 3200, Cols = 256, Buffers = 4;
    private readonly float[][] _sources = new float[Buffers][], _destinations = new float[Buffers][];
    private readonly PackedMatrix<float>?[] _packed = new PackedMatrix<float>?[Buffers];
    private readonly float[] _sums = new float[Cols];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        for (int i = 0; i < Buffers; i++)
        {
            _sources[i] = Enumerable.Range(0, Rows * Cols).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            _destinations[i] = new float[Rows * Cols];
            _packed[i] = PackedMatrix<float>.PackTransposed(_sources[i], Rows, Cols);
        }
    }

    [Benchmark(Baseline = true)]
    public void Copy()
    {
        int i = _next = (_next + 1) % Buffers;
        _sources[i].CopyTo(_destinations[i], 0);
    }

    [Benchmark]
    public void Transpose()
    {
        int i = _next = (_next + 1) % Buffers;
        Kernels.Transpose.Run<float>(_sources[i], Cols, Rows, Cols, _destinations[i], _sums);
    }

    [Benchmark]
    public void PackTransposed()
    {
        int i = _next = (_next + 1) % Buffers;
        _packed[i] = PackedMatrix<float>.PackTransposed(_sources[i], Rows, Cols, _packed[i]);
    }
}
