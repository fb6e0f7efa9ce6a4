namespace ElmanRnn.Tests.Cli;

/// <summary>What one in-process <c>elman-rnn</c> invocation returned and printed.</summary>
internal sealed record CliResult(int ExitCode, string Output, string Error)
{
    /// <summary>Asserts the shape of a usage mistake: exit code 2, nothing on stdout, one line on stderr and no stack trace.</summary>
    public void ShouldBeAUsageError(string pattern)
    {
        ExitCode.Should().Be(2, Error);
        Output.Should().BeEmpty();
        Error.Should().EndWith(Environment.NewLine).And.Match(pattern + Environment.NewLine);
        Error.TrimEnd().Should().NotContainAny(["\n", "\r", "   at ", "(Parameter '"]);
    }
}
