namespace ElmanRnn.Layout;

/// <summary>How the caller laid out a dense input tensor.</summary>
internal enum InputForm
{
    /// <summary>(L, H_in): one sequence, no batch axis.</summary>
    Unbatched,

    /// <summary>(L, N, H_in): PyTorch's default.</summary>
    TimeMajor,

    /// <summary>(N, L, H_in): batch_first = True.</summary>
    BatchFirst,
}
