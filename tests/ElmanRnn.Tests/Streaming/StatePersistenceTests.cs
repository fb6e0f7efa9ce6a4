using System.Numerics.Tensors;

namespace ElmanRnn.Tests.Streaming;

/// <summary>
/// RnnState.WriteTo / ReadFrom: a round trip continues the stream exactly (oracle: the stream never saved), and every
/// truncated, corrupted or foreign state is refused with a clear exception, never read as a wrong state.
/// </summary>
public class StatePersistenceTests
{
    private static readonly RnnOptions Options = new() { InputSize = 3, HiddenSize = 4, NumLayers = 2, Nonlinearity = Nonlinearity.Relu };

    private static (RnnLayer<double> Layer, RnnState<double> State, byte[] Bytes) Saved()
    {
        var layer = new RnnLayer<double>(Options, new Random(1)) { Training = false };
        var state = layer.CreateState(2);
        layer.Step(state, TestTensors.Random(new Random(2), 5 * 2 * 3), new double[5 * 2 * 4]);
        using var stream = new MemoryStream();
        state.WriteTo(stream);
        return (layer, state, stream.ToArray());
    }

    [Fact]
    public void RoundTripContinuesTheStreamBitwise()
    {
        var (layer, state, bytes) = Saved();
        bytes.Length.Should().Be(8 + 2 + 3 + 16 + 4 + 2 * 2 * 4 * sizeof(double) + 4, "header, NL·B·H values, checksum");
        var restored = RnnState<double>.ReadFrom(new MemoryStream(bytes), layer);
        restored.BatchSize.Should().Be(2);
        restored.Hidden.ToDoubles().Should().Equal(state.Hidden.ToDoubles());

        double[] next = TestTensors.Random(new Random(3), 3 * 2 * 3);
        var expected = new double[3 * 2 * 4];
        var actual = new double[3 * 2 * 4];
        layer.Step(state, next, expected);
        layer.Step(restored, next, actual);
        actual.Should().Equal(expected);
    }

    [Fact]
    public void EveryTruncationIsRefused()
    {
        var (layer, _, bytes) = Saved();
        for (int length = 0; length < bytes.Length; length++)
        {
            var act = () => RnnState<double>.ReadFrom(new MemoryStream(bytes, 0, length), layer);
            act.Should().Throw<InvalidDataException>($"truncated to {length} bytes").WithMessage(
                length < 8 + 2 + 3 + 16 + 4 ? "Truncated ElmanRnn state*header*" : "Truncated ElmanRnn state*");
        }
    }

    [Fact]
    public void EveryCorruptedByteIsRefused()
    {
        // Checksums cover the header and the values: no single flipped bit goes unnoticed.
        var (layer, _, bytes) = Saved();
        for (int i = 0; i < bytes.Length; i++)
            foreach (byte flip in new byte[] { 0x01, 0x80 })
            {
                var corrupted = (byte[])bytes.Clone();
                corrupted[i] ^= flip;
                var act = () => RnnState<double>.ReadFrom(new MemoryStream(corrupted), layer);
                act.Should().Throw<InvalidDataException>($"byte {i} ^ 0x{flip:x2}");
            }
    }

    [Fact]
    public void AStateOfAnotherArchitectureOrElementTypeIsRefused()
    {
        var (_, _, bytes) = Saved();
        var wider = new RnnLayer<double>(Options with { HiddenSize = 5 });
        var act = () => RnnState<double>.ReadFrom(new MemoryStream(bytes), wider);
        act.Should().Throw<ArgumentException>().WithMessage(
            "The state belongs to another architecture: RNN(3, 4, num_layers=2, relu, bias); this layer is RNN(3, 5, num_layers=2, relu, bias).*");
        var tanh = new RnnLayer<double>(Options with { Nonlinearity = Nonlinearity.Tanh });
        act = () => RnnState<double>.ReadFrom(new MemoryStream(bytes), tanh);
        act.Should().Throw<ArgumentException>().WithMessage("The state belongs to another architecture*tanh*");
        var single = new RnnLayer<float>(Options);
        var wrongType = () => RnnState<float>.ReadFrom(new MemoryStream(bytes), single);
        wrongType.Should().Throw<ArgumentException>().WithMessage("The state holds float64 values; this layer is RnnLayer<Single>.*");
    }

    [Fact]
    public void ForeignBytesAndUnknownVersionsAreRefused()
    {
        var (layer, _, bytes) = Saved();
        var act = () => RnnState<double>.ReadFrom(new MemoryStream(new byte[64]), layer);
        act.Should().Throw<InvalidDataException>().WithMessage("Not an ElmanRnn state*");
        var future = (byte[])bytes.Clone();
        future[8] = 2;
        act = () => RnnState<double>.ReadFrom(new MemoryStream(future), layer);
        act.Should().Throw<InvalidDataException>().WithMessage("Unsupported ElmanRnn state version 2*");
    }

    [Fact]
    public void AStateOfAnUnidirectionalLayerCannotBeReadForABidirectionalOne()
    {
        var (_, _, bytes) = Saved();
        var bidirectional = new RnnLayer<double>(Options with { Bidirectional = true });
        var act = () => RnnState<double>.ReadFrom(new MemoryStream(bytes), bidirectional);
        act.Should().Throw<NotSupportedException>().WithMessage("*bidirectional*");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AForgedBatchSizeIsRefusedBeforeItsValuesAreAllocated(bool seekable)
    {
        // Found by fuzzing (tests/fuzz.sh, state target): a valid header claiming 22,298,964 streams of
        // RNN(2, 3, num_layers=2) made ReadFrom allocate 535 MB for values the stream did not hold. Oracle: the
        // file's own size (37 bytes) bounds what reading it may allocate; 1 MB leaves room for the reader's buffers.
        var layer = new RnnLayer<float>(new RnnOptions { InputSize = 2, HiddenSize = 3, NumLayers = 2, Nonlinearity = Nonlinearity.Relu });
        using var saved = new MemoryStream();
        layer.CreateState(1).WriteTo(saved);
        byte[] bytes = saved.ToArray()[..37];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(25), 22_298_964);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(29), System.IO.Hashing.Crc32.HashToUInt32(bytes.AsSpan(0, 29)));

        Stream stream = seekable ? new MemoryStream(bytes) : new ElmanRnn.Tests.Serialization.ForwardOnlyStream(bytes);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var act = () => RnnState<float>.ReadFrom(stream, layer);
        act.Should().Throw<InvalidDataException>().WithMessage("Truncated ElmanRnn state: expected 535175136 bytes of values*");
        (GC.GetAllocatedBytesForCurrentThread() - before).Should().BeLessThan(1 << 20);
    }
}
