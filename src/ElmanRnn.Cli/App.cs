using System.CommandLine;

namespace ElmanRnn.Cli;

/// <summary>
/// The <c>elman-rnn</c> command line: <c>demo</c> (also what runs with no arguments), <c>run</c> and <c>train</c>.
/// Exit codes: 0 success, 2 a usage or input mistake (one line on stderr), 1 an unexpected failure (with its stack
/// trace) or, for <c>train</c>, a diverged run.
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
            TrainCommand.Create(output, error),
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

    /// <summary>Creates <paramref name="directory"/> (and its parents) unless it exists.</summary>
    /// <exception cref="IOException">It cannot be created; the message names it and says why.</exception>
    public static void CreateOutputDirectory(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Where mkdir fails with ENOENT (under /proc, say) .NET reports "Could not find file", which reads as
            // if an input file were missing.
            string reason = e is FileNotFoundException or DirectoryNotFoundException
                ? "a parent directory does not exist or cannot hold directories."
                : e.Message;
            throw new IOException($"cannot create the output directory '{directory}': {reason}", e);
        }
    }

    /// <summary>A message on one line: line breaks and tabs (LoadStateDict's list of problems, for one) become single spaces.</summary>
    public static string OneLine(string message) =>
        string.Join(" ", message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
