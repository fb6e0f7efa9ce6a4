using System.Globalization;
using TorchSharp;
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
    public bool Maximize { get; init; }

    /// <summary>Per-step learning-rate factor, as <c>lr_scheduler.ExponentialLR(optimizer, gamma)</c> applies it after
    /// every step (lr ← lr·gamma in Python floats); 1: a constant lr. The lr of each step is stored as tensor "lr".</summary>
    public double LrGamma { get; init; } = 1;

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
        m["maximize"] = Bool(Maximize);
        if (LrGamma != 1) m["lr_gamma"] = R(LrGamma);   // absent: constant, so the older files stay as they were
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
            Maximize = B("maximize"), LrGamma = m.ContainsKey("lr_gamma") ? D("lr_gamma") : 1,
            Clip = m["clip"], MaxNorm = D("max_norm"), NormType = D("norm_type"), ClipValue = D("clip_value"),
            Nonlinearity = m["nonlinearity"], Bidirectional = B("bidirectional"), Bias = B("bias"),
        };
    }

    private static string R(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Bool(bool value) => value ? "true" : "false";
}
