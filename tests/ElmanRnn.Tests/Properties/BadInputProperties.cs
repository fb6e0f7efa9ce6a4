using System.Numerics.Tensors;
using CsCheck;
using ElmanRnn.Layout;

namespace ElmanRnn.Tests.Properties;

/// <summary>
/// Every wrong rank, shape, length and packing is refused with the exception type the XML docs name (an
/// <see cref="ArgumentException"/> or a subclass, never IndexOutOfRange / NullReference / InvalidCast), and its message
/// names both what was expected and what came. Oracle: the documented contract and shapes computed here independently.
/// A failure prints CsCheck's seed: rerun with <c>CsCheck_Seed=&lt;seed&gt;</c> to reproduce it.
/// </summary>
public class BadInputProperties
{
    private static readonly Gen<RnnCase> Small = PropertyKit.Cases(maxSize: 9, maxSteps: 4, maxBatch: 3);

    [Fact]
    public void Inputs_of_a_wrong_rank_are_refused_naming_the_ranks() =>
        Gen.Select(Small, Gen.OneOf(Gen.Const(0), Gen.Const(1), Gen.Const(4), Gen.Const(5)), Gen.Int[0, 3].Array[5])
            .Sample((c, rank, dims) =>
            {
                var layer = new RnnLayer<float>(c.Options);
                // System.Numerics.Tensors has no 0-D tensor: Tensor.Create with an empty shape makes a 1-D one, so
                // "rank 0" is whatever it makes, and the message must name that rank.
                var input = Tensor.Create(new float[dims.Take(rank).Aggregate(1, (a, b) => a * b)], Shape(dims.Take(rank)));
                int actual = input.Rank;
                PropertyKit.Refused(() => layer.Forward(input), "2D or 3D", $"got {actual}D");
                PropertyKit.Refused(() => layer.Forward(input, null, new RnnTape<float>()), "2D or 3D", $"got {actual}D");
                PropertyKit.Refused(() => layer.Forward(input, new int[Math.Max(1, rank > 1 ? dims[1] : 1)]), "3D", $"got {actual}D");
                // Packed data must be (S, H_in); S = 0 rows cannot be packed at all (batch sizes are positive).
                if (input.Lengths[0] > 0)
                    PropertyKit.Refused(() => layer.Forward(new PackedSequence<float>(input, [(int)input.Lengths[0]])),
                        "2 dimensions", $"got {actual}");
            }, iter: PropertyKit.Iter(60));

    [Fact]
    public void A_wrong_feature_size_is_refused_naming_expected_and_actual() =>
        Gen.Select(Small, Gen.Int[0, 12]).Where((c, f) => f != c.InputSize).Sample((c, features) =>
        {
            var layer = new RnnLayer<double>(c.Options);
            var wrong = c with { InputSize = features };
            var input = PropertyKit.Input<double>(wrong, new double[c.Steps * c.N * features]);
            string expected = $"Expected {c.InputSize}", actual = $"got {features}";
            PropertyKit.Refused(() => layer.Forward(input), expected, actual);
            var packed = new PackedSequence<double>(Tensor.Create(new double[2 * features], [2, features]), [1, 1]);
            PropertyKit.Refused(() => layer.Forward(packed), expected, actual);
            if (c.Layout != InputLayout.Unbatched && c.N > 0 && features > 0)
                PropertyKit.Refused(() => layer.Forward(input, Enumerable.Repeat(c.Steps, c.N).ToArray()), expected, actual);
        }, iter: PropertyKit.Iter(60));

    [Fact]
    public void A_wrong_h0_shape_is_refused_naming_expected_and_actual() =>
        Gen.Select(Small, Gen.Int[1, 4], Gen.Int[0, 5].Array[4]).Sample((c, rank, dims) =>
        {
            var layer = new RnnLayer<double>(c.Options);
            bool unbatched = c.Layout == InputLayout.Unbatched;
            int stack = c.Layers * c.Directions;
            nint[] shape = Shape(dims.Take(rank));
            nint[] right = unbatched ? [stack, c.Hidden] : [stack, c.N, c.Hidden];
            if (shape.SequenceEqual(right))
                return;
            var h0 = Tensor.Create(new double[dims.Take(rank).Aggregate(1, (a, b) => a * b)], shape);
            var input = PropertyKit.Input<double>(c, new double[c.Steps * c.N * c.InputSize]);
            if (rank != right.Length)
                PropertyKit.Refused(() => layer.Forward(input, h0), $"{right.Length}-D", $"got {rank}-D");
            else
                PropertyKit.Refused(() => layer.Forward(input, h0), $"Expected hidden size ({stack}, {c.N}, {c.Hidden})",
                    unbatched ? $"got [{shape[0]}, 1, {shape[1]}]" : $"got {Format(shape)}");
            if (!unbatched && rank == 3 && c.N > 0)
            {
                var sequences = Enumerable.Range(0, c.N).Select(_ => Tensor.Create(new double[c.InputSize], [1, c.InputSize])).ToArray();
                PropertyKit.Refused(() => layer.Forward(PackedSequence.Pack(sequences), h0),
                    $"Expected hidden size ({stack}, {c.N}, {c.Hidden})", $"got {Format(shape)}");
            }
        }, iter: PropertyKit.Iter(60));

    [Fact]
    public void Wrong_lengths_are_refused_naming_the_bad_length_and_its_bound() =>
        Gen.Select(PropertyKit.Cases(maxSize: 6, maxSteps: 4, minBatch: 1, maxBatch: 4, batched: true),
                Gen.Int[0, 3], Gen.Int[-3, 9], Gen.Int[0, 7]).Sample((c, kind, value, at) =>
        {
            var layer = new RnnLayer<float>(c.Options);
            var input = PropertyKit.Input<float>(c, new double[c.Steps * c.N * c.InputSize]);
            int[] lengths = Enumerable.Repeat(c.Steps, c.N).ToArray();
            int i = at % c.N;
            switch (kind)
            {
                case 0:   // wrong count
                    int count = value < 0 ? 0 : value;
                    if (count == c.N) count++;
                    PropertyKit.Refused(() => layer.Forward(input, new int[count].Select(_ => 1).ToArray()), $"got {count}", $"batch_size={c.N}");
                    break;
                case 1:   // zero or negative
                    lengths[i] = Math.Min(0, value);
                    PropertyKit.Refused(() => layer.Forward(input, lengths), "greater than 0", $"= {lengths[i]}");
                    break;
                case 2:   // longer than the padded time dimension
                    lengths[i] = c.Steps + 1 + Math.Abs(value);
                    PropertyKit.Refused(() => layer.Forward(input, lengths), $"= {lengths[i]}", $"({c.Steps}");
                    break;
                default:  // unsorted while enforceSorted
                    if (c.N < 2 || c.Steps < 2)
                        return;
                    lengths[c.N - 1] = c.Steps;
                    lengths[0] = 1;
                    var padded = PropertyKit.Input<float>(c with { Layout = InputLayout.TimeMajor }, new double[c.Steps * c.N * c.InputSize]);
                    PropertyKit.Refused(() => PackedSequence.PackPadded(padded, lengths, enforceSorted: true),
                        "decreasing", $"{c.Steps} > ");
                    break;
            }
        }, iter: PropertyKit.Iter(80));

    [Fact]
    public void Inconsistent_packed_sequence_pieces_are_refused_or_accepted_exactly_when_valid() =>
        Gen.Select(Gen.Int[0, 12], Gen.Int[-1, 4].Array[0, 5], Gen.Int[0, 2], Gen.Int[-1, 4].Array[0, 5], Gen.Int[0, 2])
            .Sample((rows, batchSizes, sortedKind, someIndices, unsortedKind) =>
            {
                int[]? sorted = sortedKind switch   // none, a random array, or a true permutation (the reversal)
                {
                    0 => null,
                    1 => someIndices,
                    _ => Enumerable.Range(0, batchSizes.Length > 0 ? Math.Max(0, batchSizes[0]) : 0).Reverse().ToArray(),
                };
                int[]? unsorted = unsortedKind switch
                {
                    0 => null,
                    1 => sorted is null ? [0] : Inverse(sorted),
                    _ => sorted?.Reverse().ToArray() ?? [],
                };
                var data = Tensor.Create(new float[rows * 2], [rows, 2]);
                string? problem = PackedProblem(rows, batchSizes, sorted, unsorted);
                if (problem is null)
                {
                    var packed = new PackedSequence<float>(data, batchSizes, sorted, unsorted);
                    packed.BatchSize.Should().Be(batchSizes[0]);
                    packed.Lengths.Sum().Should().Be(rows);
                }
                else
                    PropertyKit.Refused(() => new PackedSequence<float>(data, batchSizes, sorted, unsorted), problem.Split('|'));
            }, iter: PropertyKit.Iter(300));

    [Fact]
    public void Step_with_spans_of_wrong_lengths_is_refused_naming_expected_and_actual() =>
        Gen.Select(PropertyKit.Cases(maxSize: 6, minBatch: 1, maxBatch: 3, unidirectional: true, batched: true), Gen.Int[0, 3],
                Gen.Int[1, 40]).Sample((c, steps, offset) =>
        {
            var layer = new RnnLayer<double>(c.Options);
            var state = layer.CreateState(c.N);
            int stepInput = c.N * c.InputSize, stepOutput = c.N * c.Hidden;
            int badInput = steps * stepInput + offset % stepInput;
            if (badInput % stepInput != 0)
                PropertyKit.Refused(() => layer.Step(state, new double[badInput], new double[steps * stepOutput]), $"= {stepInput} values", $"got {badInput}");
            int badOutput = steps * stepOutput + offset;
            PropertyKit.Refused(() => layer.Step(state, new double[steps * stepInput], new double[badOutput]),
                $"= {steps * stepOutput} values", $"got {badOutput}");
            var other = new RnnLayer<double>(c.Options with { InputSize = c.InputSize + 1 });
            PropertyKit.Refused(() => other.Step(state, [], []), $"RNN({c.InputSize}, {c.Hidden})", $"RNN({c.InputSize + 1}, {c.Hidden})");
            PropertyKit.Refused(() => layer.CreateState(-steps), "batchSize", $"{-steps}");
            PropertyKit.Refused(() => layer.CreateState(c.N, Tensor.Create(new double[c.Layers * (c.N + 1) * c.Hidden], [c.Layers, c.N + 1, c.Hidden])),
                $"({c.Layers}, {c.N}, {c.Hidden})", $"[{c.Layers}, {c.N + 1}, {c.Hidden}]");
        }, iter: PropertyKit.Iter(60));

    [Fact]
    public void LoadStateDict_with_a_wrong_shape_is_refused_naming_the_key_and_both_shapes() =>
        Gen.Select(Small, Gen.Int, Gen.Int[1, 3], Gen.Int[1, 6].Array[3]).Sample((c, pick, rank, dims) =>
        {
            var layer = new RnnLayer<float>(c.Options);
            var dict = layer.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
            var (name, tensor) = dict.ElementAt((int)((uint)pick % dict.Count));
            nint[] shape = Shape(dims.Take(rank));
            if (shape.SequenceEqual(tensor.Lengths.ToArray()))
                return;
            var before = layer.StateDict()[name].ToDoubles();
            dict[name] = Tensor.Create(new float[dims.Take(rank).Aggregate(1, (a, b) => a * b)], shape);
            PropertyKit.Refused(() => layer.LoadStateDict(dict), name, Format(shape), Format(tensor.Lengths.ToArray()));
            layer.StateDict()[name].ToDoubles().Should().Equal(before, "a refused load changes nothing");

            dict.Remove(name);
            dict["not_" + name] = tensor;
            PropertyKit.Refused(() => layer.LoadStateDict(dict), $"\"{name}\"", $"\"not_{name}\"");
        }, iter: PropertyKit.Iter(60));

    [Fact]
    public void Backward_with_gradients_of_a_wrong_shape_is_refused_naming_both_shapes() =>
        Gen.Select(Small, Gen.Int[1, 3], Gen.Int[0, 4].Array[3], Gen.Bool).Sample((c, rank, dims, ofHn) =>
        {
            var layer = new RnnLayer<double>(c.Options) { Training = false };
            var tape = new RnnTape<double>();
            var (output, hn) = layer.Forward(PropertyKit.Input<double>(c, new double[c.Steps * c.N * c.InputSize]), null, tape);
            nint[] shape = Shape(dims.Take(rank)), right = (ofHn ? hn : output).Lengths.ToArray();
            if (shape.SequenceEqual(right))
                return;
            var wrong = Tensor.Create(new double[dims.Take(rank).Aggregate(1, (a, b) => a * b)], shape);
            PropertyKit.Refused(() => layer.Backward(tape, ofHn ? null : wrong, ofHn ? wrong : null), Format(right), Format(shape));
        }, iter: PropertyKit.Iter(60));

    // The first problem PackedSequence's constructor must report, in its documented order, as '|'-separated message
    // parts (the numbers involved); null when the pieces are consistent. Written from the XML docs, not the code.
    private static string? PackedProblem(int rows, int[] batchSizes, int[]? sorted, int[]? unsorted)
    {
        if (batchSizes.Length == 0)
            return "empty";
        for (int t = 0; t < batchSizes.Length; t++)
        {
            if (batchSizes[t] <= 0)
                return $"batchSizes[{t}] = {batchSizes[t]}";
            if (t > 0 && batchSizes[t] > batchSizes[t - 1])
                return $"batchSizes[{t}] = {batchSizes[t]}|batchSizes[{t - 1}] = {batchSizes[t - 1]}";
        }
        if (batchSizes.Sum() != rows)
            return $"{batchSizes.Sum()}|[{rows}, 2]";
        int batch = batchSizes[0];
        if (sorted is not null)
        {
            if (sorted.Length != batch)
                return $"{batch}|{sorted.Length}";
            if (sorted.Any(v => v < 0 || v >= batch) || sorted.Distinct().Count() != batch)
                return "permutation";
        }
        if (unsorted is not null)
        {
            if (sorted is null)
                return "without sortedIndices";
            if (unsorted.Length != sorted.Length)
                return $"{sorted.Length}|{unsorted.Length}";
            if (!unsorted.SequenceEqual(Inverse(sorted)))
                return "inverse";
        }
        return null;
    }

    private static int[] Inverse(int[] permutation)
    {
        var inverse = new int[permutation.Length];
        for (int i = 0; i < permutation.Length; i++)
            if ((uint)permutation[i] < (uint)inverse.Length)
                inverse[permutation[i]] = i;
        return inverse;
    }

    private static nint[] Shape(IEnumerable<int> dims) => dims.Select(d => (nint)d).ToArray();

    private static string Format(nint[] shape) => $"[{string.Join(", ", shape)}]";
}
