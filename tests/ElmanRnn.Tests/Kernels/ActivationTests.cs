using ElmanRnn.Kernels;

namespace ElmanRnn.Tests.Kernels;

/// <summary>
/// The vectorised tanh on whatever SIMD path the process runs (.ci/run repeats the suite under DOTNET_EnableAVX512=0,
/// DOTNET_EnableAVX2=0 — which also drops FMA — and DOTNET_EnableHWIntrinsic=0). Oracle: Math.Tanh in double, itself
/// within a couple of double ulps, so its own error is negligible against the float tolerance and ~2e-16 against the
/// double one.
/// </summary>
public class ActivationTests
{
    // Float tolerance: 2e-7 relative (about 1.7 ulp at worst); the full sweep of every float measured 1.8e-7 at most.
    private const double FloatTolerance = 2e-7;

    // Double tolerance: 1e-15 relative; a dense random sample measured ≤ 5e-16.
    private const double DoubleTolerance = 1e-15;

    private const int Chunk = 1 << 20;

    [Fact]
    public void FloatTanhIsWithin2e7OfMathTanhAndMonotonicOverEveryThirtySeventhFloatUpTo10()
    {
        // Stride 37 (odd, so every mantissa pattern mod 2^k shows up) through all bit patterns 0 … 10f, in order.
        uint end = BitConverter.SingleToUInt32Bits(10f);
        float[] x = new float[Chunk], y = new float[Chunk];
        float previous = 0f, firstDecrease = float.NaN;
        double worst = 0;
        float worstAt = 0f;
        for (uint start = 0; start <= end; start += 37u * Chunk)
        {
            int count = (int)Math.Min(Chunk, (end - start) / 37 + 1);
            for (int i = 0; i < count; i++)
                x[i] = BitConverter.UInt32BitsToSingle(start + 37u * (uint)i);
            x.AsSpan(0, count).CopyTo(y);
            Activations.Apply<float>(y.AsSpan(0, count), Activation.Tanh);
            for (int i = 0; i < count; i++)
            {
                double expected = Math.Tanh(x[i]);
                double error = expected == 0 ? Math.Abs(y[i]) : Math.Abs(y[i] - expected) / expected;
                if (error > worst)
                    (worst, worstAt) = (error, x[i]);
                if (y[i] < previous && float.IsNaN(firstDecrease))
                    firstDecrease = x[i];
                previous = y[i];
            }
        }
        firstDecrease.Should().Be(float.NaN, $"tanh must not decrease anywhere (path {Simd.Path})");
        worst.Should().BeLessThanOrEqualTo(FloatTolerance, $"worst at x = {worstAt:R} on {Simd.Path}");
    }

    [Fact]
    public void FloatTanhIsMonotonicAcrossEveryFloatNearItsInternalSwitchPoints()
    {
        // Where the exponent n of e^{-2|x|} changes ((k + 1/2)·ln 2 = 2|x|), at the clamp 9.5 and where the result
        // reaches 1 (tanh rounds to 1 in float from x ≈ 9.01): 2^16 consecutive floats either side of each.
        var centres = Enumerable.Range(0, 27).Select(k => (k + 0.5) * Math.Log(2) / 2).Concat([9.0, 9.01, 9.5]);
        foreach (double centre in centres)
        {
            uint middle = BitConverter.SingleToUInt32Bits((float)centre);
            float[] x = new float[1 << 17];
            for (int i = 0; i < x.Length; i++)
                x[i] = BitConverter.UInt32BitsToSingle(middle - (1u << 16) + (uint)i);
            float[] y = (float[])x.Clone();
            Activations.Apply<float>(y, Activation.Tanh);
            int decrease = Enumerable.Range(1, y.Length - 1).FirstOrDefault(i => y[i] < y[i - 1]);
            decrease.Should().Be(0, $"tanh must not decrease (first at x = {x[decrease]:R}, path {Simd.Path})");
            double worst = Enumerable.Range(0, y.Length).Max(i => Math.Abs(y[i] - Math.Tanh(x[i])) / Math.Tanh(x[i]));
            worst.Should().BeLessThanOrEqualTo(FloatTolerance, $"near x = {centre} on {Simd.Path}");
        }
    }

    [Fact]
    public void FloatTanhIsOddBitForBit()
    {
        // tanh(−x) = −tanh(x) exactly, so no input direction is favoured; every 101st float up to +∞.
        float[] x = new float[Chunk], positive = new float[Chunk], negative = new float[Chunk];
        for (uint start = 0; start <= 0x7F800000u; start += 101u * Chunk)
        {
            int count = (int)Math.Min(Chunk, (0x7F800000u - start) / 101 + 1);
            for (int i = 0; i < count; i++)
                x[i] = BitConverter.UInt32BitsToSingle(start + 101u * (uint)i);
            for (int i = 0; i < count; i++)
                (positive[i], negative[i]) = (x[i], -x[i]);
            Activations.Apply<float>(positive.AsSpan(0, count), Activation.Tanh);
            Activations.Apply<float>(negative.AsSpan(0, count), Activation.Tanh);
            int odd = Enumerable.Range(0, count).FirstOrDefault(
                i => BitConverter.SingleToUInt32Bits(negative[i]) != BitConverter.SingleToUInt32Bits(-positive[i]), -1);
            odd.Should().Be(-1, $"tanh(−x) must be −tanh(x) bit for bit (first x = {(odd < 0 ? 0 : x[odd]):R})");
        }
    }

    [Fact]
    public void FloatTanhSaturatesToExactlyOneWhereFloatTanhRoundsToOne()
    {
        // Oracle: (float)Math.Tanh(x) is 1 for every x ≥ 9.02; the kernel must give exactly 1 there, through +∞.
        uint start = BitConverter.SingleToUInt32Bits(9.02f);
        float[] x = new float[Chunk];
        for (uint bits = start; bits <= 0x7F800000u; bits += 1009u * Chunk)
        {
            int count = (int)Math.Min(Chunk, (0x7F800000u - bits) / 1009 + 1);
            for (int i = 0; i < count; i++)
                x[i] = BitConverter.UInt32BitsToSingle(bits + 1009u * (uint)i);
            float[] y = x.AsSpan(0, count).ToArray();
            Activations.Apply<float>(y, Activation.Tanh);
            int notOne = Array.FindIndex(y, v => v != 1f);
            notOne.Should().Be(-1, $"tanh must be exactly 1 from 9.02 on (first miss at x = {(notOne < 0 ? 0 : x[notOne]):R})");
        }
        ((float)Math.Tanh(9.02f)).Should().Be(1f, "the premise of this test");
    }

    [Fact]
    public void FloatTanhOfSpecialValues()
    {
        // Hand values: tanh(±0) = ±0 with its sign, tanh(±∞) = ±1, NaN stays NaN, the tiniest subnormal maps to itself
        // (tanh x = x − x³/3 … rounds to x), and the largest finite floats to ±1.
        float[] x = [0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, -float.NaN, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue];
        float[] y = (float[])x.Clone();
        Activations.Apply<float>(y, Activation.Tanh);
        BitConverter.SingleToUInt32Bits(y[0]).Should().Be(0u);
        BitConverter.SingleToUInt32Bits(y[1]).Should().Be(0x80000000u);
        y[2..4].Should().Equal(1f, -1f);
        float.IsNaN(y[4]).Should().BeTrue();
        float.IsNaN(y[5]).Should().BeTrue();
        y[6..].Should().Equal(float.Epsilon, -float.Epsilon, 1f, -1f);
    }

    [Fact]
    public void DoubleTanhIsWithin1e15OfMathTanhOnADenseSample()
    {
        var random = new Random(20);
        double worst = 0, worstAt = 0;
        double[] x = new double[Chunk];
        for (int round = 0; round < 4; round++)
        {
            // Half uniform over [−20, 20] (beyond, double tanh is ±1), half log-uniform magnitudes 1e-300 … 20.
            for (int i = 0; i < x.Length; i++)
                x[i] = i % 2 == 0
                    ? 40 * random.NextDouble() - 20
                    : Math.CopySign(Math.Pow(10, random.NextDouble() * 301.3 - 300), random.NextDouble() - 0.5);
            double[] y = (double[])x.Clone();
            Activations.Apply<double>(y, Activation.Tanh);
            for (int i = 0; i < x.Length; i++)
            {
                double expected = Math.Tanh(x[i]);
                double error = Math.Abs(y[i] - expected) / Math.Abs(expected);
                if (error > worst)
                    (worst, worstAt) = (error, x[i]);
            }
        }
        worst.Should().BeLessThanOrEqualTo(DoubleTolerance, $"worst at x = {worstAt:R} on {Simd.Path}");
    }

    [Fact]
    public void DoubleTanhIsMonotonicAcrossEveryDoubleNearItsInternalSwitchPoints()
    {
        // As for float: 2^12 consecutive doubles either side of each change of n, of the clamp 20 and of where tanh
        // reaches 1 (x ≈ 19.06); plus a sorted random sample of the whole range.
        var centres = Enumerable.Range(0, 58).Select(k => (k + 0.5) * Math.Log(2) / 2).Concat([19.0, 19.06, 20.0]);
        foreach (double centre in centres)
        {
            long middle = BitConverter.DoubleToInt64Bits(centre);
            double[] x = new double[1 << 13];
            for (int i = 0; i < x.Length; i++)
                x[i] = BitConverter.Int64BitsToDouble(middle - (1L << 12) + i);
            AssertNonDecreasing(x);
        }
        var random = new Random(21);
        double[] sample = Enumerable.Range(0, 1 << 18).Select(_ => 22 * random.NextDouble()).Order().ToArray();
        AssertNonDecreasing(sample);

        static void AssertNonDecreasing(double[] x)
        {
            double[] y = (double[])x.Clone();
            Activations.Apply<double>(y, Activation.Tanh);
            int decrease = Enumerable.Range(1, y.Length - 1).FirstOrDefault(i => y[i] < y[i - 1]);
            decrease.Should().Be(0, $"tanh must not decrease (first at x = {x[decrease]:R}, path {Simd.Path})");
        }
    }

    [Fact]
    public void DoubleTanhOfSpecialValues()
    {
        // Hand values as for float; 19.5 is past the point where double tanh rounds to 1 (Math.Tanh agrees).
        double[] x = [0.0, -0.0, double.PositiveInfinity, double.NegativeInfinity, double.NaN, double.Epsilon, -double.Epsilon, 19.5, -19.5, double.MaxValue];
        double[] y = (double[])x.Clone();
        Activations.Apply<double>(y, Activation.Tanh);
        BitConverter.DoubleToUInt64Bits(y[0]).Should().Be(0ul);
        BitConverter.DoubleToUInt64Bits(y[1]).Should().Be(0x8000000000000000ul);
        y[2..4].Should().Equal(1.0, -1.0);
        double.IsNaN(y[4]).Should().BeTrue();
        y[5..].Should().Equal(double.Epsilon, -double.Epsilon, 1.0, -1.0, 1.0);
        Math.Tanh(19.5).Should().Be(1.0, "the premise of this test");
    }

    [Fact]
    public void EveryElementGetsTheSameValueWhateverItsPositionOrTheSpanLength()
    {
        // Oracle: each value alone in a span of length 1 (which goes through the zero-padded tail); determinism contract.
        var random = new Random(22);
        for (int length = 0; length <= 40; length++)
        {
            float[] x = Enumerable.Range(0, length).Select(_ => (float)(12 * random.NextDouble() - 6)).ToArray();
            float[] all = (float[])x.Clone();
            Activations.Apply<float>(all, Activation.Tanh);
            for (int i = 0; i < length; i++)
            {
                float[] one = [x[i]];
                Activations.Apply<float>(one, Activation.Tanh);
                all[i].Should().Be(one[0], $"length {length}, index {i}");
            }
        }
    }
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DerivativeIsAtensBackwardFormulaBitForBitAtEveryLength(bool relu)
    {
        Activation activation = relu ? Activation.Relu : Activation.Tanh;
        // Oracle: ATen's scalar formulas, each operation rounded to float — tanh_backward grad·(1 − y·y),
        // threshold_backward (y <= 0 ? 0 : grad, so a NaN y passes grad) — bit for bit, lengths 0..40 across the
        // vector tails, with special values among the outputs y.
        var random = new Random(31);
        float[] specials = [0f, -0f, 1f, -1f, float.NaN, 1e-40f, -1e-40f, float.PositiveInfinity];
        for (int n = 0; n <= 40; n++)
        {
            float[] y = new float[n], grad = new float[n];
            for (int i = 0; i < n; i++)
            {
                y[i] = i % 5 == 0 ? specials[i / 5 % specials.Length] : (float)(random.NextDouble() * 2 - 1);
                grad[i] = i % 7 == 3 ? float.NaN : (float)(random.NextDouble() * 4 - 2);
            }
            float[] expected = new float[n];
            for (int i = 0; i < n; i++)
                expected[i] = activation == Activation.Relu ? (y[i] <= 0f ? 0f : grad[i]) : grad[i] * (1f - y[i] * y[i]);
            // With a sum: the same results, each also added (one rounding) to what the sum held.
            float[] start = Enumerable.Range(0, n).Select(i => (float)(random.NextDouble() * 8 - 4)).ToArray();
            float[] sum = (float[])start.Clone(), withSum = (float[])grad.Clone();
            float[] expectedSum = Enumerable.Range(0, n).Select(i => start[i] + expected[i]).ToArray();
            Activations.MultiplyByDerivative<float>(grad, y, activation);
            grad.Select(BitConverter.SingleToInt32Bits).Should().Equal(expected.Select(BitConverter.SingleToInt32Bits), $"n = {n}");
            Activations.MultiplyByDerivative<float>(withSum, y, activation, sum);
            withSum.Select(BitConverter.SingleToInt32Bits).Should().Equal(expected.Select(BitConverter.SingleToInt32Bits), $"n = {n}, with sum");
            sum.Select(BitConverter.SingleToInt32Bits).Should().Equal(expectedSum.Select(BitConverter.SingleToInt32Bits), $"n = {n}, the sum");
        }
    }
}
