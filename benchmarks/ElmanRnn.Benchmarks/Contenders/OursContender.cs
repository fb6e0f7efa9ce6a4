using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Benchmarks.Cases;
using ElmanRnn.Layout;

namespace ElmanRnn.Benchmarks.Contenders;

/// <summary>ElmanRnn: <see cref="RnnLayer{T}"/> in eval mode with <see cref="RnnLayer{T}.MaxDegreeOfParallelism"/>
/// = threads. Packed input is packed once, outside the timed region, as a caller would keep it. With
/// <c>into</c>, the output and h_n go into tensors made once (the allocation-free overloads a loop uses).</summary>
internal sealed class OursContender<T> : IContender where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RnnLayer<T> _layer;
    private readonly Tensor<T> _input;           // x: (L, N, H_in)
    private readonly PackedSequence<T>? _packed; // data: (sum of lengths, H_in)
    private readonly int _steps;
    private readonly Tensor<T>? _output, _hn;    // (L, N, D·H) or packed (S, D·H), and (NL·D, N, H), when `into`

    public OursContender(CaseData<T> data, int threads, bool into = false)
    {
        _layer = new RnnLayer<T>(data.Options) { Training = false, MaxDegreeOfParallelism = threads };
        _layer.LoadStateDict(data.StateDict);
        _steps = data.Case.SeqLen;
        _input = Tensor.Create(data.Input, [data.Case.SeqLen, data.Case.Batch, data.Case.Size]);
        if (data.Lengths is { } lengths)
            _packed = PackedSequence.PackPadded(_input, lengths, batchFirst: false, enforceSorted: false);
        if (into && _packed is null)
            (_output, _hn) = _layer.Forward(_input);
        else if (into)
        {
            var (packedOutput, hn) = _layer.Forward(_packed!);
            (_output, _hn) = (packedOutput.Data, hn);
        }
    }

    public string Name => Names.Ours;

    public void Run()
    {
        if (_output is not null && _packed is not null)
            _layer.Forward(_packed, null, _output, _hn!);
        else if (_output is not null)
            _layer.Forward(_input, null, _output, _hn!);
        else if (_packed is null)
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
