namespace ElmanRnn.Benchmarks.Contenders;

/// <summary>One implementation of the RNN forward pass, loaded with a case's weights and input.</summary>
internal interface IContender : IDisposable
{
    /// <summary>Display name: <see cref="Names.Ours"/>, <see cref="Names.LibTorch"/> or <see cref="Names.OnnxRuntime"/>.</summary>
    string Name { get; }

    /// <summary>The timed work: one inference forward pass over the prepared input, results released.</summary>
    void Run();

    /// <summary>
    /// Runs once (untimed) and returns the output as (L, N, D·H), time-major, with zeros past each sequence's length
    /// for packed cases: the common form in which the contenders are compared.
    /// </summary>
    double[] Output();
}
