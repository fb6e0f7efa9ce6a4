namespace ElmanRnn;

/// <summary>The recurrence's nonlinearity φ (PyTorch's <c>nonlinearity='tanh'|'relu'</c>).</summary>
public enum Nonlinearity
{
    /// <summary>φ = tanh (PyTorch's default, mode RNN_TANH).</summary>
    Tanh,

    /// <summary>φ = max(0, ·) (mode RNN_RELU).</summary>
    Relu,
}
