namespace ElmanRnn;

/// <summary>
/// The constructor arguments of <c>torch.nn.RNN</c>, with PyTorch's defaults. Validated when an
/// <see cref="RnnLayer{T}"/> is built from them.
/// </summary>
public sealed record RnnOptions
{
    /// <summary>H_in: the number of expected features in the input (PyTorch <c>input_size</c>), &gt; 0.</summary>
    public required int InputSize { get; init; }

    /// <summary>H: the number of features in the hidden state (PyTorch <c>hidden_size</c>), &gt; 0.</summary>
    public required int HiddenSize { get; init; }

    /// <summary>Number of stacked recurrent layers; layer k &gt; 0 reads layer k-1's output. Default 1.</summary>
    public int NumLayers { get; init; } = 1;

    /// <summary>φ: <see cref="ElmanRnn.Nonlinearity.Tanh"/> (default) or <see cref="ElmanRnn.Nonlinearity.Relu"/>.</summary>
    public Nonlinearity Nonlinearity { get; init; } = Nonlinearity.Tanh;

    /// <summary>When false, no <c>bias_ih</c>/<c>bias_hh</c> parameters exist at all. Default true.</summary>
    public bool Bias { get; init; } = true;

    /// <summary>
    /// When true, batched input and output are (N, L, feature) instead of (L, N, feature). Never applies to h0/h_n,
    /// unbatched input or packed input. Default false.
    /// </summary>
    public bool BatchFirst { get; init; }

    /// <summary>
    /// Probability p in [0, 1] of zeroing each element of every layer's output except the last, in training mode
    /// only (inverted dropout: survivors scaled by 1/(1-p)). Default 0.
    /// </summary>
    public double Dropout { get; init; }

    /// <summary>When true (D = 2), every layer also runs over the reversed sequence and outputs [forward; reverse].</summary>
    public bool Bidirectional { get; init; }
}
