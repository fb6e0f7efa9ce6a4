using System.Globalization;
using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Serialization;
using ElmanRnn.Training;

namespace ElmanRnn.Tests.Training;

/// <summary>
/// Oracle: torch.optim as PyTorch 2.10 runs it on CPU, on libtorch 2.10's kernels and autograd. Every file under
/// Fixtures/optim was written by <c>tests/ElmanRnn.TorchOracle optim-fixtures</c>: a 2-layer <c>nn.RNN</c> (3 → 4, L=5,
/// N=2, time-major, no h0) and an <c>nn.Linear(D·4, 2)</c> head on every time step, <c>mse_loss</c> (mean) against a
/// fixed target, and 15 steps of zero_grad, forward, backward, optional <c>clip_grad_norm_</c>/<c>clip_grad_value_</c>
/// over all parameters, <c>optimizer.step()</c> — torch.optim's own Python update (<c>_single_tensor_sgd</c>,
/// <c>_single_tensor_adam</c>) replayed op for op on libtorch tensors, which TorchSharp's SGD reproduces bit for bit
/// and its Adam/AdamW within rounding (see the oracle's README). A file holds the initial parameters, input, target,
/// the hyper-parameters (metadata), the loss before every step, clip_grad_norm_'s total norms, the learning rate of
/// every step where an <c>ExponentialLR</c> changed it (<c>lr</c>), and every parameter after every step
/// (<c>after.NAME</c>, shape (15, ...)).
/// Here the same 15 steps run through RnnLayer's Forward(…, tape)/Backward, Linear, Losses.MseLoss, GradClip and
/// Sgd/Adam/AdamW, and each step's loss, clip norm and every parameter are compared.
/// Tolerance, per tensor per step: max |ours − torch| ≤ 1e-10 · max(1, max |torch|) for float64 and
/// ≤ 1e-4 · max(1, max |torch|) for float32 (the two sides' rounding differs: summation orders, FMA, lerp's formula).
/// </summary>
public class OptimizerTrajectoryTests
{
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "optim");

    public static IEnumerable<object[]> Files() =>
        Directory.EnumerateFiles(Root, "*.safetensors").Order().Select(f => new object[] { Path.GetFileName(f) });

    [Fact]
    public void EveryConfigurationIsThere()
    {
        // 15 configurations × {float32, float64}: the issue's, then maximize=True and a learning rate that changes
        // between steps (ExponentialLR), as a user's scheduler sets it.
        string[] cases =
        [
            "sgd", "sgd_momentum_dampening", "sgd_nesterov", "sgd_weight_decay", "adam", "adam_weight_decay",
            "adam_amsgrad", "adamw", "adamw_amsgrad", "sgd_momentum_clip_norm", "sgd_clip_value", "adam_clip_norm_inf",
            "sgd_nesterov_maximize_exponential_lr", "adam_maximize_exponential_lr", "adamw_exponential_lr",
        ];
        Files().Select(f => (string)f[0]).Should().BeEquivalentTo(
            cases.SelectMany(c => new[] { c + "_f32.safetensors", c + "_f64.safetensors" }));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void MatchesTorchOptim(string file)
    {
        string path = Path.Combine(Root, file);
        if (SafeTensors.ReadMetadata(path)["dtype"] == "float64") Replay<double>(path, 1e-10);
        else Replay<float>(path, 1e-4);
    }

    private static void Replay<T>(string path, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var meta = SafeTensors.ReadMetadata(path);
        var tensors = SafeTensors.Read<T>(path);
        var exact = SafeTensors.Read<double>(path);   // loss and clip_norm are stored as float64
        int steps = Int(meta, "steps");

        var layer = new RnnLayer<T>(new RnnOptions
        {
            InputSize = Int(meta, "input_size"),
            HiddenSize = Int(meta, "hidden_size"),
            NumLayers = Int(meta, "num_layers"),
            Nonlinearity = meta["nonlinearity"] == "relu" ? Nonlinearity.Relu : Nonlinearity.Tanh,
            Bias = meta["bias"] == "true",
            Bidirectional = meta["bidirectional"] == "true",
        }) { Training = false };
        layer.LoadStateDict(layer.Parameters().ToDictionary(p => p.Name, p => tensors[p.Name]));
        var head = new Linear<T>((layer.Options.Bidirectional ? 2 : 1) * layer.Options.HiddenSize, Int(meta, "output_size"));
        TensorRows(tensors["head.weight"]).CopyTo(head.Weight.Values, 0);
        TensorRows(tensors["head.bias"]).CopyTo(head.Bias.Values, 0);

        // The optimizer's order: the RNN's parameters in PyTorch's order, then the head's (as torch got them).
        var parameters = layer.Parameters().Concat(head.Parameters()).ToArray();
        string[] names = layer.Parameters().Select(p => p.Name).Concat(head.Parameters().Select(p => "head." + p.Name)).ToArray();
        var (step, setLearningRate) = Optimizer(meta, parameters);
        Tensor<T> input = tensors["input"], target = tensors["target"];
        double[] losses = exact["loss"].ToDoubles();
        double[]? clipNorms = exact.TryGetValue("clip_norm", out var n) ? n.ToDoubles() : null;
        double[]? learningRates = exact.TryGetValue("lr", out var r) ? r.ToDoubles() : null;

        for (int t = 0; t < steps; t++)
        {
            layer.ZeroGrad();
            head.ZeroGrad();
            var tape = new RnnTape<T>();
            var (output, _) = layer.Forward(input, null, tape);
            double loss = Losses.MseLoss(head.Forward(output), target, out var gradPrediction);
            layer.Backward(tape, head.Backward(output, gradPrediction), null);
            Relative([loss], [losses[t]]).Should().BeLessThanOrEqualTo(tolerance, $"loss before step {t + 1}");

            switch (meta["clip"])
            {
                case "norm":
                    double total = GradClip.ClipGradNorm(parameters, Double(meta, "max_norm"), Double(meta, "norm_type"));
                    Relative([total], [clipNorms![t]]).Should().BeLessThanOrEqualTo(tolerance, $"clip_grad_norm_ total norm at step {t + 1}");
                    break;
                case "value":
                    GradClip.ClipGradValue(parameters, Double(meta, "clip_value"));
                    break;
            }

            if (learningRates is not null)
                setLearningRate(learningRates[t]);   // what the scheduler set before this step
            step();
            for (int i = 0; i < parameters.Length; i++)
            {
                double[] expected = StepSlice(tensors["after." + names[i]], t);
                Relative(parameters[i].Value.ToDoubles(), expected).Should()
                    .BeLessThanOrEqualTo(tolerance, $"{names[i]} after step {t + 1}");
            }
        }
    }

    /// <summary>Our optimizer for the fixture's torch.optim configuration: its step and its learning-rate setter. The
    /// "defaults" cases were run as <c>torch.optim.X(params)</c>; they construct ours without arguments, so our
    /// defaults are checked too.</summary>
    private static (Action Step, Action<double> SetLearningRate) Optimizer<T>(IReadOnlyDictionary<string, string> meta,
        Parameter<T>[] ps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool defaults = meta["defaults"] == "true", maximize = meta["maximize"] == "true";
        double lr = Double(meta, "lr"), wd = Double(meta, "weight_decay");
        double b1 = Double(meta, "beta1"), b2 = Double(meta, "beta2"), eps = Double(meta, "eps");
        bool amsgrad = meta["amsgrad"] == "true";
        switch (meta["optimizer"])
        {
            case "sgd":
                var sgd = new Sgd<T>(ps, lr, Double(meta, "momentum"), Double(meta, "dampening"), wd, meta["nesterov"] == "true")
                    { Maximize = maximize };
                return (sgd.Step, value => sgd.LearningRate = value);
            case "adam":
            case "adamw":
                Adam<T> adam = meta["optimizer"] == "adam"
                    ? defaults ? new Adam<T>(ps) : new Adam<T>(ps, lr, b1, b2, eps, wd, amsgrad)
                    : defaults ? new AdamW<T>(ps) : new AdamW<T>(ps, lr, b1, b2, eps, wd, amsgrad);
                adam.Maximize = maximize;
                return (adam.Step, value => adam.LearningRate = value);
            default:
                throw new InvalidDataException($"Unknown optimizer {meta["optimizer"]}");
        }
    }

    private static double Relative(double[] actual, double[] expected) => TestTensors.RelativeError(actual, expected);

    /// <summary>Row <paramref name="t"/> of a (steps, ...) trajectory tensor, flattened.</summary>
    private static double[] StepSlice<T>(Tensor<T> trajectory, int t) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double[] all = trajectory.ToDoubles();
        int per = all.Length / (int)trajectory.Lengths[0];
        return all.AsSpan(t * per, per).ToArray();
    }

    private static T[] TensorRows<T>(Tensor<T> tensor) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var values = new T[tensor.FlattenedLength];
        tensor.FlattenTo(values);
        return values;
    }

    private static int Int(IReadOnlyDictionary<string, string> meta, string key) => int.Parse(meta[key], CultureInfo.InvariantCulture);

    private static double Double(IReadOnlyDictionary<string, string> meta, string key) =>
        double.Parse(meta[key], CultureInfo.InvariantCulture);
}
