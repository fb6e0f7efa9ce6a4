using System.Globalization;
using System.Numerics.Tensors;
using ElmanRnn.Layout;

namespace ElmanRnn.Cli;

/// <summary>The C# version of torch.nn.RNN's classic example, then a look at how h_n's rows are ordered.</summary>
internal static class Demo
{
    public static int Run(TextWriter o)
    {
        var random = new Random(0);

        // rnn = nn.RNN(5, 3, 1, 'tanh', batch_first=True); x = torch.randn(2, 7, 5); h0 = torch.randn(1, 2, 3)
        var rnn = new RnnLayer<float>(new RnnOptions { InputSize = 5, HiddenSize = 3, NumLayers = 1, BatchFirst = true }, random)
            { Training = false };
        var x = Tensor.Create(Randn(random, 2 * 7 * 5), [2, 7, 5]);
        var h0 = Tensor.Create(Randn(random, 1 * 2 * 3), [1, 2, 3]);
        var (output, hn) = rnn.Forward(x, h0);

        o.WriteLine($"{rnn}  (tanh, batch_first)");
        o.WriteLine($"input  {Shape(x)}   h0 {Shape(h0)}");
        o.WriteLine($"output {Shape(output)}   h_n {Shape(hn)}");
        o.WriteLine();
        o.WriteLine("output:");
        Print(o, output);
        o.WriteLine("h_n:");
        Print(o, hn);

        // A 2-layer bidirectional RNN: h_n rows are ordered layer·D + direction.
        const int hidden = 3;
        var bi = new RnnLayer<float>(new RnnOptions
            { InputSize = 5, HiddenSize = hidden, NumLayers = 2, Bidirectional = true, BatchFirst = true }, random)
            { Training = false };
        var (biOut, biHn) = bi.Forward(x);
        o.WriteLine();
        o.WriteLine($"{bi}: output {Shape(biOut)}, h_n {Shape(biHn)}");
        o.WriteLine("h_n rows: [layer0 forward, layer0 reverse, layer1 forward, layer1 reverse]");
        bool allMatch = true;
        for (int n = 0; n < 2; n++)
        {
            float[] lastForward = Row(biHn, [2, n]), lastReverse = Row(biHn, [3, n]);
            float[] outLast = Slice(biOut, [n, 6], 0, hidden), outFirst = Slice(biOut, [n, 0], hidden, hidden);
            bool forwardMatches = lastForward.SequenceEqual(outLast), reverseMatches = lastReverse.SequenceEqual(outFirst);
            allMatch &= forwardMatches && reverseMatches;
            o.WriteLine($"  batch {n}: h_n[-2] = {Format(lastForward)}  output[{n}, -1, :H] = {Format(outLast)}  equal: {forwardMatches}");
            o.WriteLine($"           h_n[-1] = {Format(lastReverse)}  output[{n},  0, H:] = {Format(outFirst)}  equal: {reverseMatches}");
        }
        o.WriteLine("The reverse direction's final state is its state after step 0, so it lives at output[:, 0, H:],");
        o.WriteLine("not at output[:, -1, H:].");

        // The same RNN over sequences of lengths 7, 3 and 5: packed, each runs over its own steps only.
        int[] lengths = [7, 3, 5];
        var padded = Tensor.Create(Randn(random, 3 * 7 * 5), [3, 7, 5]);
        var packed = PackedSequence.PackPadded(padded, lengths, batchFirst: true, enforceSorted: false);
        var (packedOut, packedHn) = bi.Forward(packed);
        var (paddedOut, outLengths) = PackedSequence.PadPacked(packedOut, batchFirst: true);
        o.WriteLine();
        o.WriteLine($"Packed, lengths [{string.Join(", ", lengths)}]: {packed}");
        o.WriteLine($"output data {Shape(packedOut.Data)}, padded back {Shape(paddedOut)}, h_n {Shape(packedHn)}");
        for (int n = 0; n < 3; n++)
        {
            int last = outLengths[n] - 1;
            float[] lastForward = Row(packedHn, [2, n]), atOwnEnd = Slice(paddedOut, [n, last], 0, hidden);
            float[] lastReverse = Row(packedHn, [3, n]), atStart = Slice(paddedOut, [n, 0], hidden, hidden);
            bool ok = lastForward.SequenceEqual(atOwnEnd) && lastReverse.SequenceEqual(atStart)
                      && (last == 6 || Slice(paddedOut, [n, 6], 0, 2 * hidden).All(v => v == 0));
            allMatch &= ok;
            o.WriteLine($"  sequence {n} (length {outLengths[n]}): h_n[-2] = output[{n}, {last}, :H], h_n[-1] = output[{n}, 0, H:], " +
                        $"all hold: {ok}");
        }
        o.WriteLine("Each sequence's forward state is taken after its own last step, and its reverse pass starts there.");

        // Streaming: the first RNN fed one frame at a time, its state carried between calls (PyTorch:
        // `out_t, h = rnn(x_t, h)` in a loop) gives bit for bit what one Forward over the whole sequence gave.
        var state = rnn.CreateState(batchSize: 1, h0: Tensor.Create(Row(h0, [0, 0]), [1, 1, 3]));
        var frames = new float[7 * 5];
        for (int t = 0; t < 7; t++)
            Row(x, [0, t]).CopyTo(frames, t * 5);
        var streamed = new float[7 * 3];
        for (int t = 0; t < 7; t++)
            rnn.Step(state, frames.AsSpan(t * 5, 5), streamed.AsSpan(t * 3, 3));
        bool streamMatches = Enumerable.Range(0, 7).All(t => Row(output, [0, t]).SequenceEqual(streamed.AsSpan(t * 3, 3).ToArray()))
                             && Row(hn, [0, 0]).SequenceEqual(Row(state.Hidden, [0, 0]));
        allMatch &= streamMatches;
        o.WriteLine();
        o.WriteLine($"Streaming batch 0 of the first RNN one frame per Step call: last output {Format(streamed[^3..])}, " +
                    $"equal to Forward bit for bit: {streamMatches}");
        return allMatch ? 0 : 1;
    }

    // Standard normal samples (Box–Muller) so the demo's input looks like torch.randn's.
    private static float[] Randn(Random random, int count) =>
        Enumerable.Range(0, count)
            .Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())))
            .ToArray();

    private static string Shape(Tensor<float> t) => ShapeText.Format(t.Lengths);

    private static float[] Row(Tensor<float> t, nint[] index) => Slice(t, index, 0, (int)t.Lengths[^1]);

    private static float[] Slice(Tensor<float> t, nint[] index, int start, int count) =>
        Enumerable.Range(start, count).Select(i => t[[.. index, i]]).ToArray();

    private static string Format(float[] values) =>
        "[" + string.Join(", ", values.Select(v => v.ToString(" 0.0000;-0.0000", CultureInfo.InvariantCulture))) + "]";

    private static void Print(TextWriter o, Tensor<float> t)
    {
        for (int a = 0; a < t.Lengths[0]; a++)
        {
            o.WriteLine($"  [{a}]");
            for (int b = 0; b < t.Lengths[1]; b++)
                o.WriteLine("    " + Format(Row(t, [a, b])));
        }
    }
}
