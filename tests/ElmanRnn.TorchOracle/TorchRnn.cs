using TorchSharp;
using static TorchSharp.torch;

namespace ElmanRnn.TorchOracle;

/// <summary>Runs an <see cref="RnnCase"/> through libtorch's RNN exactly as Python's <c>torch.nn.RNN</c>
/// would.</summary>
internal static class TorchRnn
{
    /// <summary>Creates the libtorch module for a case, in eval mode (no dropout, deterministic). Parameters are
    /// drawn by libtorch's own initialiser from the global generator.</summary>
    public static TorchSharp.Modules.RNN Create(RnnCase c)
    {
        var rnn = nn.RNN(
            c.InputSize, c.HiddenSize, c.NumLayers,
            c.Nonlinearity switch
            {
                "tanh" => nn.NonLinearities.Tanh,
                "relu" => nn.NonLinearities.ReLU,
                var other => throw new ArgumentException($"Unknown nonlinearity '{other}'."),
            },
            bias: c.Bias, batchFirst: c.BatchFirst, dropout: c.Dropout, bidirectional: c.Bidirectional,
            dtype: c.DType);
        rnn.eval();
        return rnn;
    }

    /// <summary>Parameters under PyTorch's names in PyTorch's registration order.</summary>
    public static List<(string Name, Tensor Tensor)> Parameters(TorchSharp.Modules.RNN rnn) =>
        rnn.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).ToList();

    /// <summary>
    /// Runs the forward pass; call it inside a <c>torch.NewDisposeScope()</c>, which frees the intermediate tensors.
    /// Returns <c>output</c> in the layout of the case's input (for packed input: the padded,
    /// time-major output of <c>pad_packed_sequence</c> in the caller's batch order) and <c>h_n</c>.
    /// </summary>
    /// <param name="input">Shaped <see cref="RnnCase.InputShape"/> (packed: the padded time-major tensor).</param>
    /// <param name="h0">Shaped <see cref="RnnCase.HiddenShape"/>, in the caller's batch order, or null.</param>
    public static (Tensor Output, Tensor HiddenN) Forward(
        TorchSharp.Modules.RNN rnn, RnnCase c, Tensor input, Tensor? h0)
    {
        switch (c.Kind)
        {
            case InputKind.Unbatched:
            {
                // libtorch's C++ RNN (which TorchSharp wraps) accepts only 3-D input. Python's nn.RNN handles an
                // unbatched (L, I) input by inserting a batch axis of 1 into input (at dim 1, batch_first=False) and
                // hx (at dim 1), running the batched kernel and squeezing both results; do the same.
                var (output, hn) = rnn.call(input.unsqueeze(1), h0?.unsqueeze(1));
                return (output.squeeze(1), hn.squeeze(1));
            }

            case InputKind.Packed:
            {
                // enforce_sorted=False: libtorch sorts by length, permutes h0 into sorted order with sorted_indices
                // and restores the caller's order in h_n and (via pad_packed_sequence) in the output.
                var lengths = tensor(c.Lengths!.Select(l => (long)l).ToArray());
                using var packed = nn.utils.rnn.pack_padded_sequence(input, lengths, batch_first: false,
                    enforce_sorted: false);
                var (packedOutput, hn) = rnn.call(packed, h0);
                using (packedOutput)
                {
                    var (padded, _) = nn.utils.rnn.pad_packed_sequence(packedOutput, batch_first: false);
                    return (padded, hn);
                }
            }

            default:
                return rnn.call(input, h0);
        }
    }
}
