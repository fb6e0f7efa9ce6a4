using ElmanRnn.Kernels;

namespace ElmanRnn.Tests.Kernels;

public class SimdPathTests
{
    /// <summary>
    /// .ci/run sets ELMANRNN_EXPECTED_SIMD_PATH beside each DOTNET_Enable* switch, so a switch that silently stops
    /// working (as DOTNET_EnableAVX512F did in .NET 10) fails the run instead of re-testing the same path.
    /// </summary>
    [Fact]
    public void RunsOnTheSimdPathTheEnvironmentAsksFor()
    {
        string? expected = Environment.GetEnvironmentVariable("ELMANRNN_EXPECTED_SIMD_PATH");
        if (string.IsNullOrEmpty(expected))
            return;
        Simd.Path.ToString().Should().Be(expected);
    }
}
