using System.Globalization;
using ScottPlot;

namespace ElmanRnn.Cli;

/// <summary>The training and held-out loss of a <c>train</c> run against the step, on a log-scale y axis, as a PNG.</summary>
internal static class LossPlot
{
    /// <summary>Writes the plot to <paramref name="path"/>.</summary>
    /// <param name="trainSteps">The step at the end of each window of training steps.</param>
    /// <param name="trainLoss">The mean batch loss over each window.</param>
    /// <param name="heldOutSteps">The steps at which the held-out set was evaluated.</param>
    /// <param name="heldOutMse">The held-out MSE at each of those steps.</param>
    /// <param name="targetMse">The target, drawn as a line; 0 for none.</param>
    public static void Save(string path, IReadOnlyList<double> trainSteps, IReadOnlyList<double> trainLoss,
        IReadOnlyList<double> heldOutSteps, IReadOnlyList<double> heldOutMse, double targetMse)
    {
        var plot = new Plot();
        plot.Font.Set("DejaVu Sans");
        // ScottPlot has no log axis: the values are plotted as log10 and the ticks labelled with 10^y.
        var train = plot.Add.ScatterLine(trainSteps.ToArray(), Log10(trainLoss), Colors.SteelBlue);
        train.LegendText = "training loss (mean over each window)";
        var heldOut = plot.Add.ScatterLine(heldOutSteps.ToArray(), Log10(heldOutMse), Colors.OrangeRed);
        heldOut.LineWidth = 2;
        heldOut.LegendText = "held-out MSE";
        var trivial = plot.Add.HorizontalLine(Math.Log10(AddingProblem.TrivialMse), 1, Colors.Gray, LinePattern.Dotted);
        trivial.LegendText = "always predicting 1 (1/6)";
        if (targetMse > 0)
        {
            var target = plot.Add.HorizontalLine(Math.Log10(targetMse), 1, Colors.Black, LinePattern.Dashed);
            target.LegendText = $"target {targetMse.ToString(CultureInfo.InvariantCulture)}";
        }

        var ticks = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => Math.Pow(10, y).ToString("G3", CultureInfo.InvariantCulture),
        };
        plot.Axes.Left.TickGenerator = ticks;
        plot.Axes.Left.MinorTickStyle.Length = 4;
        plot.Grid.MajorLineColor = Colors.Black.WithOpacity(0.12);
        plot.Title("IRNN on the adding problem");
        plot.XLabel("step");
        plot.YLabel("mean squared error (log scale)");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 900, 500);
    }

    // A loss of exactly 0 (or a non-finite one) has no logarithm; it is drawn at the bottom instead of breaking the axis.
    private static double[] Log10(IReadOnlyList<double> values) =>
        values.Select(v => double.IsFinite(v) && v > 0 ? Math.Log10(v) : -12).ToArray();
}
