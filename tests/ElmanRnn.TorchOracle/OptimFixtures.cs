using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ElmanRnn.TorchOracle;

/// <summary>One optimizer configuration of the trajectory fixtures, with the RNN it trains.</summary>
internal sealed record OptimCase
{
    public required string Name { get; init; }
    public required string Optimizer { get; init; }   // "sgd", "adam" or "adamw", torch.optim's class in lower case
    public required double Lr { get; init; }
    public double Momentum { get; init; }
    public double Dampening { get; init; }
    public double WeightDecay { get; init; }
    public bool Nesterov { get; init; }
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Eps { get; init; } = 1e-8;
    public bool Amsgrad { get; init; }

    /// <summary>True when the case is <c>torch.optim.X(params)</c> with every hyper-parameter at torch's default, so
    /// the test constructs its optimizer without arguments and so checks the library's defaults too.</summary>
    public bool Defaults { get; init; }

    public string Clip { get; init; } = "none";   // "none", "norm" (clip_grad_norm_) or "value" (clip_grad_value_)
    public double MaxNorm { get; init; }
    public double NormType { get; init; } = 2;
    public double ClipValue { get; init; }

    public string Nonlinearity { get; init; } = "tanh";
    public bool Bidirectional { get; init; }
    public bool Bias { get; init; } = true;

    public const int NumLayers = 2, InputSize = 3, HiddenSize = 4, SeqLen = 5, Batch = 2, OutputSize = 2, Steps = 15;

    public RnnCase Rnn(ScalarType dtype) => new()
    {
        Nonlinearity = Nonlinearity,
        NumLayers = NumLayers,
        Bidirectional = Bidirectional,
        Bias = Bias,
        Kind = InputKind.TimeMajor,
        HasH0 = false,
        InputSize = InputSize,
        HiddenSize = HiddenSize,
        SeqLen = SeqLen,
        Batch = Batch,
        DType = dtype,
    };

    public Dictionary<string, string> ToMetadata(ScalarType dtype)
    {
        var m = Rnn(dtype).ToMetadata();
        m["case"] = Name;
        m["optimizer"] = Optimizer;
        m["defaults"] = Bool(Defaults);
        m["lr"] = R(Lr);
        m["momentum"] = R(Momentum);
        m["dampening"] = R(Dampening);
        m["weight_decay"] = R(WeightDecay);
        m["nesterov"] = Bool(Nesterov);
        m["beta1"] = R(Beta1);
        m["beta2"] = R(Beta2);
        m["eps"] = R(Eps);
        m["amsgrad"] = Bool(Amsgrad);
        m["maximize"] = "false";
        m["clip"] = Clip;
        m["max_norm"] = R(MaxNorm);
        m["norm_type"] = R(NormType);
        m["clip_value"] = R(ClipValue);
        m["output_size"] = OutputSize.ToString(CultureInfo.InvariantCulture);
        m["loss"] = "mse_mean";
        m["steps"] = Steps.ToString(CultureInfo.InvariantCulture);
        return m;
    }

    public static OptimCase FromMetadata(IReadOnlyDictionary<string, string> m)
    {
        double D(string key) => double.Parse(m[key], CultureInfo.InvariantCulture);
        bool B(string key) => m[key] == "true";
        return new OptimCase
        {
            Name = m["case"], Optimizer = m["optimizer"], Defaults = B("defaults"), Lr = D("lr"),
            Momentum = D("momentum"), Dampening = D("dampening"), WeightDecay = D("weight_decay"),
            Nesterov = B("nesterov"), Beta1 = D("beta1"), Beta2 = D("beta2"), Eps = D("eps"), Amsgrad = B("amsgrad"),
            Clip = m["clip"], MaxNorm = D("max_norm"), NormType = D("norm_type"), ClipValue = D("clip_value"),
            Nonlinearity = m["nonlinearity"], Bidirectional = B("bidirectional"), Bias = B("bias"),
        };
    }

    private static string R(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Bool(bool value) => value ? "true" : "false";
}

/// <summary>
/// Writes the optimizer trajectory fixtures: 15 steps of zero_grad, forward (a 2-layer <c>nn.RNN</c> and an
/// <c>nn.Linear</c> head on every time step), <c>mse_loss</c> (mean), backward, optional gradient clipping and
/// <c>optimizer.step()</c>, from fixed data, for every configuration in float32 and float64.
/// </summary>
/// <remarks>
/// The update rule stored is torch.optim's own Python algorithm (PyTorch 2.10's <c>_single_tensor_sgd</c> and
/// <c>_single_tensor_adam</c>, the path CPU tensors take: foreach and fused default to off on CPU) replayed op for op
/// on libtorch tensors (<see cref="PythonOptimizer"/>). TorchSharp's <c>torch.optim</c> classes are C# re-implementations;
/// its SGD is op for op the Python one and must reproduce the stored trajectory bit for bit. Its Adam/AdamW still
/// update the first moment as PyTorch ≤ 2.0 did, <c>exp_avg.mul_(beta1).add_(grad, alpha=1-beta1)</c>, where PyTorch
/// 2.1+ uses <c>exp_avg.lerp_(grad, 1-beta1)</c> (a rounding-level difference), and TorchSharp's AdamW defaults
/// weight_decay to 0 where torch's is 1e-2; so they are required to agree within 1e-12 (float64) / 1e-5 (float32)
/// relative, and the largest difference is printed. Clipping uses libtorch's C++ <c>torch::nn::utils</c>
/// (TorchSharp's <c>clip_grad_norm_</c>/<c>clip_grad_value_</c>), which computes what Python's does.
/// </remarks>
internal static class OptimFixtures
{
    private const int BaseSeed = 20_280_000;

    public static IReadOnlyList<OptimCase> Cases { get; } =
    [
        new() { Name = "sgd", Optimizer = "sgd", Lr = 0.1 },
        new() { Name = "sgd_momentum_dampening", Optimizer = "sgd", Lr = 0.1, Momentum = 0.9, Dampening = 0.3 },
        new() { Name = "sgd_nesterov", Optimizer = "sgd", Lr = 0.05, Momentum = 0.9, Nesterov = true, Nonlinearity = "relu" },
        new() { Name = "sgd_weight_decay", Optimizer = "sgd", Lr = 0.1, Momentum = 0.5, WeightDecay = 0.05 },
        new() { Name = "adam", Optimizer = "adam", Lr = 1e-3, Defaults = true },
        new() { Name = "adam_weight_decay", Optimizer = "adam", Lr = 0.01, WeightDecay = 0.1, Bidirectional = true },
        new() { Name = "adam_amsgrad", Optimizer = "adam", Lr = 0.02, Beta1 = 0.8, Beta2 = 0.99, Amsgrad = true, Nonlinearity = "relu" },
        new() { Name = "adamw", Optimizer = "adamw", Lr = 1e-3, WeightDecay = 1e-2, Defaults = true },
        new() { Name = "adamw_amsgrad", Optimizer = "adamw", Lr = 0.01, WeightDecay = 0.1, Amsgrad = true, Bias = false },
        new() { Name = "sgd_momentum_clip_norm", Optimizer = "sgd", Lr = 0.1, Momentum = 0.9, Clip = "norm", MaxNorm = 0.05 },
        new() { Name = "sgd_clip_value", Optimizer = "sgd", Lr = 0.1, Clip = "value", ClipValue = 0.01 },
        new() { Name = "adam_clip_norm_inf", Optimizer = "adam", Lr = 0.01, Clip = "norm", MaxNorm = 0.01, NormType = double.PositiveInfinity, Nonlinearity = "relu" },
    ];

    public static int Write(DirectoryInfo directory)
    {
        set_num_threads(1);   // reruns must write identical bytes
        directory.Create();
        long bytes = 0;
        var torchSharpWorst = new Dictionary<string, double>();
        var index = 0;
        foreach (var c in Cases)
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            using var scope = NewDisposeScope();
            var path = Path.Combine(directory.FullName, $"{c.Name}_{(dtype == ScalarType.Float32 ? "f32" : "f64")}.safetensors");
            WriteCase(path, c, dtype, BaseSeed + index++);
            var worst = Verify(path);
            var key = $"{c.Optimizer} {(dtype == ScalarType.Float32 ? "f32" : "f64")}";
            torchSharpWorst[key] = Math.Max(torchSharpWorst.GetValueOrDefault(key), worst);
            bytes += new FileInfo(path).Length;
        }

        foreach (var (key, worst) in torchSharpWorst.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            Console.WriteLine($"TorchSharp torch.optim vs torch.optim's Python algorithm, {key}: max relative difference {worst:G3}");
        Console.WriteLine($"Wrote and verified {index} optimizer trajectories ({bytes} bytes) in {directory.FullName}.");
        return 0;
    }

    /// <summary>The module, its parameters in the order the optimizer sees them (the RNN's in PyTorch's order, then
    /// <c>head.weight</c>, <c>head.bias</c>) and the fixed data.</summary>
    private sealed record Model(RNN Rnn, Linear Head, List<(string Name, Parameter Parameter)> Parameters);

    private static Model Build(OptimCase c, ScalarType dtype)
    {
        var rnn = TorchRnn.Create(c.Rnn(dtype));
        var head = nn.Linear((c.Bidirectional ? 2 : 1) * OptimCase.HiddenSize, OptimCase.OutputSize, dtype: dtype);
        var parameters = rnn.named_parameters()
            .Concat(head.named_parameters().Select(p => ("head." + p.name, p.parameter)))
            .ToList();
        return new Model(rnn, head, parameters);
    }

    /// <summary>What 15 steps give: the loss before each step, the total norm clip_grad_norm_ returned (NaN when
    /// not clipping by norm) and every parameter after each step.</summary>
    private sealed record Trajectory(double[] Losses, double[] ClipNorms, double[] ClippedFraction, List<Tensor> After);

    private static Trajectory Train(Model model, OptimCase c, Tensor input, Tensor target, bool torchSharpOptim)
    {
        var parameters = model.Parameters.Select(p => p.Parameter).ToList();
        Action step = torchSharpOptim ? TorchSharpOptimizer(c, parameters) : new PythonOptimizer(c, parameters).Step;
        var losses = new double[OptimCase.Steps];
        var norms = new double[OptimCase.Steps];
        var clipped = new double[OptimCase.Steps];
        var after = parameters.Select(p => zeros([OptimCase.Steps, .. p.shape], p.dtype)).ToList();
        for (var t = 0; t < OptimCase.Steps; t++)
        {
            model.Rnn.zero_grad();
            model.Head.zero_grad();
            var (output, _) = model.Rnn.call(input, null);
            var loss = nn.functional.mse_loss(model.Head.call(output), target);
            loss.backward();
            losses[t] = loss.to_type(ScalarType.Float64).item<double>();
            norms[t] = double.NaN;
            if (c.Clip == "norm") norms[t] = nn.utils.clip_grad_norm_(parameters, c.MaxNorm, c.NormType);
            else if (c.Clip == "value")
            {
                clipped[t] = parameters.Sum(p => p.grad!.abs().gt(c.ClipValue).sum().item<long>())
                    / (double)parameters.Sum(p => p.numel());
                nn.utils.clip_grad_value_(parameters, c.ClipValue);
            }
            using (no_grad()) step();
            using (no_grad())
                for (var i = 0; i < parameters.Count; i++)
                    after[i][t].copy_(parameters[i]);
        }

        return new Trajectory(losses, norms, clipped, after);
    }

    private static Action TorchSharpOptimizer(OptimCase c, List<Parameter> parameters)
    {
        switch (c.Optimizer)
        {
            case "sgd":
            {
                var sgd = optim.SGD(parameters, c.Lr, c.Momentum, c.Dampening, c.WeightDecay, c.Nesterov);
                return () => sgd.step();
            }
            case "adam":
            {
                var adam = optim.Adam(parameters, c.Lr, c.Beta1, c.Beta2, c.Eps, c.WeightDecay, c.Amsgrad);
                return () => adam.step();
            }
            case "adamw":
            {
                // TorchSharp's AdamW defaults weight_decay to 0 (torch: 1e-2); the case always states it.
                var adamw = optim.AdamW(parameters, c.Lr, c.Beta1, c.Beta2, c.Eps, c.WeightDecay, c.Amsgrad);
                return () => adamw.step();
            }
            default:
                throw new ArgumentException($"Unknown optimizer '{c.Optimizer}'.");
        }
    }

    private static void WriteCase(string path, OptimCase c, ScalarType dtype, int seed)
    {
        manual_seed(seed);
        var model = Build(c, dtype);
        var input = randn([OptimCase.SeqLen, OptimCase.Batch, OptimCase.InputSize], dtype);
        var target = randn([OptimCase.SeqLen, OptimCase.Batch, OptimCase.OutputSize], dtype);
        var tensors = model.Parameters.Select(p => (p.Name, (Tensor)p.Parameter.detach().clone())).ToList();
        tensors.Add(("input", input));
        tensors.Add(("target", target));

        var r = Train(model, c, input, target, torchSharpOptim: false);
        if (c.Clip == "norm" && r.ClipNorms.Any(n => !(n > c.MaxNorm)))
            throw new InvalidOperationException($"{path}: max_norm {c.MaxNorm} does not clip in every step: {string.Join(", ", r.ClipNorms)}.");
        if (c.Clip == "value" && r.ClippedFraction.Any(f => f is < 0.1 or > 0.9))
            throw new InvalidOperationException($"{path}: clip_value {c.ClipValue} clips too few or too many elements: {string.Join(", ", r.ClippedFraction)}.");
        tensors.Add(("loss", tensor(r.Losses)));
        if (c.Clip == "norm") tensors.Add(("clip_norm", tensor(r.ClipNorms)));
        tensors.AddRange(model.Parameters.Select((p, i) => ("after." + p.Name, r.After[i])));
        SafetensorsFile.Write(path, tensors, c.ToMetadata(dtype));
    }

    /// <summary>
    /// Rebuilds the case from the file alone and reruns it: the Python-algorithm replay must reproduce every stored
    /// value bit for bit, as must TorchSharp's SGD; TorchSharp's Adam/AdamW must agree within 1e-12 / 1e-5 relative
    /// (see the class remarks). Returns the largest relative difference of TorchSharp's trajectory.
    /// </summary>
    private static double Verify(string path)
    {
        var (tensors, metadata) = SafetensorsFile.Read(path);
        var c = OptimCase.FromMetadata(metadata);
        var dtype = RnnCase.FromMetadata(metadata, null).DType;
        var expectedNames = new List<string>();
        double worst = 0;
        foreach (var torchSharp in new[] { false, true })
        {
            var model = Build(c, dtype);
            using (no_grad())
                foreach (var (name, p) in model.Parameters)
                    p.copy_(tensors[name]);
            var r = Train(model, c, tensors["input"], tensors["target"], torchSharp);
            var exact = !torchSharp || c.Optimizer == "sgd";
            var pairs = new List<(string, Tensor)> { ("loss", tensor(r.Losses)) };
            if (c.Clip == "norm") pairs.Add(("clip_norm", tensor(r.ClipNorms)));
            pairs.AddRange(model.Parameters.Select((p, i) => ("after." + p.Name, r.After[i])));
            foreach (var (name, value) in pairs)
            {
                var stored = tensors[name];
                if (exact)
                {
                    if (!Tolerance.Identical(value, stored))
                        throw new InvalidOperationException($"{path}: rerun{(torchSharp ? " with TorchSharp's optimizer" : "")} changed '{name}'.");
                }
                else
                {
                    var error = Tolerance.Relative(Tolerance.MaxAbsDifference(value, stored), Tolerance.MaxAbs(stored));
                    if (!(error <= Tolerance.For(dtype)))
                        throw new InvalidOperationException($"{path}: TorchSharp's {c.Optimizer} differs on '{name}' by {error} relative.");
                    worst = Math.Max(worst, error);
                }
            }

            expectedNames = model.Parameters.Select(p => p.Name).Concat(["input", "target"])
                .Concat(pairs.Select(p => p.Item1)).ToList();
        }

        if (!expectedNames.Order(StringComparer.Ordinal).SequenceEqual(tensors.Keys.Order(StringComparer.Ordinal)))
            throw new InvalidOperationException($"{path}: unexpected tensor set {string.Join(", ", tensors.Keys)}.");
        return worst;
    }

    /// <summary>
    /// torch.optim's Python update (PyTorch 2.10 <c>torch/optim/sgd.py</c> <c>_single_tensor_sgd</c>,
    /// <c>torch/optim/adam.py</c> <c>_single_tensor_adam</c>; AdamW is Adam with <c>decoupled_weight_decay=True</c>),
    /// statement for statement on libtorch tensors, with Python's float scalars as doubles. maximize=False,
    /// differentiable=False, capturable=False.
    /// </summary>
    private sealed class PythonOptimizer(OptimCase c, List<Parameter> parameters)
    {
        private readonly Tensor?[] _momentumBuffer = new Tensor?[parameters.Count];
        private readonly Tensor[] _expAvg = parameters.Select(p => zeros_like(p)).ToArray();
        private readonly Tensor[] _expAvgSq = parameters.Select(p => zeros_like(p)).ToArray();
        private readonly Tensor[] _maxExpAvgSq = parameters.Select(p => zeros_like(p)).ToArray();
        private readonly long[] _stepCount = new long[parameters.Count];

        public void Step()
        {
            for (var i = 0; i < parameters.Count; i++)
            {
                if (c.Optimizer == "sgd") Sgd(i);
                else Adam(i, decoupled: c.Optimizer == "adamw");
            }
        }

        private void Sgd(int i)
        {
            var param = parameters[i];
            var grad = param.grad!;
            if (c.WeightDecay != 0)
                grad = grad.add(param, alpha: c.WeightDecay);
            if (c.Momentum != 0)
            {
                var buf = _momentumBuffer[i];
                if (buf is null)
                {
                    buf = grad.clone().detach();
                    _momentumBuffer[i] = buf;
                }
                else
                {
                    buf.mul_(c.Momentum).add_(grad, alpha: 1 - c.Dampening);
                }

                grad = c.Nesterov ? grad.add(buf, alpha: c.Momentum) : buf;
            }

            param.add_(grad, alpha: -c.Lr);
        }

        private void Adam(int i, bool decoupled)
        {
            var param = parameters[i];
            var grad = param.grad!;
            var expAvg = _expAvg[i];
            var expAvgSq = _expAvgSq[i];
            _stepCount[i] += 1;   // step_t += 1 (a float tensor in Python; small integers are exact)

            if (c.WeightDecay != 0)
            {
                if (decoupled) param.mul_(1 - c.Lr * c.WeightDecay);
                else grad = grad.add(param, alpha: c.WeightDecay);
            }

            // exp_avg.lerp_(grad, 1 - beta1): TorchSharp has only the tensor-weight overload; a 0-dim weight of the
            // parameter's dtype holds the value the Scalar overload converts to.
            expAvg.lerp_(grad, tensor(1 - c.Beta1, param.dtype));
            expAvgSq.mul_(c.Beta2).addcmul_(grad, grad, value: 1 - c.Beta2);

            double step = _stepCount[i];
            var biasCorrection1 = 1 - Math.Pow(c.Beta1, step);
            var biasCorrection2 = 1 - Math.Pow(c.Beta2, step);
            var stepSize = c.Lr / biasCorrection1;
            var biasCorrection2Sqrt = Math.Sqrt(biasCorrection2);
            Tensor denom;
            if (c.Amsgrad)
            {
                _maxExpAvgSq[i].copy_(maximum(_maxExpAvgSq[i], expAvgSq));   // torch.maximum(..., out=max_exp_avg_sqs[i])
                denom = (_maxExpAvgSq[i].sqrt() / biasCorrection2Sqrt).add_(c.Eps);
            }
            else
            {
                denom = (expAvgSq.sqrt() / biasCorrection2Sqrt).add_(c.Eps);
            }

            param.addcdiv_(expAvg, denom, value: -stepSize);
        }
    }
}
