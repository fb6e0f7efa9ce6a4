using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using ElmanRnn.Benchmarks.Contenders;

namespace ElmanRnn.Benchmarks.Suites;

/// <summary>BenchmarkDotNet's default configuration (jobs come from its command line, e.g. <c>--job short</c>) plus
/// the median and two speed-up columns computed from medians.</summary>
internal static class BenchmarkConfig
{
    public static IConfig Create() => DefaultConfig.Instance
        .AddColumn(StatisticColumn.Median)
        .AddColumn(new SpeedUpColumn(nameof(Float32Rnn.LibTorch), Names.LibTorch))
        .AddColumn(new SpeedUpColumn(nameof(Float32Rnn.OnnxRuntime), Names.OnnxRuntime))
        .WithOptions(ConfigOptions.JoinSummary);
}
