using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ElmanRnn.Serialization;
using Spectre.Console;

namespace ElmanRnn.Cli;

/// <summary>
/// <c>elman-rnn train</c>: trains the IRNN (<see cref="AddingTrainer"/>) on the adding problem until the held-out MSE
/// reaches the target or the steps run out, with a live progress bar on a terminal (plain lines otherwise), then
/// writes model.pt, model.safetensors and loss.png and prints one summary line.
/// </summary>
internal static class TrainCommand
{
    /// <summary>What one <c>train</c> was asked to do beyond the model and optimiser.</summary>
    private sealed record Settings(TrainOptions Options, int Steps, double TargetMse, int EvalEvery, string OutputDirectory, bool Quiet);

    /// <summary>The losses a run recorded, for the plot: window means of the training loss and the held-out MSE.</summary>
    private sealed class History
    {
        public List<double> TrainSteps { get; } = [];
        public List<double> TrainLoss { get; } = [];
        public List<double> HeldOutSteps { get; } = [];
        public List<double> HeldOutMse { get; } = [];
    }

    public static Command Create(TextWriter output, TextWriter error)
    {
        var defaults = new TrainOptions();
        var steps = new Option<int>("--steps")
        {
            Description = "The most training steps (one fresh batch each); the run stops earlier once --target-mse is reached.",
            DefaultValueFactory = _ => 10_000,
        }.AtLeast(1);
        var seqLen = new Option<int>("--seq-len")
        {
            Description = "Sequence length L of the adding problem: one mark in the first half, one in the second.",
            DefaultValueFactory = _ => defaults.SeqLen,
        }.AtLeast(2);
        var hidden = new Option<int>("--hidden")
        {
            Description = "Hidden size H of the ReLU RNN.",
            DefaultValueFactory = _ => defaults.Hidden,
        }.AtLeast(1);
        var batch = new Option<int>("--batch")
        {
            Description = "Sequences per training step.",
            DefaultValueFactory = _ => defaults.Batch,
        }.AtLeast(1);
        var lr = new Option<double>("--lr")
        {
            Description = "Adam's learning rate.",
            DefaultValueFactory = _ => defaults.Lr,
        }.Positive();
        var clip = new Option<double>("--clip")
        {
            Description = "Gradients are scaled to at most this total norm before every step (clip_grad_norm_).",
            DefaultValueFactory = _ => defaults.Clip,
        }.Positive();
        var seed = new Option<int>("--seed")
        {
            Description = "Seed of the initial weights, the training batches and the held-out set: the same seed gives the same run.",
            DefaultValueFactory = _ => defaults.Seed,
        };
        var threads = new Option<int>("--threads")
        {
            Description = "Threads for the RNN's forward and backward (results are the same bits for any count).",
            DefaultValueFactory = _ => defaults.Threads,
        }.AtLeast(1);
        var targetMse = new Option<double>("--target-mse")
        {
            Description = "Stop once the held-out MSE is at or below this; 0 trains all --steps. Always predicting 1 scores 1/6.",
            DefaultValueFactory = _ => 0.01,
        }.AtLeastZero();
        var evalEvery = new Option<int>("--eval-every")
        {
            Description = "Evaluate the held-out set every this many steps (and report progress when not on a terminal).",
            DefaultValueFactory = _ => 100,
        }.AtLeast(1);
        var heldOut = new Option<int>("--held-out")
        {
            Description = "Size of the fixed held-out set.",
            DefaultValueFactory = _ => defaults.HeldOut,
        }.AtLeast(1);
        var outputDirectory = new Option<string>("--out")
        {
            Description = "Where model.pt, model.safetensors and loss.png are written (created if missing; existing files are replaced).",
            HelpName = "DIR",
            DefaultValueFactory = _ => "train-out",
        };
        var quiet = new Option<bool>("--quiet")
        {
            Description = "No progress, only the summary line.",
        };

        var command = new Command("train",
            "Trains an IRNN (ReLU RNN, identity-initialised W_hh, Linear head) on the adding problem; writes model.pt, model.safetensors and loss.png.")
        {
            steps, seqLen, hidden, batch, lr, clip, seed, threads, targetMse, evalEvery, heldOut, outputDirectory, quiet,
        };
        command.SetAction(result => Execute(new Settings(
            new TrainOptions
            {
                SeqLen = result.GetValue(seqLen), Hidden = result.GetValue(hidden), Batch = result.GetValue(batch),
                Lr = result.GetValue(lr), Clip = result.GetValue(clip), Seed = result.GetValue(seed),
                Threads = result.GetValue(threads), HeldOut = result.GetValue(heldOut),
            },
            result.GetValue(steps), result.GetValue(targetMse), result.GetValue(evalEvery),
            result.GetRequiredValue(outputDirectory), result.GetValue(quiet)), output, error));
        return command;
    }

    // Parsed here rather than checked by a validator: System.CommandLine runs validators also on a value it could not
    // parse, and then throws from inside them.
    private static Option<int> AtLeast(this Option<int> option, int least)
    {
        option.CustomParser = result =>
        {
            string text = result.Tokens[0].Value;
            if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
                result.AddError($"{option.Name} '{text}': not a whole number.");
            else if (value < least)
                result.AddError($"{option.Name} {value}: must be at least {least}.");
            return value;
        };
        return option;
    }

    private static Option<double> Positive(this Option<double> option) => Number(option, v => v > 0, "a positive finite number");

    private static Option<double> AtLeastZero(this Option<double> option) => Number(option, v => v >= 0, "0 or a positive finite number");

    private static Option<double> Number(Option<double> option, Func<double, bool> allowed, string what)
    {
        option.CustomParser = result =>
        {
            string text = result.Tokens[0].Value;
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) || !allowed(value))
                result.AddError($"{option.Name} '{text}': must be {what}.");
            return value;
        };
        return option;
    }

    private static int Execute(Settings settings, TextWriter output, TextWriter error)
    {
        TrainOptions o = settings.Options;
        // The held-out forward keeps all L × M × H outputs and a training step L × N × H; each must fit one array.
        long largest = (long)o.SeqLen * Math.Max(o.Batch, o.HeldOut) * Math.Max(o.Hidden, AddingProblem.InputSize);
        if (largest > Array.MaxLength)
        {
            error.WriteLine($"elman-rnn train: --seq-len × max(--batch, --held-out) × --hidden = {largest} values, more than one array holds ({Array.MaxLength}); make one smaller.");
            return App.UsageError;
        }
        string directory = settings.OutputDirectory;
        string pt = Path.Combine(directory, "model.pt"), safetensors = Path.Combine(directory, "model.safetensors"), png = Path.Combine(directory, "loss.png");
        try
        {
            // Before training, so that a directory that cannot be made fails in a second, not after minutes.
            App.CreateOutputDirectory(directory);
        }
        catch (IOException e)
        {
            error.WriteLine($"elman-rnn train: {App.OneLine(e.Message)}");
            return App.UsageError;
        }

        var trainer = new AddingTrainer(o);
        var history = new History();
        var clock = Stopwatch.StartNew();
        int done;
        double finalMse;
        if (!settings.Quiet && ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive)
        {
            (done, finalMse) = (0, double.NaN);
            AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn())
                .Start(context =>
                {
                    ProgressTask task = context.AddTask("training", maxValue: settings.Steps);
                    (done, finalMse) = Train(trainer, settings, history, clock, (step, loss, heldOutMse, rate) =>
                    {
                        task.Value = step;
                        task.Description = Markup.Escape(ProgressLine(settings, step, loss, heldOutMse, rate));
                    }, everyStep: true);
                    task.Value = settings.Steps;   // an early stop is done, not 20 % done
                });
        }
        else
        {
            (done, finalMse) = Train(trainer, settings, history, clock, (step, loss, heldOutMse, rate) =>
            {
                if (!settings.Quiet)
                    output.WriteLine(ProgressLine(settings, step, loss, heldOutMse, rate));
            }, everyStep: false);
        }
        TimeSpan elapsed = clock.Elapsed;

        if (!double.IsFinite(finalMse))
        {
            error.WriteLine($"elman-rnn train: the loss diverged (not finite) by step {done}; try a smaller --lr or --clip. Nothing written.");
            return 1;
        }
        try
        {
            var state = trainer.StateDict();
            TorchSave.Write(pt, state);
            SafeTensors.Write(safetensors, state, new Dictionary<string, string>
            {
                ["model"] = "IRNN on the adding problem: rnn = nn.RNN(2, H, nonlinearity='relu'), head = nn.Linear(H, 1) on h_n",
                ["hidden_size"] = o.Hidden.ToString(CultureInfo.InvariantCulture),
                ["seq_len"] = o.SeqLen.ToString(CultureInfo.InvariantCulture),
                ["steps"] = done.ToString(CultureInfo.InvariantCulture),
                ["held_out_mse"] = finalMse.ToString("R", CultureInfo.InvariantCulture),
            });
            LossPlot.Save(png, history.TrainSteps, history.TrainLoss, history.HeldOutSteps, history.HeldOutMse, settings.TargetMse);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"elman-rnn train: cannot write to '{directory}': {App.OneLine(e.Message)}");
            return App.UsageError;
        }

        string target = settings.TargetMse.ToString(CultureInfo.InvariantCulture);
        string outcome = settings.TargetMse == 0 ? "" : finalMse <= settings.TargetMse ? $", target {target} reached" : $", target {target} not reached";
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"trained {done} steps in {elapsed.TotalSeconds:0.0} s ({done / elapsed.TotalSeconds:0.0} steps/s, {o.Threads} thread{(o.Threads == 1 ? "" : "s")}): held-out MSE {finalMse:0.00000}{outcome} (always predicting 1: 0.167) -> {pt}, {safetensors}, {png}"));
        return 0;
    }

    /// <summary>
    /// The loop: a step, and every <see cref="Settings.EvalEvery"/> steps (and at the last) the held-out MSE, recorded
    /// and reported; stops at the target. <paramref name="report"/> gets (step, training loss, held-out MSE, steps/s):
    /// after every step when <paramref name="everyStep"/>, else only with each evaluation.
    /// </summary>
    /// <returns>The steps taken and the final held-out MSE.</returns>
    private static (int Steps, double HeldOutMse) Train(AddingTrainer trainer, Settings settings, History history, Stopwatch clock,
        Action<int, double, double, double> report, bool everyStep)
    {
        double heldOut = trainer.HeldOutMse();
        history.HeldOutSteps.Add(0);
        history.HeldOutMse.Add(heldOut);
        double windowSum = 0, smoothed = double.NaN;
        int windowStart = 0;
        for (int step = 1; step <= settings.Steps; step++)
        {
            double loss = trainer.Step();
            if (!double.IsFinite(loss))
                return (step, loss);
            windowSum += loss;
            // The bar shows a moving average of the batch losses (single batches jitter); the lines, the window's mean.
            smoothed = double.IsNaN(smoothed) ? loss : 0.95 * smoothed + 0.05 * loss;
            bool evaluate = step % settings.EvalEvery == 0 || step == settings.Steps;
            if (evaluate)
            {
                heldOut = trainer.HeldOutMse();
                history.TrainSteps.Add(step);
                history.TrainLoss.Add(windowSum / (step - windowStart));
                history.HeldOutSteps.Add(step);
                history.HeldOutMse.Add(heldOut);
                (windowSum, windowStart) = (0, step);
            }
            if (evaluate || everyStep)
                report(step, everyStep ? smoothed : history.TrainLoss[^1], heldOut, step / clock.Elapsed.TotalSeconds);
            if (evaluate && (!double.IsFinite(heldOut) || (settings.TargetMse > 0 && heldOut <= settings.TargetMse)))
                return (step, heldOut);
        }
        return (settings.Steps, heldOut);
    }

    // The ETA is to the last of --steps; an early stop at the target comes sooner.
    private static string ProgressLine(Settings settings, int step, double loss, double heldOutMse, double rate)
    {
        TimeSpan eta = TimeSpan.FromSeconds(rate > 0 ? Math.Round((settings.Steps - step) / rate) : 0);
        return string.Create(CultureInfo.InvariantCulture,
            $"step {step}/{settings.Steps}  loss {loss:0.0000}  held-out {heldOutMse:0.0000}  {rate:0.0} steps/s  ETA {eta:h\\:mm\\:ss}");
    }
}
