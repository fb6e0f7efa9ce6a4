using System.Numerics.Tensors;
using ElmanRnn.Training;

namespace ElmanRnn.Cli;

/// <summary>What one <c>train</c> run trains: sizes, optimiser and the seed everything random is drawn from.</summary>
internal sealed record TrainOptions
{
    public int SeqLen { get; init; } = 100;
    public int Hidden { get; init; } = 100;
    public int Batch { get; init; } = 50;
    public double Lr { get; init; } = 1e-3;
    public double Clip { get; init; } = 1.0;
    public int Seed { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;
    public int HeldOut { get; init; } = 1000;
}

/// <summary>
/// The IRNN of Le, Jaitly &amp; Hinton (2015) on the adding problem: a one-layer ReLU <see cref="RnnLayer{T}"/> whose
/// W_hh starts as the identity and whose biases start at 0 (W_ih from N(0, 0.001²)), and a <see cref="Linear{T}"/>
/// head reading the last hidden state; trained with Adam on the mean squared error, gradients clipped to a total
/// norm. PyTorch twin: docs/training.md.
/// </summary>
internal sealed class AddingTrainer
{
    private readonly TrainOptions _options;
    private readonly Adam<float> _optimizer;
    private readonly Parameter<float>[] _parameters;
    private readonly RnnTape<float> _tape = new();
    private readonly Random _trainData;
    private readonly float[] _x, _y;                  // x: (L, N, 2), y: (N), refilled every step
    private readonly Tensor<float> _input, _target;   // views of _x as (L, N, 2) and of _y as (1, N, 1)
    private readonly Tensor<float> _output, _hn;      // (L, N, H), not read: only h_n is; (1, N, H)
    private readonly Tensor<float> _heldOutInput, _heldOutTarget, _heldOutOutput, _heldOutHn;

    public AddingTrainer(TrainOptions options)
    {
        _options = options;
        // Three independent streams from one seed, so the held-out set does not depend on the batch size.
        var root = new Random(options.Seed);
        var init = new Random(root.Next());
        _trainData = new Random(root.Next());
        var heldOutData = new Random(root.Next());

        Rnn = new RnnLayer<float>(new RnnOptions
            { InputSize = AddingProblem.InputSize, HiddenSize = options.Hidden, Nonlinearity = Nonlinearity.Relu }, init)
            { MaxDegreeOfParallelism = options.Threads };
        Head = new Linear<float>(options.Hidden, 1, init);
        InitialiseAsIrnn(Rnn, init);
        _parameters = [.. Rnn.Parameters(), .. Head.Parameters()];
        _optimizer = new Adam<float>(_parameters, options.Lr);

        int l = options.SeqLen, n = options.Batch, h = options.Hidden, m = options.HeldOut;
        _x = new float[l * n * AddingProblem.InputSize];
        _y = new float[n];
        _input = Tensor.Create(_x, [l, n, AddingProblem.InputSize]);
        _output = Tensor.Create(new float[l * n * h], [l, n, h]);
        _hn = Tensor.Create(new float[n * h], [1, n, h]);
        _target = Tensor.Create(_y, [1, n, 1]);

        var heldOutX = new float[l * m * AddingProblem.InputSize];
        var heldOutY = new float[m];
        AddingProblem.Fill(heldOutData, l, m, heldOutX, heldOutY);
        _heldOutInput = Tensor.Create(heldOutX, [l, m, AddingProblem.InputSize]);
        _heldOutTarget = Tensor.Create(heldOutY, [1, m, 1]);
        _heldOutOutput = Tensor.Create(new float[l * m * h], [l, m, h]);   // (L, M, H), not read: only h_n is
        _heldOutHn = Tensor.Create(new float[m * h], [1, m, h]);           // (1, M, H)
    }

    public RnnLayer<float> Rnn { get; }

    public Linear<float> Head { get; }

    /// <summary>One step on a fresh batch: forward, MSE, backward, clip, Adam. Returns the batch's loss before the update.</summary>
    public double Step()
    {
        AddingProblem.Fill(_trainData, _options.SeqLen, _options.Batch, _x, _y);
        Rnn.ZeroGrad();
        Head.ZeroGrad();
        Rnn.Forward(_input, null, _output, _hn, _tape);                   // into the step's own tensors
        Tensor<float> prediction = Head.Forward(_hn);                       // (1, N, 1)
        double loss = Losses.MseLoss(prediction, _target, out Tensor<float> gradPrediction);
        Tensor<float> gradHn = Head.Backward(_hn, gradPrediction);          // (1, N, H)
        Rnn.Backward(_tape, gradOutput: null, gradHn, gradInput: null, gradH0: null);   // the input is data
        GradClip.ClipGradNorm(_parameters, _options.Clip);
        _optimizer.Step();
        return loss;
    }

    /// <summary>The mean squared error on the fixed held-out set (the same sequences at every call).</summary>
    public double HeldOutMse()
    {
        Rnn.Forward(_heldOutInput, null, _heldOutOutput, _heldOutHn);
        return Losses.MseLoss(Head.Forward(_heldOutHn), _heldOutTarget, out _);
    }

    /// <summary>The model's state dict as PyTorch names it for a module with attributes <c>rnn</c> and <c>head</c>.</summary>
    public Dictionary<string, Tensor<float>> StateDict()
    {
        var state = new Dictionary<string, Tensor<float>>();
        foreach (var (name, value) in Rnn.StateDict())
            state["rnn." + name] = value;
        state["head.weight"] = Head.Weight.Value;
        state["head.bias"] = Head.Bias.Value;
        return state;
    }

    // Le et al.: "the recurrent weight matrix initialized to the identity matrix and biases to zero", the other weights
    // Gaussian with standard deviation 0.001. Writes through Parameter.Value are seen by the next Forward.
    private static void InitialiseAsIrnn(RnnLayer<float> rnn, Random random)
    {
        foreach (Parameter<float> p in rnn.Parameters())
        {
            Tensor<float> value = p.Value;
            switch (p.Name)
            {
                case "weight_ih_l0":   // (H, 2)
                    for (int r = 0; r < p.Shape[0]; r++)
                        for (int c = 0; c < p.Shape[1]; c++)
                            value[[r, c]] = (float)(0.001 * StandardNormal(random));
                    break;
                case "weight_hh_l0":   // (H, H)
                    value.Fill(0);
                    for (int i = 0; i < p.Shape[0]; i++)
                        value[[i, i]] = 1;
                    break;
                default:               // bias_ih_l0, bias_hh_l0: (H)
                    value.Fill(0);
                    break;
            }
        }
    }

    // Box–Muller: one N(0, 1) sample from two uniforms.
    private static double StandardNormal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
