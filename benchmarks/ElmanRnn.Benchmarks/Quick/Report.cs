using System.Globalization;
using System.Text;
using ElmanRnn.Benchmarks.Contenders;

namespace ElmanRnn.Benchmarks.Quick;

/// <summary>The quick mode's result as Markdown: machine, load, the table and the targets.</summary>
internal sealed record Report(
    Machine Machine, IReadOnlyList<Measurement> Results, string LoadBefore, string LoadAfter, double OtherCores,
    TimeSpan Duration)
{
    /// <summary>Cores used by other work beside a row above which the row is flagged.</summary>
    private const double BusyThreshold = 0.1;

    public string Markdown()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Machine.Describe()}.");
        text.AppendLine(CultureInfo.InvariantCulture,
            $"Load average (1, 5, 15 min) before: {LoadBefore}; after: {LoadAfter}. Other processes used {OtherCores:0.00} of the " +
            $"{Machine.Cores} cores on average during the run (per row: column \"others\"; \"peak now\" is the FMA peak measured around that row). Quick mode took {Duration.TotalMinutes:0.0} min.");
        if (Results.Any(r => r.OtherCores > BusyThreshold))
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"**Warning:** other work used more than {BusyThreshold} cores beside some rows; their times (2-thread rows " +
                $"above all) are not the machine's best and should be measured again on a quiet machine.");
        }
        text.AppendLine();
        text.AppendLine("| case | shape | threads | ElmanRnn | libtorch | ONNX Runtime | speed-up vs libtorch | speed-up vs ONNX Runtime | ElmanRnn GFLOP/s (of peak) | others | peak now | targets |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        var notes = new List<string>();
        foreach (var m in Results)
        {
            string Cell(string contender)
            {
                if (m.Median(contender) is { } seconds)
                    return Time(seconds);
                var refusal = m.Refused.FirstOrDefault(r => r.Name == contender);
                if (refusal.Name is null)
                    return "—";
                string note = $"{contender}: {refusal.Reason}";
                if (!notes.Contains(note))
                    notes.Add(note);
                return $"n/a [{notes.IndexOf(note) + 1}]";
            }

            double peak = Machine.PeakGflops(m.Case.Double, m.Threads);
            string gflops = m.OursGflops is { } g ? $"{g:0.0} ({g / peak:0%} of {peak:0})" : "—";
            string targets = string.Join("; ", m.Targets(Machine, Results).Select(t =>
                $"{t.Target}: {(t.Met switch { true => "met", false => "**missed**", null => "n/a" })}")) is { Length: > 0 } list
                ? list
                : "—";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {m.Case.Id} | {m.Case.Shape} | {m.Threads} | {Cell(Names.Ours)} | {Cell(Names.LibTorch)} | " +
                $"{Cell(Names.OnnxRuntime)} | {Ratio(m.SpeedUpOver(Names.LibTorch))} | " +
                $"{Ratio(m.SpeedUpOver(Names.OnnxRuntime))} | {gflops} | {m.OtherCores:0.00} | {m.PeakNow:0} | {targets} |");
        }

        text.AppendLine();
        foreach (var scaling in Results.Select(m => m.PairedScaling).OfType<Scaling>())
            text.AppendLine(CultureInfo.InvariantCulture, $"Scaling: {scaling.Describe()}").AppendLine();
        for (int i = 0; i < notes.Count; i++)
            text.AppendLine(CultureInfo.InvariantCulture, $"[{i + 1}] {notes[i]}.  ");
        if (notes.Count > 0)
            text.AppendLine();

        var verdicts = Results.SelectMany(m => m.Targets(Machine, Results)).ToList();
        int met = verdicts.Count(v => v.Met == true), missed = verdicts.Count(v => v.Met == false);
        int unknown = verdicts.Count(v => v.Met is null);
        text.Append(CultureInfo.InvariantCulture, $"Targets: {met} met, {missed} missed");
        if (unknown > 0)
            text.Append(CultureInfo.InvariantCulture, $", {unknown} not measurable");
        text.AppendLine(CultureInfo.InvariantCulture, $" ({Measurement.TargetsInWords}).");
        return text.ToString();
    }

    /// <summary>Seconds with three significant digits in µs, ms or s.</summary>
    public static string Time(double seconds) => seconds switch
    {
        < 1e-3 => Significant(seconds * 1e6) + " µs",
        < 1 => Significant(seconds * 1e3) + " ms",
        _ => Significant(seconds) + " s",
    };

    private static string Ratio(double? ratio) => ratio is { } r ? Significant(r) + "×" : "—";

    private static string Significant(double value) => value.ToString(
        value >= 100 ? "0" : value >= 10 ? "0.0" : "0.00", CultureInfo.InvariantCulture);
}
