using System.Numerics;
using System.Numerics.Tensors;

namespace ElmanRnn.Benchmarks.Cases;

/// <summary>
/// The numbers every contender of one case is loaded with: the parameters of a seeded <see cref="RnnLayer{T}"/>
/// under PyTorch's names, and a seeded input. Contenders convert from here, so all three compute the same function.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
internal sealed class CaseData<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private CaseData(BenchCase benchCase, RnnOptions options, IReadOnlyDictionary<string, Tensor<T>> stateDict,
        T[] input, int[]? lengths)
    {
        Case = benchCase;
        Options = options;
        StateDict = stateDict;
        Input = input;
        Lengths = lengths;
    }

    public BenchCase Case { get; }

    /// <summary>tanh, bias, time-major, eval mode (dropout 0).</summary>
    public RnnOptions Options { get; }

    /// <summary>Parameters by PyTorch name, in PyTorch's order.</summary>
    public IReadOnlyDictionary<string, Tensor<T>> StateDict { get; }

    /// <summary>x: (L, N, H_in), time-major, row-major; for packed cases the padding is random too (it must be ignored).</summary>
    public T[] Input { get; }

    /// <summary>Per-sequence lengths for packed cases, in batch order; null for dense cases.</summary>
    public int[]? Lengths { get; }

    public static CaseData<T> Create(BenchCase benchCase, int seed = 20260501)
    {
        var options = new RnnOptions
        {
            InputSize = benchCase.Size,
            HiddenSize = benchCase.Size,
            NumLayers = benchCase.Layers,
            Bidirectional = benchCase.Bidirectional,
        };
        var stateDict = new RnnLayer<T>(options, new Random(seed)).StateDict();
        var random = new Random(seed + 1);
        var input = new T[benchCase.SeqLen * benchCase.Batch * benchCase.Size];
        for (int i = 0; i < input.Length; i++)
            input[i] = T.CreateChecked(2 * random.NextDouble() - 1);
        return new CaseData<T>(benchCase, options, stateDict, input, benchCase.Lengths);
    }

    /// <summary>A parameter's values, row-major.</summary>
    public T[] Parameter(string name)
    {
        var values = new T[StateDict[name].FlattenedLength];
        StateDict[name].FlattenTo(values);
        return values;
    }
}
