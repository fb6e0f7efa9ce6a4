using System.CommandLine;

namespace ElmanRnn.Cli;

/// <summary>
/// The <c>elman-rnn</c> command line: <c>demo</c> (also what runs with no arguments) and <c>run</c>. Exit codes: 0
/// success, 2 a usage or input mistake (one line on stderr), 1 an unexpected failure (with its stack trace).
/// </summary>
internal static class App
{
    /// <summary>The exit code of every mistake the user can fix: bad arguments, missing or malformed files, shapes that do not fit the model.</summary>
    public const int UsageError = 2;

    /// <summary>Parses <paramref name="args"/> and runs the command, writing to the given streams instead of the console.</summary>
    /// <returns>The process exit code.</returns>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var demo = new Command("demo", "Runs torch.nn.RNN's documentation example in C# and shows how h_n's rows are ordered (the default).");
        demo.SetAction(_ => Demo.Run(output));
        var root = new RootCommand("elman-rnn: PyTorch's torch.nn.RNN in pure .NET. Without a command it runs the demo.")
        {
            demo,
            RunCommand.Create(output, error),
        };
        root.SetAction(_ => Demo.Run(output));

        ParseResult parsed = root.Parse(args);
        // System.CommandLine would print the errors followed by the whole help text and exit with 1; a usage mistake
        // here is one line and exit code 2, like every other mistake.
        if (parsed.Errors.Count > 0)
        {
            string command = parsed.CommandResult.Command == root ? "elman-rnn" : $"elman-rnn {parsed.CommandResult.Command.Name}";
            error.WriteLine($"{command}: {string.Join(" ", parsed.Errors.Select(e => OneLine(e.Message)))} See '{command} --help'.");
            return UsageError;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }

    /// <summary>A message on one line: line breaks and tabs (LoadStateDict's list of problems, for one) become single spaces.</summary>
    public static string OneLine(string message) =>
        string.Join(" ", message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
