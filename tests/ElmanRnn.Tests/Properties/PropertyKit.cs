using System.Numerics;
using System.Numerics.Tensors;
using CsCheck;
using ElmanRnn.Tests.Rnn;

namespace ElmanRnn.Tests.Properties;

/// <summary>How a dense input is laid out: (L, H_in), (L, N, H_in) or (N, L, H_in).</summary>
public enum InputLayout { Unbatched, TimeMajor, BatchFirst }

/// <summary>
/// One random RNN and input shape. Everything a property needs is derived from these fields (values from
/// <see cref="Seed"/>), so the seed CsCheck prints on a failure reproduces it exactly (<c>CsCheck_Seed=...</c>).
/// </summary>
public sealed record RnnCase(bool IsDouble, Nonlinearity Nonlinearity, bool Bias, int Layers, bool Bidirectional,
    InputLayout Layout, int InputSize, int Hidden, int Steps, int Batch, bool WithH0, int Seed)
{
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>Sequences in the batch: 1 for unbatched input.</summary>
    public int N => Layout == InputLayout.Unbatched ? 1 : Batch;

    public RnnOptions Options => new()
    {
        InputSize = InputSize, HiddenSize = Hidden, NumLayers = Layers, Nonlinearity = Nonlinearity, Bias = Bias,
        Bidirectional = Bidirectional, BatchFirst = Layout == InputLayout.BatchFirst,
    };
}

/// <summary>Generators and comparisons shared by the property tests.</summary>
internal static class PropertyKit
{
    /// <summary>Float64 and float32 tolerances against the naive reference, as in ReferenceComparisonTests:
    /// max |actual - expected| relative to max(1, max |expected|) over the finite expected values.</summary>
    public const double DoubleTolerance = 1e-12, FloatTolerance = 1e-5;

    /// <summary>
    /// A property's iteration count: <paramref name="iterations"/> (chosen to keep the suite fast, since CI runs it on
    /// every SIMD path) times ELMANRNN_PROPERTY_ITER_SCALE when set, for a deeper search on a developer's machine.
    /// </summary>
    public static long Iter(long iterations) =>
        int.TryParse(Environment.GetEnvironmentVariable("ELMANRNN_PROPERTY_ITER_SCALE"), out int scale) && scale > 0
            ? iterations * scale
            : iterations;

    /// <summary>
    /// Random architectures and shapes: sizes 1..<paramref name="maxSize"/> cross the kernels' tile edges (8 or 6 rows,
    /// panels of 2 vectors: 32 floats / 16 doubles on AVX-512), batch 0..<paramref name="maxBatch"/>, L = 1..maxSteps.
    /// </summary>
    public static Gen<RnnCase> Cases(int maxSize = 40, int maxSteps = 6, int minBatch = 0, int maxBatch = 5,
        bool unidirectional = false, bool batched = false) =>
        Gen.Select(Gen.Bool, Gen.Bool, Gen.Bool, Gen.Int[1, 3], unidirectional ? Gen.Const(false) : Gen.Bool,
                Gen.Int[batched ? 1 : 0, 2], Gen.Int[1, maxSize], Gen.Int[1, maxSize],
                (isDouble, relu, bias, layers, bi, layout, inputSize, hidden) =>
                    (isDouble, relu, bias, layers, bi, layout, inputSize, hidden))
            .Select(Gen.Int[1, maxSteps], Gen.Int[minBatch, maxBatch], Gen.Bool, Gen.Int,
                (a, steps, batch, withH0, seed) => new RnnCase(a.isDouble, a.relu ? Nonlinearity.Relu : Nonlinearity.Tanh,
                    a.bias, a.layers, a.bi, (InputLayout)a.layout, a.inputSize, a.hidden, steps, batch, withH0, seed));

    /// <summary>The layer of a case, weights drawn from its seed, eval mode.</summary>
    public static RnnLayer<T> Layer<T>(RnnCase c, Random random) where T : unmanaged, IFloatingPointIeee754<T> =>
        new(c.Options, random) { Training = false };

    /// <summary>Uniform values in [-scale, scale], already rounded to T so that the float64 reference sees exactly what
    /// the layer sees.</summary>
    public static double[] Values<T>(Random random, int count, double scale = 2.0) where T : IFloatingPointIeee754<T> =>
        Round<T>(TestTensors.Random(random, count, scale));

    public static double[] Round<T>(double[] values) where T : IFloatingPointIeee754<T> =>
        values.Select(v => double.CreateChecked(T.CreateChecked(v))).ToArray();

    /// <summary>
    /// IEEE special values for T: NaN, ±Inf, ±0, denormals, and huge magnitudes. For float32, no value whose sums can
    /// overflow float32 while they stay finite in the float64 reference (float.MaxValue): there the two arithmetics
    /// differ by design (float overflow), so the comparison would not be meaningful.
    /// </summary>
    public static double[] Specials<T>() where T : IFloatingPointIeee754<T> =>
        typeof(T) == typeof(double)
            ? [double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0.0, -0.0, double.Epsilon, -2.5e-310,
               1e30, -1e30, float.MaxValue, -float.MaxValue]
            : [double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0.0, -0.0, float.Epsilon, -1e-40f,
               1e30, -1e30];

    /// <summary>Replaces about <paramref name="percent"/>% of the values with special values, in place.</summary>
    public static double[] Sprinkle<T>(Random random, double[] values, int percent) where T : IFloatingPointIeee754<T>
    {
        double[] specials = Specials<T>();
        for (int i = 0; i < values.Length; i++)
            if (random.Next(100) < percent)
                values[i] = double.CreateChecked(T.CreateChecked(specials[random.Next(specials.Length)]));
        return values;
    }

    public static Tensor<T> Tensor<T>(double[] values, params nint[] shape) where T : unmanaged, IFloatingPointIeee754<T> =>
        TestTensors.Create<T>(values, shape);

    /// <summary>The dense input tensor of a case from (L, N, H_in) time-major values, in the case's layout.</summary>
    public static Tensor<T> Input<T>(RnnCase c, double[] timeMajor) where T : unmanaged, IFloatingPointIeee754<T> =>
        c.Layout switch
        {
            InputLayout.Unbatched => Tensor<T>(timeMajor, c.Steps, c.InputSize),
            InputLayout.TimeMajor => Tensor<T>(timeMajor, c.Steps, c.N, c.InputSize),
            _ => Tensor<T>(RnnTestKit.SwapFirstTwo(timeMajor, c.Steps, c.N, c.InputSize), c.N, c.Steps, c.InputSize),
        };

    /// <summary>h0 of a case from (NL·D, N, H) values, in the case's layout (2-D for unbatched input).</summary>
    public static Tensor<T> H0<T>(RnnCase c, double[] values) where T : unmanaged, IFloatingPointIeee754<T> =>
        c.Layout == InputLayout.Unbatched
            ? Tensor<T>(values, c.Layers * c.Directions, c.Hidden)
            : Tensor<T>(values, c.Layers * c.Directions, c.N, c.Hidden);

    /// <summary>PyTorch's output shape for a case: (L, D·H), (L, N, D·H) or (N, L, D·H).</summary>
    public static nint[] OutputShape(RnnCase c) => c.Layout switch
    {
        InputLayout.Unbatched => [c.Steps, c.Directions * c.Hidden],
        InputLayout.TimeMajor => [c.Steps, c.N, c.Directions * c.Hidden],
        _ => [c.N, c.Steps, c.Directions * c.Hidden],
    };

    /// <summary>PyTorch's h_n shape: (NL·D, H) unbatched, else (NL·D, N, H) (batch_first never applies to it).</summary>
    public static nint[] HiddenShape(RnnCase c) => c.Layout == InputLayout.Unbatched
        ? [c.Layers * c.Directions, c.Hidden]
        : [c.Layers * c.Directions, c.N, c.Hidden];

    /// <summary>An output in the case's layout as (L, N, D·H) time-major values.</summary>
    public static double[] TimeMajor<T>(RnnCase c, Tensor<T> output) where T : unmanaged, IFloatingPointIeee754<T> =>
        c.Layout == InputLayout.BatchFirst
            ? RnnTestKit.SwapFirstTwo(output.ToDoubles(), c.N, c.Steps, (int)output.Lengths[^1])
            : output.ToDoubles();

    /// <summary>
    /// The oracle comparison with IEEE semantics: where the reference is NaN the result is NaN; where it is ±Inf the
    /// result is the same infinity; where it is exactly ±1 (tanh saturated) the result is exactly that; elsewhere the
    /// result is finite and within <paramref name="tolerance"/> · max(1, max |finite expected|).
    /// </summary>
    public static void ShouldMatchReference(double[] actual, double[] expected, double tolerance, string what)
    {
        actual.Length.Should().Be(expected.Length, what);
        double scale = 1;
        foreach (double e in expected)
            if (double.IsFinite(e))
                scale = Math.Max(scale, Math.Abs(e));
        for (int i = 0; i < actual.Length; i++)
        {
            double a = actual[i], e = expected[i];
            bool ok = double.IsNaN(e) ? double.IsNaN(a)
                : double.IsInfinity(e) || Math.Abs(e) == 1 ? a == e
                : double.IsFinite(a) && Math.Abs(a - e) <= tolerance * scale;
            if (!ok)
                throw new Xunit.Sdk.XunitException(
                    $"{what}[{i}]: expected {e:R} (reference), got {a:R}; tolerance {tolerance} x scale {scale:R}.");
        }
    }

    /// <summary>Bitwise equality, except that any NaN equals any NaN (payloads are not part of the contract).</summary>
    public static void ShouldBeSameBits(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected, string what)
    {
        actual.Length.Should().Be(expected.Length, what);
        for (int i = 0; i < actual.Length; i++)
        {
            double a = actual[i], e = expected[i];
            if (double.IsNaN(a) && double.IsNaN(e))
                continue;
            if (BitConverter.DoubleToInt64Bits(a) != BitConverter.DoubleToInt64Bits(e))
                throw new Xunit.Sdk.XunitException($"{what}[{i}]: expected the bits of {e:R}, got {a:R}.");
        }
    }

    /// <summary>Column <paramref name="n"/> of (R, N, W) values: (R, W).</summary>
    public static double[] Column(double[] values, int rows, int batch, int width, int n)
    {
        var result = new double[rows * width];
        for (int r = 0; r < rows; r++)
            Array.Copy(values, (r * batch + n) * width, result, r * width, width);
        return result;
    }

    /// <summary>Runs <paramref name="action"/>, which must throw an <see cref="ArgumentException"/> (a subclass
    /// such as ArgumentOutOfRangeException included, ArgumentNullException excluded: nothing here is null) whose message
    /// contains every one of <paramref name="mustContain"/>.</summary>
    public static void Refused(Action action, params string[] mustContain)
    {
        try
        {
            action();
        }
        catch (Exception e) when (e is ArgumentException and not ArgumentNullException)
        {
            foreach (string part in mustContain)
                if (!e.Message.Contains(part, StringComparison.Ordinal))
                    throw new Xunit.Sdk.XunitException($"The message should contain \"{part}\": {e.Message}");
            return;
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"Expected an ArgumentException, got {e.GetType().Name}: {e}");
        }
        throw new Xunit.Sdk.XunitException("Expected an ArgumentException, nothing was thrown.");
    }
}
