using System.Numerics;
using System.Numerics.Tensors;
using CsCheck;
using ElmanRnn.Layout;
using ElmanRnn.Tests.Rnn;

namespace ElmanRnn.Tests.Properties;

/// <summary>
/// Metamorphic relations the library promises bit for bit (docs/design.md "Determinism", RnnLayer.Step's and
/// docs/training.md's contracts): every output element is one fixed-order reduction, so a sequence gives the same bits
/// alone, inside a batch, packed, padded with lengths, batch-first, streamed in any chunks; and its input gradient is
/// the same bits alone or inside a batch. Oracle: the library's own other path; comparison: bitwise (any NaN equals
/// any NaN). Inputs carry a few special values (NaN, ±Inf, ±0, denormals, huge) so the relations hold for them too.
/// A failure prints CsCheck's seed: rerun with <c>CsCheck_Seed=&lt;seed&gt;</c> to reproduce it.
/// </summary>
public class MetamorphicProperties
{
    private const int SpecialPercent = 3;

    [Fact]
    public void A_sequence_alone_equals_its_column_inside_a_batch() =>
        PropertyKit.Cases(minBatch: 2, batched: true).Sample(c =>
        {
            if (c.IsDouble) AloneEqualsColumn<double>(c);
            else AloneEqualsColumn<float>(c);
        }, iter: PropertyKit.Iter(40));

    [Fact]
    public void Packed_forward_and_padded_lengths_forward_equal_per_sequence_forwards() =>
        Gen.Select(PropertyKit.Cases(maxSize: 24, maxSteps: 7, minBatch: 1, maxBatch: 5, batched: true), Gen.Int[1, 7].Array[5])
            .Sample((c, lengths) =>
            {
                if (c.IsDouble) PackedEqualsAlone<double>(c, lengths);
                else PackedEqualsAlone<float>(c, lengths);
            }, iter: PropertyKit.Iter(60));

    [Fact]
    public void Batch_first_equals_transposed_time_major() =>
        PropertyKit.Cases(maxSize: 24, batched: true).Sample(c =>
        {
            if (c.IsDouble) BatchFirstEqualsTimeMajor<double>(c);
            else BatchFirstEqualsTimeMajor<float>(c);
        }, iter: PropertyKit.Iter(30));

    [Fact]
    public void Step_over_any_chunking_equals_one_forward() =>
        Gen.Select(PropertyKit.Cases(maxSize: 24, maxSteps: 9, minBatch: 1, maxBatch: 4, unidirectional: true, batched: true),
                Gen.Int[0, 4].Array[1, 8])
            .Sample((c, chunks) =>
            {
                if (c.IsDouble) StepEqualsForward<double>(c, chunks);
                else StepEqualsForward<float>(c, chunks);
            }, iter: PropertyKit.Iter(60));

    [Fact]
    public void Input_gradient_of_a_sequence_alone_equals_its_column_inside_a_batch() =>
        PropertyKit.Cases(maxSize: 24, minBatch: 2, maxBatch: 4, batched: true).Sample(c =>
        {
            if (c.IsDouble) GradientAloneEqualsColumn<double>(c);
            else GradientAloneEqualsColumn<float>(c);
        }, iter: PropertyKit.Iter(40));

    [Fact]
    public void Packed_and_lengths_input_gradients_equal_per_sequence_gradients() =>
        Gen.Select(PropertyKit.Cases(maxSize: 20, maxSteps: 6, minBatch: 1, maxBatch: 4, batched: true), Gen.Int[1, 6].Array[4])
            .Sample((c, lengths) =>
            {
                if (c.IsDouble) PackedGradientEqualsAlone<double>(c, lengths);
                else PackedGradientEqualsAlone<float>(c, lengths);
            }, iter: PropertyKit.Iter(30));

    [Fact]
    public void Strided_and_sliced_views_and_caller_owned_results_give_the_bits_of_dense_input() =>
        Gen.Select(PropertyKit.Cases(maxSize: 20), Gen.Int[0, 2].Array[4], Gen.Int[1, 3]).Sample((c, gaps, offset) =>
        {
            if (c.IsDouble) ViewEqualsDense<double>(c, gaps, offset);
            else ViewEqualsDense<float>(c, gaps, offset);
        }, iter: PropertyKit.Iter(40));

    // Inputs of a batched case: x (L, N, H_in) time-major, h0 (NL·D, N, H), a few special values in each.
    private static (double[] X, double[] H0) Data<T>(RnnCase c, Random random) where T : IFloatingPointIeee754<T> =>
        (PropertyKit.Sprinkle<T>(random, PropertyKit.Values<T>(random, c.Steps * c.N * c.InputSize), SpecialPercent),
         PropertyKit.Sprinkle<T>(random, PropertyKit.Values<T>(random, c.Layers * c.Directions * c.N * c.Hidden, 1.0), SpecialPercent));

    // Sequence n of the batch run alone, unbatched: output (L_n, D·H), h_n (NL·D, H).
    private static (double[] Output, double[] Hn) Alone<T>(RnnLayer<T> layer, RnnCase c, double[] x, double[] h0, int n,
        int length) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double[] xn = PropertyKit.Column(x, c.Steps, c.N, c.InputSize, n).AsSpan(0, length * c.InputSize).ToArray();
        double[] h0n = PropertyKit.Column(h0, c.Layers * c.Directions, c.N, c.Hidden, n);
        var (output, hn) = layer.Forward(PropertyKit.Tensor<T>(xn, length, c.InputSize),
            c.WithH0 ? PropertyKit.Tensor<T>(h0n, c.Layers * c.Directions, c.Hidden) : null);
        return (output.ToDoubles(), hn.ToDoubles());
    }

    private static void AloneEqualsColumn<T>(RnnCase c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(c.Seed);
        var layer = PropertyKit.Layer<T>(c, random);
        var (x, h0) = Data<T>(c, random);
        var (output, hn) = layer.Forward(PropertyKit.Input<T>(c, x), c.WithH0 ? PropertyKit.H0<T>(c, h0) : null);
        double[] rows = PropertyKit.TimeMajor(c, output), states = hn.ToDoubles();
        int width = c.Directions * c.Hidden;
        for (int n = 0; n < c.N; n++)
        {
            var alone = Alone(layer, c, x, h0, n, c.Steps);
            PropertyKit.ShouldBeSameBits(alone.Output, PropertyKit.Column(rows, c.Steps, c.N, width, n), $"output of sequence {n}");
            PropertyKit.ShouldBeSameBits(alone.Hn, PropertyKit.Column(states, c.Layers * c.Directions, c.N, c.Hidden, n),
                $"h_n of sequence {n}");
        }
    }

    private static void PackedEqualsAlone<T>(RnnCase c, int[] someLengths) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(c.Seed);
        var layer = PropertyKit.Layer<T>(c, random);
        var (x, h0) = Data<T>(c, random);
        int[] lengths = someLengths.Take(c.N).Select(l => Math.Min(l, c.Steps)).ToArray();   // any order, 1..L
        int width = c.Directions * c.Hidden, stack = c.Layers * c.Directions;
        var h0Tensor = c.WithH0 ? PropertyKit.Tensor<T>(h0, stack, c.N, c.Hidden) : null;

        // Packed from the list of sequences, unsorted.
        var sequences = Enumerable.Range(0, c.N).Select(n => PropertyKit.Tensor<T>(
            PropertyKit.Column(x, c.Steps, c.N, c.InputSize, n).AsSpan(0, lengths[n] * c.InputSize).ToArray(),
            lengths[n], c.InputSize)).ToArray();
        var packed = layer.Forward(PackedSequence.Pack(sequences, enforceSorted: false), h0Tensor);
        Tensor<T>[] packedOutputs = PackedSequence.Unpack(packed.Output);
        double[] packedHn = packed.Hn.ToDoubles();

        // The padded batch with lengths, in the case's layout.
        var padded = layer.Forward(PropertyKit.Input<T>(c, x), lengths, h0Tensor);
        padded.Output.Lengths.ToArray().Should().Equal(PropertyKit.OutputShape(c));
        double[] paddedRows = PropertyKit.TimeMajor(c, padded.Output), paddedHn = padded.Hn.ToDoubles();

        for (int n = 0; n < c.N; n++)
        {
            var alone = Alone(layer, c, x, h0, n, lengths[n]);
            string what = $"sequence {n} of lengths [{string.Join(", ", lengths)}]";
            PropertyKit.ShouldBeSameBits(packedOutputs[n].ToDoubles(), alone.Output, "packed output of " + what);
            PropertyKit.ShouldBeSameBits(PropertyKit.Column(packedHn, stack, c.N, c.Hidden, n), alone.Hn, "packed h_n of " + what);
            double[] column = PropertyKit.Column(paddedRows, c.Steps, c.N, width, n);
            PropertyKit.ShouldBeSameBits(column.AsSpan(0, lengths[n] * width), alone.Output, "lengths output of " + what);
            PropertyKit.ShouldBeSameBits(column.AsSpan(lengths[n] * width), new double[(c.Steps - lengths[n]) * width],
                "padding (+0) past the length of " + what);
            PropertyKit.ShouldBeSameBits(PropertyKit.Column(paddedHn, stack, c.N, c.Hidden, n), alone.Hn, "lengths h_n of " + what);
        }
    }

    private static void BatchFirstEqualsTimeMajor<T>(RnnCase c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(c.Seed);
        var timeMajor = PropertyKit.Layer<T>(c with { Layout = InputLayout.TimeMajor }, random);
        var batchFirst = new RnnLayer<T>(c.Options with { BatchFirst = true }) { Training = false };
        batchFirst.LoadStateDict(timeMajor.StateDict());
        var (x, h0) = Data<T>(c, random);
        int stack = c.Layers * c.Directions, width = c.Directions * c.Hidden;
        var h0Tensor = c.WithH0 ? PropertyKit.Tensor<T>(h0, stack, c.N, c.Hidden) : null;

        var tapeT = new RnnTape<T>();
        var tapeB = new RnnTape<T>();
        var (outT, hnT) = timeMajor.Forward(PropertyKit.Tensor<T>(x, c.Steps, c.N, c.InputSize), h0Tensor, tapeT);
        var (outB, hnB) = batchFirst.Forward(
            PropertyKit.Tensor<T>(RnnTestKit.SwapFirstTwo(x, c.Steps, c.N, c.InputSize), c.N, c.Steps, c.InputSize), h0Tensor, tapeB);
        outB.Lengths.ToArray().Should().Equal([c.N, c.Steps, width]);
        PropertyKit.ShouldBeSameBits(RnnTestKit.SwapFirstTwo(outB.ToDoubles(), c.N, c.Steps, width), outT.ToDoubles(), "output");
        PropertyKit.ShouldBeSameBits(hnB.ToDoubles(), hnT.ToDoubles(), "h_n");

        // Backward too: the same upstream gradient, transposed, gives the transposed input gradient.
        double[] gradOutput = PropertyKit.Values<T>(random, c.Steps * c.N * width);
        double[] gradHn = PropertyKit.Values<T>(random, stack * c.N * c.Hidden);
        var gT = timeMajor.Backward(tapeT, PropertyKit.Tensor<T>(gradOutput, c.Steps, c.N, width),
            PropertyKit.Tensor<T>(gradHn, stack, c.N, c.Hidden));
        var gB = batchFirst.Backward(tapeB,
            PropertyKit.Tensor<T>(RnnTestKit.SwapFirstTwo(gradOutput, c.Steps, c.N, width), c.N, c.Steps, width),
            PropertyKit.Tensor<T>(gradHn, stack, c.N, c.Hidden));
        gB.Input.Lengths.ToArray().Should().Equal([c.N, c.Steps, c.InputSize]);
        PropertyKit.ShouldBeSameBits(RnnTestKit.SwapFirstTwo(gB.Input.ToDoubles(), c.N, c.Steps, c.InputSize),
            gT.Input.ToDoubles(), "input gradient");
        if (c.WithH0)
            PropertyKit.ShouldBeSameBits(gB.H0!.ToDoubles(), gT.H0!.ToDoubles(), "h0 gradient");
        for (int i = 0; i < timeMajor.Parameters().Count; i++)
            PropertyKit.ShouldBeSameBits(batchFirst.Parameters()[i].Grad.ToDoubles(), timeMajor.Parameters()[i].Grad.ToDoubles(),
                timeMajor.Parameters()[i].Name + " gradient");
    }

    private static void StepEqualsForward<T>(RnnCase c, int[] chunks) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(c.Seed);
        var layer = PropertyKit.Layer<T>(c with { Layout = InputLayout.TimeMajor }, random);
        var (x, h0) = Data<T>(c, random);
        var h0Tensor = c.WithH0 ? PropertyKit.Tensor<T>(h0, c.Layers, c.N, c.Hidden) : null;
        var (output, hn) = layer.Forward(PropertyKit.Tensor<T>(x, c.Steps, c.N, c.InputSize), h0Tensor);

        var state = layer.CreateState(c.N, h0Tensor);
        T[] input = x.Select(T.CreateChecked).ToArray(), streamed = new T[c.Steps * c.N * c.Hidden];
        int done = 0;
        foreach (int chunk in chunks.Append(c.Steps))   // the last chunk takes whatever is left
        {
            int steps = Math.Min(chunk, c.Steps - done);
            layer.Step(state, input.AsSpan(done * c.N * c.InputSize, steps * c.N * c.InputSize),
                streamed.AsSpan(done * c.N * c.Hidden, steps * c.N * c.Hidden));
            done += steps;
        }
        string what = $"chunks [{string.Join(", ", chunks)}] of {c.Steps} steps";
        PropertyKit.ShouldBeSameBits(streamed.Select(double.CreateChecked).ToArray(), output.ToDoubles(), "output over " + what);
        PropertyKit.ShouldBeSameBits(state.Hidden.ToDoubles(), hn.ToDoubles(), "state after " + what);
    }

    private static void GradientAloneEqualsColumn<T>(RnnCase c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(c.Seed);
        var layer = PropertyKit.Layer<T>(c with { Layout = InputLayout.TimeMajor }, random);
        // No special values here: a NaN gradient would only compare NaN with NaN.
        double[] x = PropertyKit.Values<T>(random, c.Steps * c.N * c.InputSize);
        int stack = c.Layers * c.Directions, width = c.Directions * c.Hidden;
        double[] h0 = PropertyKit.Values<T>(random, stack * c.N * c.Hidden, 1.0);
        double[] gradOutput = PropertyKit.Values<T>(random, c.Steps * c.N * width);
        double[] gradHn = PropertyKit.Values<T>(random, stack * c.N * c.Hidden);

        var tape = new RnnTape<T>();
        layer.Forward(PropertyKit.Tensor<T>(x, c.Steps, c.N, c.InputSize),
            c.WithH0 ? PropertyKit.Tensor<T>(h0, stack, c.N, c.Hidden) : null, tape);
        var batch = layer.Backward(tape, PropertyKit.Tensor<T>(gradOutput, c.Steps, c.N, width),
            PropertyKit.Tensor<T>(gradHn, stack, c.N, c.Hidden));
        double[] dx = batch.Input.ToDoubles();

        for (int n = 0; n < c.N; n++)
        {
            var aloneTape = new RnnTape<T>();
            layer.Forward(PropertyKit.Tensor<T>(PropertyKit.Column(x, c.Steps, c.N, c.InputSize, n), c.Steps, c.InputSize),
                c.WithH0 ? PropertyKit.Tensor<T>(PropertyKit.Column(h0, stack, c.N, c.Hidden, n), stack, c.Hidden) : null, aloneTape);
            var alone = layer.Backward(aloneTape,
                PropertyKit.Tensor<T>(PropertyKit.Column(gradOutput, c.Steps, c.N, width, n), c.Steps, width),
                PropertyKit.Tensor<T>(PropertyKit.Column(gradHn, stack, c.N, c.Hidden, n), stack, c.Hidden));
            alone.Input.Lengths.ToArray().Should().Equal([c.Steps, c.InputSize]);
            PropertyKit.ShouldBeSameBits(alone.Input.ToDoubles(), PropertyKit.Column(dx, c.Steps, c.N, c.InputSize, n),
                $"input gradient of sequence {n}");
            if (c.WithH0)
                PropertyKit.ShouldBeSameBits(alone.H0!.ToDoubles(), PropertyKit.Column(batch.H0!.ToDoubles(), stack, c.N, c.Hidden, n),
                    $"h0 gradient of sequence {n}");
        }
    }

    private static void PackedGradientEqualsAlone<T>(RnnCase c, int[] someLengths) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(c.Seed);
        var layer = PropertyKit.Layer<T>(c, random);
        int[] lengths = someLengths.Take(c.N).Select(l => Math.Min(l, c.Steps)).ToArray();
        int stack = c.Layers * c.Directions, width = c.Directions * c.Hidden;
        double[] x = PropertyKit.Values<T>(random, c.Steps * c.N * c.InputSize);            // (L, N, H_in)
        double[] h0 = PropertyKit.Values<T>(random, stack * c.N * c.Hidden, 1.0);          // (NL·D, N, H)
        double[] gradOutput = PropertyKit.Values<T>(random, c.Steps * c.N * width);        // (L, N, D·H)
        double[] gradHn = PropertyKit.Values<T>(random, stack * c.N * c.Hidden);
        var h0Tensor = c.WithH0 ? PropertyKit.Tensor<T>(h0, stack, c.N, c.Hidden) : null;
        var gradHnTensor = PropertyKit.Tensor<T>(gradHn, stack, c.N, c.Hidden);
        var timeMajor = c with { Layout = InputLayout.TimeMajor };

        // Packed: gradOutput shaped like Output.Data, packed the same way as the input.
        var packedInput = PackedSequence.PackPadded(PropertyKit.Input<T>(timeMajor, x), lengths, enforceSorted: false);
        var packedGrad = PackedSequence.PackPadded(PropertyKit.Tensor<T>(gradOutput, c.Steps, c.N, width), lengths, enforceSorted: false);
        var tape = new RnnTape<T>();
        layer.Forward(packedInput, h0Tensor, tape);
        var packed = layer.Backward(tape, packedGrad.Data, gradHnTensor);
        Tensor<T>[] packedDx = PackedSequence.Unpack(new PackedSequence<T>(packed.Input, packedInput.BatchSizes.ToArray(),
            packedInput.SortedIndices?.ToArray()));

        // The lengths overload, in the case's own layout: zero past each length.
        var lengthsTape = new RnnTape<T>();
        layer.Forward(PropertyKit.Input<T>(c, x), lengths, h0Tensor, lengthsTape);
        var padded = layer.Backward(lengthsTape, c.Layout == InputLayout.BatchFirst
                ? PropertyKit.Tensor<T>(RnnTestKit.SwapFirstTwo(gradOutput, c.Steps, c.N, width), c.N, c.Steps, width)
                : PropertyKit.Tensor<T>(gradOutput, c.Steps, c.N, width), gradHnTensor);
        double[] paddedDx = c.Layout == InputLayout.BatchFirst   // (L, N, H_in)
            ? RnnTestKit.SwapFirstTwo(padded.Input.ToDoubles(), c.N, c.Steps, c.InputSize)
            : padded.Input.ToDoubles();

        for (int n = 0; n < c.N; n++)
        {
            int length = lengths[n];
            var aloneTape = new RnnTape<T>();
            layer.Forward(PropertyKit.Tensor<T>(PropertyKit.Column(x, c.Steps, c.N, c.InputSize, n).AsSpan(0, length * c.InputSize).ToArray(),
                length, c.InputSize), c.WithH0 ? PropertyKit.Tensor<T>(PropertyKit.Column(h0, stack, c.N, c.Hidden, n), stack, c.Hidden) : null,
                aloneTape);
            var alone = layer.Backward(aloneTape,
                PropertyKit.Tensor<T>(PropertyKit.Column(gradOutput, c.Steps, c.N, width, n).AsSpan(0, length * width).ToArray(), length, width),
                PropertyKit.Tensor<T>(PropertyKit.Column(gradHn, stack, c.N, c.Hidden, n), stack, c.Hidden));
            double[] expected = alone.Input.ToDoubles();
            string what = $"sequence {n} of lengths [{string.Join(", ", lengths)}]";
            PropertyKit.ShouldBeSameBits(packedDx[n].ToDoubles(), expected, "packed input gradient of " + what);
            double[] column = PropertyKit.Column(paddedDx, c.Steps, c.N, c.InputSize, n);
            PropertyKit.ShouldBeSameBits(column.AsSpan(0, length * c.InputSize), expected, "lengths input gradient of " + what);
            PropertyKit.ShouldBeSameBits(column.AsSpan(length * c.InputSize), new double[(c.Steps - length) * c.InputSize],
                "lengths input gradient (+0) past the length of " + what);
            if (c.WithH0)
            {
                PropertyKit.ShouldBeSameBits(PropertyKit.Column(packed.H0!.ToDoubles(), stack, c.N, c.Hidden, n), alone.H0!.ToDoubles(),
                    "packed h0 gradient of " + what);
                PropertyKit.ShouldBeSameBits(PropertyKit.Column(padded.H0!.ToDoubles(), stack, c.N, c.Hidden, n), alone.H0!.ToDoubles(),
                    "lengths h0 gradient of " + what);
            }
        }
    }

    private static void ViewEqualsDense<T>(RnnCase c, int[] gaps, int offset) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(c.Seed);
        var layer = PropertyKit.Layer<T>(c, random);
        var (x, h0) = Data<T>(c, random);
        Tensor<T> input = PropertyKit.Input<T>(c, x);
        Tensor<T>? h0Tensor = c.WithH0 ? PropertyKit.H0<T>(c, h0) : null;
        var (output, hn) = layer.Forward(input, h0Tensor);

        // The views themselves hold the dense values (the construction below is right).
        PropertyKit.ShouldBeSameBits(StridedCopy(input, gaps).ToDoubles(), input.ToDoubles(), "strided copy");
        PropertyKit.ShouldBeSameBits(SlicedCopy(input, offset).ToDoubles(), input.ToDoubles(), "sliced copy");
        var strided = layer.Forward(StridedCopy(input, gaps), h0Tensor is null ? null : StridedCopy(h0Tensor, gaps));
        PropertyKit.ShouldBeSameBits(strided.Output.ToDoubles(), output.ToDoubles(), $"output from strides with gaps [{string.Join(", ", gaps)}]");
        PropertyKit.ShouldBeSameBits(strided.Hn.ToDoubles(), hn.ToDoubles(), "h_n from a strided input");

        var sliced = layer.Forward(SlicedCopy(input, offset), h0Tensor is null ? null : SlicedCopy(h0Tensor, offset));
        PropertyKit.ShouldBeSameBits(sliced.Output.ToDoubles(), output.ToDoubles(), $"output from a view at offset {offset} rows");
        PropertyKit.ShouldBeSameBits(sliced.Hn.ToDoubles(), hn.ToDoubles(), "h_n from a sliced input");

        // Caller-owned results, h_n written over h0 itself (documented as allowed).
        var ownOutput = Tensor.Create(new T[output.FlattenedLength], output.Lengths);
        var state = h0Tensor is null ? null : Tensor.Create(h0.Select(T.CreateChecked).ToArray(), h0Tensor.Lengths);
        var ownHn = state ?? Tensor.Create(new T[hn.FlattenedLength], hn.Lengths);
        layer.Forward(input, state, ownOutput, ownHn);
        PropertyKit.ShouldBeSameBits(ownOutput.ToDoubles(), output.ToDoubles(), "caller-owned output");
        PropertyKit.ShouldBeSameBits(ownHn.ToDoubles(), hn.ToDoubles(), "caller-owned h_n (aliasing h0)");

        // Caller-owned results that are sliced views into larger arrays: written at the view.
        var slicedOutput = SlicedCopy(ownOutput, offset);
        var slicedHn = SlicedCopy(hn, offset);
        layer.Forward(input, h0Tensor, slicedOutput, slicedHn);
        PropertyKit.ShouldBeSameBits(slicedOutput.ToDoubles(), output.ToDoubles(), "caller-owned sliced output");
        PropertyKit.ShouldBeSameBits(slicedHn.ToDoubles(), hn.ToDoubles(), "caller-owned sliced h_n");
    }

    // The same values as a non-dense view: each dimension's stride leaves gaps[d] unused elements (filled with NaN, so
    // reading a gap shows up in the result).
    private static Tensor<T> StridedCopy<T>(Tensor<T> dense, int[] gaps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (dense.FlattenedLength == 0)
            return dense;   // System.Numerics.Tensors refuses strides over no memory; an empty view has nothing to read
        int rank = dense.Rank;
        var lengths = dense.Lengths.ToArray();
        var strides = new nint[rank];
        nint stride = 1 + gaps[rank - 1];
        for (int d = rank - 1; d >= 0; d--)
        {
            strides[d] = lengths[d] == 1 ? 0 : stride;   // System.Numerics.Tensors refuses any other stride there
            stride = stride * lengths[d] + gaps[(d + 3) % gaps.Length];
        }
        var values = new T[Math.Max(1, (int)stride)];
        values.AsSpan().Fill(T.NaN);
        var flat = new T[dense.FlattenedLength];
        dense.FlattenTo(flat);
        var index = new nint[rank];
        for (int i = 0; i < flat.Length; i++)
        {
            nint at = 0;
            for (int d = 0; d < rank; d++)
                at += index[d] * strides[d];
            values[at] = flat[i];
            for (int d = rank - 1; d >= 0 && ++index[d] == lengths[d]; d--)
                index[d] = 0;
        }
        return Tensor.Create(values, lengths, strides);
    }

    // The same values as a row-major view that starts <paramref name="offset"/> rows into a larger (NaN-filled) tensor.
    private static Tensor<T> SlicedCopy<T>(Tensor<T> dense, int offset) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var lengths = dense.Lengths.ToArray();
        int row = (int)lengths.Skip(1).Aggregate((nint)1, (a, b) => a * b);
        var values = new T[(lengths[0] + offset) * row];
        values.AsSpan().Fill(T.NaN);
        var flat = new T[dense.FlattenedLength];
        dense.FlattenTo(flat);
        flat.CopyTo(values, offset * row);
        var larger = lengths.ToArray();
        larger[0] += offset;
        var ranges = new System.Buffers.NRange[lengths.Length];
        ranges[0] = new System.Buffers.NRange(offset, offset + lengths[0]);
        for (int d = 1; d < ranges.Length; d++)
            ranges[d] = System.Buffers.NRange.All;
        return Tensor.Create(values, larger).Slice(ranges);
    }
}
