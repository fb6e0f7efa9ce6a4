using System.Numerics.Tensors;

namespace ElmanRnn.Tests.Streaming;

/// <summary>
/// Zero allocation on the hot paths: a warm Step, and Forward into caller-provided tensors, allocate 0 bytes on the
/// calling thread (GC.GetAllocatedBytesForCurrentThread), at 1 and at 2 threads. Oracle for the values: the allocating
/// Forward, bitwise.
/// </summary>
[Collection(nameof(AllocationTests))]
[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public class AllocationTests
{
    [Theory]
    [InlineData(1, 1, 32, 128)]     // the 2-layer 32→128 streaming case, one step per call
    [InlineData(2, 1, 64, 256)]     // batch 1 big enough for W_hh panels to be split across threads
    [InlineData(2, 16, 64, 256)]
    public void AWarmStepAllocatesNothing(int threads, int batch, int inputSize, int hidden)
    {
        var layer = new RnnLayer<float>(new() { InputSize = inputSize, HiddenSize = hidden, NumLayers = 2 }, new Random(1))
        {
            Training = false, MaxDegreeOfParallelism = threads,
        };
        var state = layer.CreateState(batch);
        var input = new float[batch * inputSize];
        new Random(2).NextBytes(new byte[1]);
        for (int i = 0; i < input.Length; i++) input[i] = (float)Math.Sin(i);
        var output = new float[batch * hidden];
        for (int i = 0; i < 200; i++)
            layer.Step(state, input, output);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
            layer.Step(state, input, output);
        (GC.GetAllocatedBytesForCurrentThread() - before).Should().Be(0);
    }

    public static IEnumerable<object[]> ForwardForms() =>
    [
        [false, false, false, 1, 3],    // time-major
        [true, false, false, 2, 3],     // batch-first, bidirectional
        [false, true, false, 2, 1],     // unbatched, bidirectional
        [false, false, true, 1, 1],     // (L, 1, H_in): size-1 dimensions, used in place
        [true, false, false, 1, 1],     // batch-first batch 1
    ];

    [Theory]
    [MemberData(nameof(ForwardForms))]
    public void ForwardIntoCallerTensorsEqualsForwardAndAllocatesNothing(bool batchFirst, bool unbatched, bool sizeOne, int directions, int batch)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            var layer = new RnnLayer<float>(new()
            {
                InputSize = 24, HiddenSize = 200, NumLayers = 2, BatchFirst = batchFirst, Bidirectional = directions == 2,
            }, new Random(3)) { Training = false, MaxDegreeOfParallelism = threads };
            const int steps = 9;
            if (sizeOne) batch = 1;
            nint[] inputShape = unbatched ? [steps, 24] : batchFirst ? [batch, steps, 24] : [steps, batch, 24];
            var x = Tensor.Create(TestTensors.Random(new Random(4), steps * batch * 24).Select(v => (float)v).ToArray(), inputShape);
            nint[] hShape = unbatched ? [2 * directions, 200] : [2 * directions, batch, 200];
            var h0 = Tensor.Create(TestTensors.Random(new Random(5), 2 * directions * batch * 200).Select(v => (float)v).ToArray(), hShape);
            var (expected, expectedHn) = layer.Forward(x, h0);

            var output = Tensor.Create(new float[expected.FlattenedLength], expected.Lengths);
            var hn = Tensor.Create(new float[expectedHn.FlattenedLength], expectedHn.Lengths);
            for (int i = 0; i < 50; i++)
                layer.Forward(x, h0, output, hn);
            long before = GC.GetAllocatedBytesForCurrentThread();
            layer.Forward(x, h0, output, hn);
            (GC.GetAllocatedBytesForCurrentThread() - before).Should().Be(0, $"{threads} thread(s)");
            output.ToDoubles().Should().Equal(expected.ToDoubles());
            hn.ToDoubles().Should().Equal(expectedHn.ToDoubles());
        }
    }

    [Theory]
    [InlineData(false, false, false)]   // lengths in decreasing order: no permutation
    [InlineData(true, false, false)]    // unsorted: h0 sorted and h_n unsorted through the pool
    [InlineData(true, true, false)]
    [InlineData(true, true, true)]      // h0 and hn the same tensor
    [InlineData(false, true, true)]
    public void PackedForwardIntoCallerTensorsEqualsForwardAndAllocatesNothing(bool unsorted, bool bidirectional, bool h0IsHn)
    {
        // Oracle: the allocating packed Forward, bitwise (its output and h_n are pinned by the libtorch fixtures).
        int d = bidirectional ? 2 : 1;
        int[] lengths = unsorted ? [5, 9, 2, 9, 7] : [9, 9, 7, 5, 2];
        foreach (int threads in new[] { 1, 2 })
        {
            var layer = new RnnLayer<float>(new()
            {
                InputSize = 24, HiddenSize = 160, NumLayers = 2, Bidirectional = bidirectional,
            }, new Random(3)) { Training = false, MaxDegreeOfParallelism = threads };
            var padded = Tensor.Create(TestTensors.Random(new Random(4), 9 * 5 * 24).Select(v => (float)v).ToArray(), [9, 5, 24]);
            var packed = ElmanRnn.Layout.PackedSequence.PackPadded(padded, lengths, batchFirst: false, enforceSorted: !unsorted);
            float[] h0Values = TestTensors.Random(new Random(5), 2 * d * 5 * 160).Select(v => (float)v).ToArray();
            var (expected, expectedHn) = layer.Forward(packed, Tensor.Create(h0Values, [2 * d, 5, 160]));

            var output = Tensor.Create(new float[expected.Data.FlattenedLength], expected.Data.Lengths);
            var hn = Tensor.Create(new float[expectedHn.FlattenedLength], expectedHn.Lengths);
            var h0 = h0IsHn ? hn : Tensor.Create(h0Values, [2 * d, 5, 160]);
            long allocated = 0;
            for (int i = 0; i < 20; i++)
            {
                if (h0IsHn)   // hn was overwritten by the previous call: start again from h0's values
                    h0 = hn = Tensor.Create((float[])h0Values.Clone(), [2 * d, 5, 160]);
                long before = GC.GetAllocatedBytesForCurrentThread();
                layer.Forward(packed, h0, output, hn);
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            }
            allocated.Should().Be(0, $"{threads} thread(s)");
            output.ToDoubles().Should().Equal(expected.Data.ToDoubles());
            hn.ToDoubles().Should().Equal(expectedHn.ToDoubles());
        }
    }

    [Fact]
    public void PackedForwardIntoRefusesResultTensorsOfOtherShapes()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 2, HiddenSize = 3, NumLayers = 2 }) { Training = false };
        var packed = ElmanRnn.Layout.PackedSequence.PackPadded(Tensor.Create(new float[4 * 2 * 2], [4, 2, 2]), [4, 3], batchFirst: false);
        var hn = Tensor.Create(new float[2 * 2 * 3], [2, 2, 3]);
        var wrong = () => layer.Forward(packed, null, Tensor.Create(new float[8 * 3], [8, 3]), hn);
        wrong.Should().Throw<ArgumentException>().WithMessage("output must have shape [7, 3]*got [8, 3].*");
        var wrongHn = () => layer.Forward(packed, null, Tensor.Create(new float[7 * 3], [7, 3]), Tensor.Create(new float[6], [2, 3]));
        wrongHn.Should().Throw<ArgumentException>().WithMessage("hn must have shape [2, 2, 3]*got [2, 3].*");
    }

    [Fact]
    public void ForwardIntoAcceptsTheSameTensorAsH0AndHn()
    {
        // Oracle: the allocating Forward with h0; the state is read before it is overwritten.
        var layer = new RnnLayer<double>(new() { InputSize = 2, HiddenSize = 5, NumLayers = 3 }, new Random(6)) { Training = false };
        var x = Tensor.Create(TestTensors.Random(new Random(7), 4 * 3 * 2), [4, 3, 2]);
        var h = Tensor.Create(TestTensors.Random(new Random(8), 3 * 3 * 5), [3, 3, 5]);
        var (expected, expectedHn) = layer.Forward(x, h);
        var output = Tensor.Create(new double[4 * 3 * 5], [4, 3, 5]);
        layer.Forward(x, h, output, h);
        output.ToDoubles().Should().Equal(expected.ToDoubles());
        h.ToDoubles().Should().Equal(expectedHn.ToDoubles());
    }

    [Fact]
    public void ForwardIntoRefusesResultTensorsOfOtherShapesOrStridedViews()
    {
        var layer = new RnnLayer<float>(new() { InputSize = 2, HiddenSize = 3 }) { Training = false };
        var x = Tensor.Create(new float[4 * 2 * 2], [4, 2, 2]);
        var hn = Tensor.Create(new float[1 * 2 * 3], [1, 2, 3]);
        var wrong = () => layer.Forward(x, null, Tensor.Create(new float[4 * 2 * 4], [4, 2, 4]), hn);
        wrong.Should().Throw<ArgumentException>().WithMessage(
            "output must have shape [4, 2, 3] (what Forward returns for this input), got [4, 2, 4].*");
        var wrongHn = () => layer.Forward(x, null, Tensor.Create(new float[24], [4, 2, 3]), Tensor.Create(new float[3], [1, 3]));
        wrongHn.Should().Throw<ArgumentException>().WithMessage("hn must have shape [1, 2, 3]*got [1, 3].*");
        // every other element of an (8, 2, 3) buffer: a strided (4, 2, 3) view
        var strided = Tensor.Create(new float[8 * 2 * 3], 0, [4, 2, 3], [12, 3, 1]);
        var act = () => layer.Forward(x, null, strided, hn);
        act.Should().Throw<ArgumentException>().WithMessage("output must be a dense row-major tensor*strides [12, 3, 1]*");
    }
}
