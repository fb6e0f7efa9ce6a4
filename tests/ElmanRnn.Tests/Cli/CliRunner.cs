using ElmanRnn.Cli;

namespace ElmanRnn.Tests.Cli;

internal static class CliRunner
{
    /// <summary>Runs <c>elman-rnn args…</c> in this process, capturing stdout and stderr.</summary>
    public static CliResult Invoke(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = App.Run(args, output, error);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }
}
