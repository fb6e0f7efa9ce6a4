namespace ElmanRnn.Benchmarks.Contenders;

/// <summary>Contender names as tables and charts show them.</summary>
internal static class Names
{
    public const string Ours = "ElmanRnn";
    public const string LibTorch = "libtorch";
    public const string OnnxRuntime = "ONNX Runtime";
}
