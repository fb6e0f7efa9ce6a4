namespace ElmanRnn.Benchmarks.Cases;

/// <summary>
/// One benchmark shape: fp32 (or fp64) inference of a tanh <c>torch.nn.RNN</c> with bias, time-major input
/// (L, N, H_in), input size = hidden size = <see cref="Size"/>.
/// </summary>
/// <param name="Id">Short name used by filters and tables: a–e, or a variant such as <c>c-f64</c>.</param>
/// <param name="SeqLen">L, the (padded) sequence length.</param>
/// <param name="Batch">N.</param>
/// <param name="Size">H_in = H.</param>
/// <param name="Layers">NL.</param>
/// <param name="Bidirectional">D = 2 when true.</param>
/// <param name="Double">float64 instead of float32.</param>
/// <param name="Packed">Variable lengths (see <see cref="Lengths"/>) through packed sequences / ONNX sequence_lens.</param>
public sealed record BenchCase(
    string Id, int SeqLen, int Batch, int Size, int Layers = 1, bool Bidirectional = false, bool Double = false,
    bool Packed = false)
{
    /// <summary>Cases (a)–(e) of the performance issue, then the float64 and packed variants of (c).</summary>
    public static IReadOnlyList<BenchCase> All { get; } =
    [
        new("a", SeqLen: 1, Batch: 1, Size: 64),
        new("b", SeqLen: 100, Batch: 1, Size: 128),
        new("c", SeqLen: 100, Batch: 32, Size: 256),
        new("d", SeqLen: 100, Batch: 64, Size: 512, Layers: 2, Bidirectional: true),
        new("e", SeqLen: 50, Batch: 128, Size: 1024),
        new("c-f64", SeqLen: 100, Batch: 32, Size: 256, Double: true),
        new("c-packed", SeqLen: 100, Batch: 32, Size: 256, Packed: true),
    ];

    /// <summary>The case with this <see cref="Id"/>.</summary>
    /// <exception cref="ArgumentException">No such case.</exception>
    public static BenchCase Get(string id) =>
        All.FirstOrDefault(c => string.Equals(c.Id, id, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException(
            $"Unknown case '{id}'. Known cases: {string.Join(", ", All.Select(c => c.Id))}.", nameof(id));

    /// <summary>D: 2 for a bidirectional RNN, else 1.</summary>
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>Width of the output rows, D·H.</summary>
    public int OutputWidth => Directions * Size;

    /// <summary>
    /// Per-sequence lengths of the packed variant: spread linearly from L down to L/2 and shuffled with a fixed seed,
    /// so the batch is unsorted (packing must sort it) and the longest sequence fills the padded length. Null for
    /// dense cases.
    /// </summary>
    public int[]? Lengths
    {
        get
        {
            if (!Packed)
                return null;
            int min = SeqLen / 2;
            var lengths = Enumerable.Range(0, Batch)
                .Select(i => Batch == 1 ? SeqLen : SeqLen - (int)Math.Round((double)(SeqLen - min) * i / (Batch - 1)))
                .ToArray();
            new Random(7).Shuffle(lengths);
            return lengths;
        }
    }

    /// <summary>
    /// Floating-point operations of one forward pass: 2·R·H·(K + H) per layer and direction, where R is the number of
    /// valid (time step, sequence) rows — L·N for dense input, the sum of the lengths for packed input — and K the
    /// layer's input width (H_in for layer 0, D·H above). Bias adds and activations are not counted.
    /// </summary>
    public double Flops
    {
        get
        {
            double rows = Lengths?.Sum() ?? (double)SeqLen * Batch;
            double total = 0;
            for (int layer = 0; layer < Layers; layer++)
            {
                int k = layer == 0 ? Size : OutputWidth;
                total += Directions * 2.0 * rows * Size * (k + Size);
            }
            return total;
        }
    }

    /// <summary>A one-line description, e.g. <c>L=100 N=64 512→512 2 layers bi fp32</c>.</summary>
    public string Shape =>
        $"L={SeqLen} N={Batch} {Size}→{Size}"
        + (Layers > 1 ? $" {Layers} layers" : "")
        + (Bidirectional ? " bi" : "")
        + (Packed ? " packed" : "")
        + (Double ? " fp64" : " fp32");

    /// <inheritdoc/>
    public override string ToString() => Id;
}
