using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Serialization;

namespace ElmanRnn.Cli;

/// <summary>
/// <c>elman-rnn run</c>: loads a PyTorch-trained nn.RNN from a .pt or .safetensors file (architecture inferred from
/// the weights), runs it in eval mode on a NumPy .npy input and writes <c>output.npy</c> and <c>h_n.npy</c>.
/// </summary>
internal static class RunCommand
{
    /// <summary>What one <c>run</c> was asked to do; paths as the user gave them.</summary>
    private sealed record Settings(
        string Weights, string Prefix, string Input, string? H0, int[]? Lengths, bool BatchFirst,
        Nonlinearity Nonlinearity, string OutputDirectory, DType? DType);

    public static Command Create(TextWriter output, TextWriter error)
    {
        var weights = new Option<FileInfo>("--weights")
        {
            Description = "The nn.RNN's weights: a torch.save file (.pt/.pth) or safetensors, e.g. torch.save(rnn.state_dict(), 'model.pt').",
            HelpName = "model.pt|model.safetensors",
            Required = true,
        }.AcceptExistingOnly();
        var prefix = new Option<string>("--prefix")
        {
            Description = "The RNN's module path inside a whole-model checkpoint, e.g. 'encoder.rnn.'; empty when the file holds just the RNN.",
            DefaultValueFactory = _ => "",
        };
        var input = new Option<FileInfo>("--input")
        {
            Description = "Input .npy (float32 or float64): (L, N, H_in), (N, L, H_in) with --batch-first, or unbatched (L, H_in).",
            HelpName = "x.npy",
            Required = true,
        }.AcceptExistingOnly();
        var h0 = new Option<FileInfo>("--h0")
        {
            Description = "Initial hidden state .npy: (num_layers*D, N, H), or (num_layers*D, H) for unbatched input. Default: zeros.",
            HelpName = "h0.npy",
        }.AcceptExistingOnly();
        var lengths = new Option<int[]>("--lengths")
        {
            Description = "Valid length of each sequence of a padded 3-D input, in batch order (like pack_padded_sequence); outputs past a length are 0.",
            HelpName = "5,3,2",
            Arity = ArgumentArity.ExactlyOne,
            CustomParser = ParseLengths,
        };
        var batchFirst = new Option<bool>("--batch-first")
        {
            Description = "The input and output are (N, L, ·) as with batch_first=True (h0 and h_n never are). Checkpoints do not record it.",
        };
        var nonlinearity = new Option<string>("--nonlinearity")
        {
            Description = "The nn.RNN's nonlinearity. Checkpoints do not record it: give relu for a model built with nonlinearity='relu'.",
            DefaultValueFactory = _ => "tanh",
        }.OneOf("tanh", "relu");
        var outputDirectory = new Option<string>("--output-dir")
        {
            Description = "Where output.npy and h_n.npy are written (created if missing; existing files are replaced).",
            HelpName = "DIR",
            DefaultValueFactory = _ => ".",
        };
        var dtype = new Option<string>("--dtype")
        {
            Description = "Compute and write in this dtype. Default: the weights' dtype when all are float64 or all float32, else float32.",
        }.OneOf("float32", "float64");

        var command = new Command("run", "Runs a PyTorch-trained nn.RNN on a NumPy .npy input; writes output.npy and h_n.npy.")
        {
            weights, prefix, input, h0, lengths, batchFirst, nonlinearity, outputDirectory, dtype,
        };
        command.SetAction(result => Execute(new Settings(
            result.GetRequiredValue(weights).ToString(),
            result.GetRequiredValue(prefix),
            result.GetRequiredValue(input).ToString(),
            result.GetValue(h0)?.ToString(),
            // An absent array option reads as an empty array, which is not "no lengths".
            result.GetResult(lengths) is null ? null : result.GetRequiredValue(lengths),
            result.GetValue(batchFirst),
            result.GetRequiredValue(nonlinearity) == "relu" ? Nonlinearity.Relu : Nonlinearity.Tanh,
            result.GetRequiredValue(outputDirectory),
            result.GetValue(dtype) switch { "float32" => DType.Float32, "float64" => DType.Float64, _ => null }), output, error));
        return command;
    }

    // AcceptOnlyFromAmong's error spans several lines and does not name the option.
    private static Option<string> OneOf(this Option<string> option, params string[] values)
    {
        option.HelpName = string.Join("|", values);
        option.Validators.Add(result =>
        {
            string? value = result.GetValueOrDefault<string>();
            if (!values.Contains(value))
                result.AddError($"{option.Name} '{value}': must be {string.Join(" or ", values)}.");
        });
        return option;
    }

    private static int[]? ParseLengths(ArgumentResult result)
    {
        string text = result.Tokens[0].Value;
        string[] parts = text.Split(',');
        var lengths = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i].Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out lengths[i]))
            {
                result.AddError($"--lengths '{text}': '{parts[i]}' is not a whole number; give one length per sequence, e.g. --lengths 5,3,2.");
                return null;
            }
        }
        return lengths;
    }

    private static int Execute(Settings settings, TextWriter output, TextWriter error)
    {
        try
        {
            // The weights are read twice (their dtype, then the tensors), so a pipe is buffered once here.
            using FileStream file = File.OpenRead(settings.Weights);
            Stream weights = SeekableStream.Of(file, $"'{settings.Weights}'");
            DType? detected = settings.DType is null ? WeightsDType.Detect(weights, settings.Prefix) : null;
            DType dtype = settings.DType ?? detected ?? DType.Float32;
            string why = settings.DType is not null ? "--dtype" : detected is not null ? "the weights' dtype" : "default; the weights' dtype is mixed or unknown";
            return dtype == DType.Float32
                ? Run<float>(settings, weights, $"{dtype.Name()} ({why})", output)
                : Run<double>(settings, weights, $"{dtype.Name()} ({why})", output);
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            // Every mistake the user can fix surfaces as one of these, with a message written for them (the
            // library's shape checks keep PyTorch's wording); anything else is a bug and keeps its stack trace.
            error.WriteLine($"elman-rnn run: {OneLine(e)}");
            return App.UsageError;
        }
    }

    private static int Run<T>(Settings settings, Stream weights, string dtypeText, TextWriter o) where T : unmanaged, IFloatingPointIeee754<T>
    {
        RnnLayer<T> rnn = RnnCheckpoint.LoadLayer<T>(weights, $"'{settings.Weights}'", settings.Prefix, settings.Nonlinearity, settings.BatchFirst);
        // PyTorch's rnn.eval(). A loaded layer has dropout 0, so this changes nothing today; inference should not rely on that.
        rnn.Training = false;
        NpyArray<T> input = Npy.Read<T>(settings.Input);
        NpyArray<T>? h0 = settings.H0 is null ? null : Npy.Read<T>(settings.H0);

        var (output, hn) = settings.Lengths is null
            ? rnn.Forward(input.Values, h0?.Values)
            : rnn.Forward(input.Values, settings.Lengths, h0?.Values);

        string outputPath = Path.Combine(settings.OutputDirectory, "output.npy"), hnPath = Path.Combine(settings.OutputDirectory, "h_n.npy");
        WriteAll(settings.OutputDirectory, [(outputPath, output), (hnPath, hn)]);

        string nonlinearity = settings.Nonlinearity == Nonlinearity.Relu ? "relu" : "tanh";
        o.WriteLine($"model    {rnn}, nonlinearity={nonlinearity}, {dtypeText}");
        o.WriteLine($"input    {Describe(settings.Input, input)}");
        if (h0 is { } initial)
            o.WriteLine($"h0       {Describe(settings.H0!, initial)}");
        if (settings.Lengths is not null)
            o.WriteLine($"lengths  {string.Join(",", settings.Lengths)}");
        o.WriteLine($"output   {Shape(output)} -> {outputPath}");
        o.WriteLine($"h_n      {Shape(hn)} -> {hnPath}");
        return 0;

        static string Describe(string path, NpyArray<T> array)
        {
            DType computed = typeof(T) == typeof(float) ? DType.Float32 : DType.Float64;
            return $"{path} {Shape(array.Values)} {array.Stored.Name()}" + (array.Stored == computed ? "" : $", converted to {computed.Name()}");
        }
    }

    /// <summary>
    /// Writes every file or, on failure, none: each goes to a temporary file in <paramref name="directory"/> first,
    /// and only when all are complete are they renamed into place. A file they replace is renamed aside until then,
    /// so that a failed rename can put it back and leave the directory as it was (docs/cli.md: nothing written).
    /// </summary>
    private static void WriteAll<T>(string directory, (string Path, Tensor<T> Values)[] files) where T : unmanaged, IFloatingPointIeee754<T>
    {
        App.CreateOutputDirectory(directory);

        string tag = $".{Guid.NewGuid():N}";
        string[] temporary = Array.ConvertAll(files, f => f.Path + tag + ".tmp"), aside = Array.ConvertAll(files, f => f.Path + tag + ".old");
        var wasAside = new bool[files.Length];
        int placed = 0;
        try
        {
            for (int i = 0; i < files.Length; i++)
                Npy.Write(temporary[i], files[i].Values);
            for (; placed < files.Length; placed++)
            {
                if (File.Exists(files[placed].Path))
                {
                    File.Move(files[placed].Path, aside[placed]);
                    wasAside[placed] = true;
                }
                File.Move(temporary[placed], files[placed].Path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Undo in reverse: the files already placed are this run's and go; whatever was renamed aside comes back.
            for (int i = Math.Min(placed, files.Length - 1); i >= 0; i--)
            {
                if (i < placed)
                    File.Delete(files[i].Path);
                if (wasAside[i])
                    File.Move(aside[i], files[i].Path);
            }
            foreach (string path in temporary)
                File.Delete(path);
            throw new IOException($"cannot write {string.Join(" and ", files.Select(f => Path.GetFileName(f.Path)))} to '{directory}': {e.Message}", e);
        }
        foreach (string path in aside)
            File.Delete(path);
    }

    private static string Shape<T>(Tensor<T> tensor) => Npy.ShapeText(Array.ConvertAll(tensor.Lengths.ToArray(), d => (long)d));

    // ArgumentException appends " (Parameter 'input')", which names a C# parameter the user never saw.
    private static string OneLine(Exception e)
    {
        string message = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
        return App.OneLine(message);
    }
}
