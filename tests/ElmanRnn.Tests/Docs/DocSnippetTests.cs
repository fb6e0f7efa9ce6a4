using System.Diagnostics;
using ElmanRnn.Serialization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace ElmanRnn.Tests.Docs;

/// <summary>
/// Every <c>```csharp</c> block of README.md and docs/*.md, compiled as the Program.cs of a fresh
/// <c>dotnet new console</c> app (implicit usings, nullable on, warnings count) against this build of ElmanRnn, then
/// run in its own process in an empty directory: a snippet that stops compiling or throws fails here, so none can rot.
/// Oracle: the C# compiler and the snippet's own run (exit code 0); the printed output of the README's quick start is
/// compared with what the README says by .ci/package-check.
/// </summary>
/// <remarks>
/// A block stands alone unless the line before its fence says <c>&lt;!-- snippet: continues --&gt;</c> (appended to
/// the previous block of the same file, which then runs as one program) or <c>&lt;!-- snippet: skip … --&gt;</c>.
/// Files a snippet opens by name are made from the committed fixtures (<see cref="PrepareFiles"/>).
/// </remarks>
public sealed class DocSnippetTests : IDisposable
{
    private static readonly string Root = FindRepositoryRoot();
    private static readonly Lazy<MetadataReference[]> References = new(LoadReferences);

    // What `dotnet new console` puts in front of Program.cs (ImplicitUsings for Microsoft.NET.Sdk).
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("elmanrnn-snippet-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static IEnumerable<object[]> Programs() => AllPrograms().Select(p => new object[] { p.Name });

    [Fact]
    public void TheDocumentsHaveSnippetsToCheck()
    {
        var names = AllPrograms().Select(p => p.Name).ToList();
        names.Should().Contain(n => n.StartsWith("README.md:", StringComparison.Ordinal), "the quick start is one");
        names.Count.Should().BeGreaterThanOrEqualTo(6, "README.md and docs/ had 8 programs when this test was written");
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void SnippetCompilesAndRuns(string name)
    {
        string source = AllPrograms().Single(p => p.Name == name).Source;
        string dll = Compile(name, source);
        PrepareFiles(source);

        var (exitCode, output, error) = Run(dll);

        exitCode.Should().Be(0, $"{name} must run to the end\n--- stdout\n{output}\n--- stderr\n{error}\n--- source\n{source}");
    }

    private sealed record Snippet(string Name, string Source);

    /// <summary>The programs of README.md and docs/*.md, named FILE:LINE of their first block.</summary>
    private static List<Snippet> AllPrograms()
    {
        var programs = new List<Snippet>();
        foreach (string path in new[] { Path.Combine(Root, "README.md") }
                     .Concat(Directory.EnumerateFiles(Path.Combine(Root, "docs"), "*.md").Order(StringComparer.Ordinal)))
        {
            string file = Path.GetRelativePath(Root, path).Replace('\\', '/');
            string[] lines = File.ReadAllLines(path);
            Snippet? previous = null;
            for (int i = 0; i < lines.Length; i++)
            {
                if (lines[i].Trim() != "```csharp")
                    continue;
                int end = Array.FindIndex(lines, i + 1, l => l.Trim() == "```");
                if (end < 0)
                    throw new InvalidDataException($"{file}:{i + 1}: a ```csharp block that is never closed");
                string code = string.Join('\n', lines[(i + 1)..end]) + "\n";
                string marker = i > 0 ? lines[i - 1].Trim() : "";
                if (marker.StartsWith("<!-- snippet: skip", StringComparison.Ordinal))
                {
                    // skipped on purpose
                }
                else if (marker == "<!-- snippet: continues -->")
                {
                    if (previous is null)
                        throw new InvalidDataException($"{file}:{i + 1}: 'snippet: continues' with no block before it");
                    programs[^1] = previous = previous with { Source = previous.Source + code };
                }
                else
                {
                    programs.Add(previous = new Snippet($"{file}:{i + 1}", code));
                }
                i = end;
            }
        }
        return programs;
    }

    /// <summary>Compiles a console program into the test's directory; returns the dll's path.</summary>
    private string Compile(string name, string source)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var compilation = CSharpCompilation.Create(
            "snippet",
            [CSharpSyntaxTree.ParseText(ImplicitUsings, parse), CSharpSyntaxTree.ParseText(source, parse, path: name)],
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        string dll = Path.Combine(_directory, "snippet.dll");
        var result = compilation.Emit(dll);
        var problems = result.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).Select(d => d.ToString()).ToList();
        problems.Should().BeEmpty($"{name} must compile without warnings, as a project with TreatWarningsAsErrors would\n{source}");
        result.Success.Should().BeTrue();

        File.WriteAllText(Path.Combine(_directory, "snippet.runtimeconfig.json"), $$"""
            {
              "runtimeOptions": {
                "tfm": "net10.0",
                "framework": { "name": "Microsoft.NETCore.App", "version": "{{Environment.Version.ToString(2)}}.0" }
              }
            }
            """);
        foreach (string library in LibraryFiles())
            File.Copy(library, Path.Combine(_directory, Path.GetFileName(library)));
        return dll;
    }

    /// <summary>Files the documents' snippets open by name, made from the committed fixtures.</summary>
    private void PrepareFiles(string source)
    {
        if (source.Contains("\"model.pt\"", StringComparison.Ordinal))
        {
            // README: "any model holding an nn.RNN at model.encoder.rnn" — libtorch's RNN(5, 3) saved by PyBridge, under
            // that module path, next to another module's weight.
            var rnn = TorchSave.Read<float>(Path.Combine(AppContext.BaseDirectory, "Fixtures", "pybridge", "rnn_tanh_l1.pt"));
            var model = rnn.ToDictionary(kv => "encoder.rnn." + kv.Key, kv => kv.Value);
            model.Add("decoder.weight", System.Numerics.Tensors.Tensor.Create([1f, 2f], [1, 2]));
            TorchSave.Write(Path.Combine(_directory, "model.pt"), model);
        }
    }

    private (int ExitCode, string Output, string Error) Run(string dll)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = _directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(dll);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{dll} still running after 2 minutes");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    /// <summary>The shared framework plus ElmanRnn and its package dependencies — what a console app referencing the
    /// ElmanRnn package compiles against, and nothing of the test project's own.</summary>
    private static MetadataReference[] LoadReferences()
    {
        string runtime = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var library = LibraryFiles().Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        return ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetDirectoryName(p) == runtime || library.Contains(Path.GetFileName(p)))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToArray();
    }

    private static IEnumerable<string> LibraryFiles() =>
        new[] { "ElmanRnn.dll", "System.Numerics.Tensors.dll", "System.IO.Hashing.dll" }
            .Select(f => Path.Combine(AppContext.BaseDirectory, f))
            .Where(File.Exists);   // System.Numerics.Tensors.dll is absent when the shared framework's copy is as new

    private static string FindRepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "ElmanRnn.sln")) && File.Exists(Path.Combine(d.FullName, "README.md")))
                return d.FullName;
        throw new DirectoryNotFoundException($"no ElmanRnn.sln above {AppContext.BaseDirectory}");
    }
}
