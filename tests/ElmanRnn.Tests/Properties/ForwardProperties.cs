using System.Numerics;
using CsCheck;
using ElmanRnn.Tests.Rnn;

namespace ElmanRnn.Tests.Properties;

/// <summary>
/// Forward over random architectures, shapes and values against the independent naive reference
/// (<see cref="Reference.NaiveRnn"/>, MathNet in float64). Oracle and tolerance: <see cref="PropertyKit.ShouldMatchReference"/>
/// with 1e-12 (float64) / 1e-5 (float32) relative to max(1, max |expected|); NaN, ±Inf and saturated ±1 exactly.
/// A failure prints CsCheck's seed: rerun with <c>CsCheck_Seed=&lt;seed&gt;</c> to reproduce it.
/// </summary>
public class ForwardProperties
{
    [Fact]
    public void Forward_matches_the_naive_reference_with_PyTorchs_shapes() =>
        PropertyKit.Cases().Sample(c =>
        {
            if (c.IsDouble) CheckAgainstReference<double>(c, specialPercent: 0);
            else CheckAgainstReference<float>(c, specialPercent: 0);
        }, iter: PropertyKit.Iter(100));

    [Fact]
    public void Special_values_follow_the_references_IEEE_semantics_and_never_throw() =>
        Gen.Select(PropertyKit.Cases(maxSize: 24, maxSteps: 5, maxBatch: 4), Gen.Int[1, 30]).Sample((c, percent) =>
        {
            if (c.IsDouble) CheckAgainstReference<double>(c, percent);
            else CheckAgainstReference<float>(c, percent);
        }, iter: PropertyKit.Iter(100));

    private static void CheckAgainstReference<T>(RnnCase c, int specialPercent) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(c.Seed);
        var layer = PropertyKit.Layer<T>(c, random);
        int h0Count = c.Layers * c.Directions * c.N * c.Hidden;
        // x: (L, N, H_in) time-major; h0: (NL·D, N, H)
        double[] x = PropertyKit.Sprinkle<T>(random, PropertyKit.Values<T>(random, c.Steps * c.N * c.InputSize), specialPercent);
        double[] h0 = PropertyKit.Sprinkle<T>(random, PropertyKit.Values<T>(random, h0Count, 1.0), specialPercent);

        var (output, hn) = layer.Forward(PropertyKit.Input<T>(c, x), c.WithH0 ? PropertyKit.H0<T>(c, h0) : null);

        output.Lengths.ToArray().Should().Equal(PropertyKit.OutputShape(c));
        hn.Lengths.ToArray().Should().Equal(PropertyKit.HiddenShape(c));
        var expected = RnnTestKit.Reference(layer, x, c.Steps, c.N, c.WithH0 ? h0 : null);
        double tolerance = typeof(T) == typeof(double) ? PropertyKit.DoubleTolerance : PropertyKit.FloatTolerance;
        PropertyKit.ShouldMatchReference(PropertyKit.TimeMajor(c, output), expected.Output, tolerance, "output");
        PropertyKit.ShouldMatchReference(hn.ToDoubles(), expected.Hn, tolerance, "h_n");
    }
}
