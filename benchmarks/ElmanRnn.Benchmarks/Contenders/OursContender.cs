using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Benchmarks.Cases;
using ElmanRnn.Layout;

namespace ElmanRnn.Benchmarks.Contenders;

/// <summary>ElmanRnn: <see cref="RnnLayer{T}"/> in eval mode with <see cref="RnnLayer{T}.MaxDegreeOfParallelism"/>
/// = threads. Packed input is packed once, outside the timed region, as a caller would keep it.</summary>
internal sealed class OursContender<T> : IContender where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RnnLayer<T> _layer;
    private readonly Tensor<T> _input;           // x: (L, N, H_in)
    private readonly PackedSequence<T>? _packed; // data: (sum of lengths, H_in)
    private readonly int _steps;

    public OursContender(CaseData<T> data, int threads)
    {
        _layer = new RnnLayer<T>(data.Options) { Training = false, MaxDegreeOfParallelism = threads };
        _layer.LoadStateDict(data.StateDict);
        _steps = data.Case.SeqLen;
        _input = Tensor.Create(data.Input, [data.Case.SeqLen, data.Case.Batch, data.Case.Size]);
        if (data.Lengths is { } lengths)
            _packed = PackedSequence.PackPadded(_input, lengths, batchFirst: false, enforceSorted: false);
    }

    public string Name => Names.Ours;

    public void Run()
    {
        if (_packed is null)
            _layer.Forward(_input);
        else
            _layer.Forward(_packed);
    }

    public double[] Output()
    {
        Tensor<T> output = _packed is null
            ? _layer.Forward(_input).Output
            : PackedSequence.PadPacked(_layer.Forward(_packed).Output, batchFirst: false, T.Zero, _steps).Padded;
        var values = new T[output.FlattenedLength];
        output.FlattenTo(values);
        return values.Select(double.CreateChecked).ToArray();
    }

    public void Dispose()
    {
    }
}
