using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ElmanRnn.TorchOracle;

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
        // maximize=True and an lr that changes between steps (ExponentialLR). No weight decay in the SGD case:
        // TorchSharp's SGD (the cross-check) still flips the sign at the final update, torch ≤ 1.12's rule, which
        // differs from torch 2.x's negated gradient once weight decay is added; without it the two are bit for bit
        // the same. Adam's L2 case covers maximize before weight decay.
        new() { Name = "sgd_nesterov_maximize_exponential_lr", Optimizer = "sgd", Lr = 0.02, Momentum = 0.9, Nesterov = true, Maximize = true, LrGamma = 0.85 },
        new() { Name = "adam_maximize_exponential_lr", Optimizer = "adam", Lr = 0.02, WeightDecay = 0.05, Maximize = true, LrGamma = 0.8 },
        new() { Name = "adamw_exponential_lr", Optimizer = "adamw", Lr = 0.01, WeightDecay = 0.1, LrGamma = 0.9, Nonlinearity = "relu" },
    ];

    /// <param name="directory">Where the trajectories go.</param>
    /// <param name="force">Replace committed files that changed beyond the parity bounds instead of failing
    /// (<see cref="Regeneration"/>).</param>
    public static int Write(DirectoryInfo directory, bool force)
    {
        set_num_threads(1);   // reruns on one machine must write identical bytes
        directory.Create();
        var torchSharpWorst = new Dictionary<string, double>();
        var index = 0;
        using var regeneration = new Regeneration(force);
        foreach (var c in Cases)
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            using var scope = NewDisposeScope();
            var fileName = $"{c.Name}_{(dtype == ScalarType.Float32 ? "f32" : "f64")}.safetensors";
            var staged = Path.Combine(regeneration.Staging, fileName);
            WriteCase(staged, c, dtype, BaseSeed + index++);
            var worst = Verify(staged);
            var key = $"{c.Optimizer} {(dtype == ScalarType.Float32 ? "f32" : "f64")}";
            torchSharpWorst[key] = Math.Max(torchSharpWorst.GetValueOrDefault(key), worst);
            regeneration.Place(staged, Path.Combine(directory.FullName, fileName), FixtureComparison.SafeTensors);
        }

        foreach (var (key, worst) in torchSharpWorst.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            Console.WriteLine($"TorchSharp torch.optim vs torch.optim's Python algorithm, {key}: max relative difference {worst:G3}");
        return regeneration.Report($"Optimizer trajectories (each verified, {index} in all)", directory.FullName);
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
    private sealed record Trajectory(double[] Losses, double[] ClipNorms, double[] ClippedFraction, double[] Lrs, List<Tensor> After);

    private static Trajectory Train(Model model, OptimCase c, Tensor input, Tensor target, bool torchSharpOptim)
    {
        var parameters = model.Parameters.Select(p => p.Parameter).ToList();
        Action<double> step = torchSharpOptim ? TorchSharpOptimizer(c, parameters) : new PythonOptimizer(c, parameters).Step;
        var lrs = new double[OptimCase.Steps];
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
            lrs[t] = t == 0 ? c.Lr : lrs[t - 1] * c.LrGamma;   // ExponentialLR: group["lr"] * gamma after each step
            using (no_grad()) step(lrs[t]);
            using (no_grad())
                for (var i = 0; i < parameters.Count; i++)
                    after[i][t].copy_(parameters[i]);
        }

        return new Trajectory(losses, norms, clipped, lrs, after);
    }

    // The step at a given learning rate: TorchSharp's param group takes it as a scheduler would set it.
    private static Action<double> TorchSharpOptimizer(OptimCase c, List<Parameter> parameters)
    {
        switch (c.Optimizer)
        {
            case "sgd":
            {
                var sgd = optim.SGD(parameters, c.Lr, c.Momentum, c.Dampening, c.WeightDecay, c.Nesterov, c.Maximize);
                return lr => { sgd.ParamGroups.First().LearningRate = lr; sgd.step(); };
            }
            case "adam":
            {
                var adam = optim.Adam(parameters, c.Lr, c.Beta1, c.Beta2, c.Eps, c.WeightDecay, c.Amsgrad, c.Maximize);
                return lr => { adam.ParamGroups.First().LearningRate = lr; adam.step(); };
            }
            case "adamw":
            {
                // TorchSharp's AdamW defaults weight_decay to 0 (torch: 1e-2); the case always states it.
                var adamw = optim.AdamW(parameters, c.Lr, c.Beta1, c.Beta2, c.Eps, c.WeightDecay, c.Amsgrad, c.Maximize);
                return lr => { adamw.ParamGroups.First().LearningRate = lr; adamw.step(); };
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
        if (c.LrGamma != 1) tensors.Add(("lr", tensor(r.Lrs)));
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
            if (c.LrGamma != 1) pairs.Add(("lr", tensor(r.Lrs)));
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
    /// statement for statement on libtorch tensors, with Python's float scalars as doubles, at the learning rate the
    /// step is given (param_groups[0]["lr"]). differentiable=False, capturable=False.
    /// </summary>
    private sealed class PythonOptimizer(OptimCase c, List<Parameter> parameters)
    {
        private double _lr = c.Lr;
        private readonly Tensor?[] _momentumBuffer = new Tensor?[parameters.Count];
        private readonly Tensor[] _expAvg = parameters.Select(p => zeros_like(p)).ToArray();
        private readonly Tensor[] _expAvgSq = parameters.Select(p => zeros_like(p)).ToArray();
        private readonly Tensor[] _maxExpAvgSq = parameters.Select(p => zeros_like(p)).ToArray();
        private readonly long[] _stepCount = new long[parameters.Count];

        public void Step(double lr)
        {
            _lr = lr;
            for (var i = 0; i < parameters.Count; i++)
            {
                if (c.Optimizer == "sgd") Sgd(i);
                else Adam(i, decoupled: c.Optimizer == "adamw");
            }
        }

        private void Sgd(int i)
        {
            var param = parameters[i];
            var grad = c.Maximize ? param.grad!.neg() : param.grad!;   // grads[i] if not maximize else -grads[i]
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

            param.add_(grad, alpha: -_lr);
        }

        private void Adam(int i, bool decoupled)
        {
            var param = parameters[i];
            var grad = c.Maximize ? param.grad!.neg() : param.grad!;   // grads[i] if not maximize else -grads[i]
            var expAvg = _expAvg[i];
            var expAvgSq = _expAvgSq[i];
            _stepCount[i] += 1;   // step_t += 1 (a float tensor in Python; small integers are exact)

            if (c.WeightDecay != 0)
            {
                if (decoupled) param.mul_(1 - _lr * c.WeightDecay);
                else grad = grad.add(param, alpha: c.WeightDecay);
            }

            // exp_avg.lerp_(grad, 1 - beta1): TorchSharp has only the tensor-weight overload; a 0-dim weight of the
            // parameter's dtype holds the value the Scalar overload converts to.
            expAvg.lerp_(grad, tensor(1 - c.Beta1, param.dtype));
            expAvgSq.mul_(c.Beta2).addcmul_(grad, grad, value: 1 - c.Beta2);

            double step = _stepCount[i];
            var biasCorrection1 = 1 - Math.Pow(c.Beta1, step);
            var biasCorrection2 = 1 - Math.Pow(c.Beta2, step);
            var stepSize = _lr / biasCorrection1;
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
