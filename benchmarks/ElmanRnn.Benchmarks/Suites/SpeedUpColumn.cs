using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace ElmanRnn.Benchmarks.Suites;

/// <summary>
/// How many times faster than the reference contender of the same case, thread count and job a benchmark is:
/// reference median / this median (BenchmarkDotNet's own Ratio column divides means).
/// </summary>
internal sealed class SpeedUpColumn(string referenceMethod, string referenceName) : IColumn
{
    public string Id => $"{nameof(SpeedUpColumn)}.{referenceMethod}";
    public string ColumnName => $"Speed-up vs {referenceName} (medians)";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => $"Median time of {referenceName} on the same case and thread count divided by this benchmark's median";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
        GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var reference = summary.BenchmarksCases.FirstOrDefault(other =>
            other.Descriptor.Type == benchmarkCase.Descriptor.Type
            && other.Descriptor.WorkloadMethod.Name == referenceMethod
            && other.Parameters.ValueInfo == benchmarkCase.Parameters.ValueInfo
            && other.Job.DisplayInfo == benchmarkCase.Job.DisplayInfo);
        double? theirs = reference is null ? null : summary[reference]?.ResultStatistics?.Median;
        double? ours = summary[benchmarkCase]?.ResultStatistics?.Median;
        return theirs is > 0 && ours is > 0 ? $"{theirs.Value / ours.Value:0.00}×" : "—";
    }

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) =>
        summary.BenchmarksCases.Any(b => b.Descriptor.WorkloadMethod.Name == referenceMethod);
}
