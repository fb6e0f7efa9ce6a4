namespace ElmanRnn.Tests.Cli;

/// <summary>The command line around the commands: the demo stays the default, help, unknown commands.</summary>
public class AppTests
{
    [Fact]
    public void WithoutArgumentsTheDemoRuns()
    {
        CliResult result = CliRunner.Invoke();

        result.ExitCode.Should().Be(0);
        result.Error.Should().BeEmpty();
        // The line CI greps for (.ci/run).
        result.Output.Should().Contain("output [2, 7, 3]   h_n [1, 2, 3]");
    }

    [Fact]
    public void TheDemoCommandIsTheDefault()
    {
        CliResult result = CliRunner.Invoke("demo");

        result.ExitCode.Should().Be(0);
        result.Output.Should().Be(CliRunner.Invoke().Output, "the demo seeds its Random, so both runs print the same");
    }

    [Fact]
    public void HelpNamesEveryCommand()
    {
        CliResult result = CliRunner.Invoke("--help");

        result.ExitCode.Should().Be(0);
        result.Output.Should().Contain("demo").And.Contain("run").And.Contain("train");
    }

    [Fact]
    public void RunHelpListsEveryOption()
    {
        CliResult result = CliRunner.Invoke("run", "--help");

        result.ExitCode.Should().Be(0);
        result.Output.Should().ContainAll(
            "--weights <model.pt|model.safetensors> (REQUIRED)", "--prefix", "--input <x.npy> (REQUIRED)", "--h0 <h0.npy>",
            "--lengths <5,3,2>", "--batch-first", "--nonlinearity <tanh|relu>", "[default: tanh]", "--output-dir <DIR>",
            "--dtype <float32|float64>");
    }

    [Fact]
    public void AnUnknownCommandIsAUsageError()
    {
        CliRunner.Invoke("fit").ShouldBeAUsageError("elman-rnn: Unrecognized command or argument 'fit'. See 'elman-rnn --help'.");
    }
}
