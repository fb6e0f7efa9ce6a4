using System.Numerics;
using ElmanRnn.Benchmarks.Cases;
using TorchSharp;
using static TorchSharp.torch;

namespace ElmanRnn.Benchmarks.Contenders;

/// <summary>
/// libtorch 2.10 through TorchSharp: <c>torch.nn.RNN</c> in eval mode, run under <c>torch.inference_mode()</c> with
/// <c>torch.set_num_threads(threads)</c>. Packed input goes through <c>pack_padded_sequence(enforce_sorted=False)</c>
/// once, outside the timed region. The caller must have run <c>GlibcxxWeakener.EnsureTorchSharpLoadable()</c>.
/// </summary>
internal sealed class TorchContender : IContender
{
    private readonly TorchSharp.Modules.RNN _rnn;
    private readonly Tensor _input;                             // x: (L, N, H_in)
    private readonly nn.utils.rnn.PackedSequence? _packed;
    private readonly int _steps;

    private TorchContender(TorchSharp.Modules.RNN rnn, Tensor input, nn.utils.rnn.PackedSequence? packed, int steps)
    {
        _rnn = rnn;
        _input = input;
        _packed = packed;
        _steps = steps;
    }

    public static TorchContender Create<T>(CaseData<T> data, int threads) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Process-wide: the last contender built decides, so build libtorch's just before timing it.
        torch.set_num_threads(threads);
        var c = data.Case;
        var dtype = typeof(T) == typeof(double) ? ScalarType.Float64 : ScalarType.Float32;
        var rnn = nn.RNN(c.Size, c.Size, c.Layers, nn.NonLinearities.Tanh, bias: true, batchFirst: false, dropout: 0,
            bidirectional: c.Bidirectional, dtype: dtype);
        rnn.eval();
        using (torch.no_grad())
        {
            foreach (var (name, parameter) in rnn.named_parameters())
            {
                using var value = ToTorch(data.Parameter(name), parameter.shape);
                parameter.copy_(value);
            }
        }

        var input = ToTorch(data.Input, [c.SeqLen, c.Batch, c.Size]);
        nn.utils.rnn.PackedSequence? packed = null;
        if (data.Lengths is { } lengths)
        {
            using var lengthTensor = torch.tensor(lengths.Select(l => (long)l).ToArray());
            packed = nn.utils.rnn.pack_padded_sequence(input, lengthTensor, batch_first: false, enforce_sorted: false);
        }

        return new TorchContender(rnn, input, packed, c.SeqLen);
    }

    public string Name => Names.LibTorch;

    public void Run()
    {
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        if (_packed is null)
            _rnn.call(_input, null);
        else
            _rnn.call(_packed, null);
    }

    public double[] Output()
    {
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        Tensor output;
        if (_packed is null)
        {
            output = _rnn.call(_input, null).Item1;
        }
        else
        {
            var (packedOutput, _) = _rnn.call(_packed, null);
            output = nn.utils.rnn.pad_packed_sequence(packedOutput, batch_first: false, total_length: _steps).Item1;
        }
        return output.to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
    }

    public void Dispose()
    {
        _packed?.Dispose();
        _input.Dispose();
        _rnn.Dispose();
    }

    private static Tensor ToTorch<T>(T[] values, long[] shape) => values switch
    {
        float[] f => torch.tensor(f, shape),
        double[] d => torch.tensor(d, shape),
        _ => throw new NotSupportedException($"Element type {typeof(T).Name} is not float or double."),
    };
}
