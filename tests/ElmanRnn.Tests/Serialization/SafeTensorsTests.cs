using System.Numerics.Tensors;
using System.Text;
using ElmanRnn.Serialization;
using static ElmanRnn.Tests.Serialization.SafeTensorsFiles;

namespace ElmanRnn.Tests.Serialization;

public class SafeTensorsTests
{
    private static readonly Dictionary<string, string> Metadata = new() { ["format"] = "pt", ["note"] = "ünïcode + <chars>" };

    [Fact]
    public void FloatTensorsAndMetadataRoundTripBitExactlyThroughAStream()
    {
        var tensors = new Dictionary<string, Tensor<float>>
        {
            ["weight_ih_l0"] = Tensor.Create([1.5f, -0f, float.Epsilon, float.MaxValue, float.NaN, float.NegativeInfinity], [2, 3]),
            ["bias_ih_l0"] = Tensor.Create([0.1f, 0.2f], [2]),
        };
        using var stream = new MemoryStream();

        SafeTensors.Write(stream, tensors, Metadata);
        stream.Position = 0;
        IReadOnlyDictionary<string, Tensor<float>> read = SafeTensors.Read<float>(stream);

        read.Keys.Should().Equal("weight_ih_l0", "bias_ih_l0");
        read["weight_ih_l0"].ShouldEqual([2, 3], 1.5f, -0f, float.Epsilon, float.MaxValue, float.NaN, float.NegativeInfinity);
        read["bias_ih_l0"].ShouldEqual([2], 0.1f, 0.2f);
        BitConverter.SingleToInt32Bits(TensorAssert.Values(read["weight_ih_l0"])[1]).Should().Be(int.MinValue, "-0 keeps its sign");
        SafeTensors.ReadMetadata(stream.ToArray()).Should().BeEquivalentTo(Metadata);
    }

    [Fact]
    public void DoubleTensorsAndMetadataRoundTripThroughAFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"elmanrnn-{Guid.NewGuid():N}.safetensors");
        try
        {
            var tensors = new Dictionary<string, Tensor<double>>
            {
                ["b"] = Tensor.Create([Math.PI, -1e-300, 1e300], [3, 1]),
                ["a"] = Tensor.Create([0.1], [1]),
            };

            SafeTensors.Write(path, tensors, Metadata);

            IReadOnlyDictionary<string, Tensor<double>> read = SafeTensors.Read<double>(path);
            read.Keys.Should().Equal("b", "a");
            read["b"].ShouldEqual([3, 1], Math.PI, -1e-300, 1e300);
            read["a"].ShouldEqual([1], 0.1);
            SafeTensors.ReadMetadata(path).Should().BeEquivalentTo(Metadata);
            ReadDType(File.ReadAllBytes(path), "b").Should().Be("F64");
        }
        finally
        {
            File.Delete(path);
        }
    }

    // Expected bytes: huggingface/safetensors tensor.rs test_serialization (header length 64, no padding needed).
    [Fact]
    public void WriterProducesTheReferenceImplementationsBytes()
    {
        var tensors = new Dictionary<string, Tensor<float>> { ["attn.0"] = Tensor.Create([0f, 1, 2, 3, 4, 5], [1, 2, 3]) };

        byte[] file = Write(tensors);

        file.Should().Equal(Build("""{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}""", F32(0, 1, 2, 3, 4, 5)));
    }

    // Expected bytes: huggingface/safetensors tensor.rs test_serialization_forced_alignement (65-byte JSON, 7 spaces).
    [Fact]
    public void WriterPadsTheHeaderWithSpacesToAMultipleOf8()
    {
        var tensors = new Dictionary<string, Tensor<float>> { ["attn0"] = Tensor.Create([0f, 1, 2, 3, 4, 5], [1, 1, 2, 3]) };

        byte[] file = Write(tensors);

        file.Should().Equal(Build("""{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       """, F32(0, 1, 2, 3, 4, 5)));
    }

    // Expected bytes: huggingface/safetensors tensor.rs test_empty.
    [Fact]
    public void EmptyFilesMatchTheReferenceWithAndWithoutMetadata()
    {
        Write(new Dictionary<string, Tensor<float>>()).Should().Equal(Build("{}      "));
        Write(new Dictionary<string, Tensor<float>>(), new Dictionary<string, string> { ["framework"] = "pt" })
            .Should().Equal(Build("""{"__metadata__":{"framework":"pt"}}     """));
    }

    [Fact]
    public void NonDenseTensorsAreWrittenRowMajor()
    {
        // columns 1..2 of a 3x4 matrix holding 0..11
        Tensor<float> slice = Tensor.Create(Enumerable.Range(0, 12).Select(i => (float)i).ToArray(), [3, 4])
            .Slice([new System.Buffers.NRange(0, 3), new System.Buffers.NRange(1, 3)]);
        slice.IsDense.Should().BeFalse();

        byte[] file = Write(new Dictionary<string, Tensor<float>> { ["w"] = slice });

        SafeTensors.Read<float>(file)["w"].ShouldEqual([3, 2], 1, 2, 5, 6, 9, 10);
    }

    // Hand-computed IEEE binary16: 0x3E00 = +1.5, 0xC000 = -2, 0x7BFF = 65504 (largest finite), 0x0001 = 2^-24
    // (smallest subnormal), 0x7C00 = +inf, 0xFE00 = a NaN. bfloat16 is the top 16 bits of a float32: 0x3FC0 = 1.5,
    // 0xC000 = -2, 0x4049 = 3.140625, 0x0001 = 2^-133 (a float32 subnormal), 0xFF80 = -inf, 0x7FC0 = NaN.
    [Fact]
    public void HalfAndBFloat16AreWidenedExactly()
    {
        byte[] file = Build(
            """{"h":{"dtype":"F16","shape":[6],"data_offsets":[0,12]},"b":{"dtype":"BF16","shape":[2,3],"data_offsets":[12,24]}}""",
            [.. U16(0x3E00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0xFE00), .. U16(0x3FC0, 0xC000, 0x4049, 0x0001, 0xFF80, 0x7FC0)]);

        IReadOnlyDictionary<string, Tensor<float>> floats = SafeTensors.Read<float>(file);
        floats["h"].ShouldEqual([6], 1.5f, -2f, 65504f, MathF.Pow(2, -24), float.PositiveInfinity, float.NaN);
        floats["b"].ShouldEqual([2, 3], 1.5f, -2f, 3.140625f, BitConverter.Int32BitsToSingle(1 << 16), float.NegativeInfinity, float.NaN);

        IReadOnlyDictionary<string, Tensor<double>> doubles = SafeTensors.Read<double>(file);
        doubles["h"].ShouldEqual([6], 1.5, -2, 65504, Math.Pow(2, -24), double.PositiveInfinity, double.NaN);
        doubles["b"].ShouldEqual([2, 3], 1.5, -2, 3.140625, Math.Pow(2, -133), double.NegativeInfinity, double.NaN);
    }

    [Fact]
    public void IntegerDTypesAreReadAsTheirValues()
    {
        byte[] file = Build(
            """
            {"l":{"dtype":"I64","shape":[3],"data_offsets":[0,24]},"i":{"dtype":"I32","shape":[2],"data_offsets":[24,32]},
             "s":{"dtype":"I16","shape":[1],"data_offsets":[32,34]},"c":{"dtype":"I8","shape":[1],"data_offsets":[34,35]},
             "u":{"dtype":"U8","shape":[1],"data_offsets":[35,36]}}
            """,
            [.. I64(7, -3, 1L << 40), .. I32(int.MinValue, 5), 0x00, 0x80, 0x80, 0xFF]);

        IReadOnlyDictionary<string, Tensor<double>> read = SafeTensors.Read<double>(file);

        read["l"].ShouldEqual([3], 7, -3, 1L << 40);
        read["i"].ShouldEqual([2], int.MinValue, 5);
        read["s"].ShouldEqual([1], short.MinValue);
        read["c"].ShouldEqual([1], -128);
        read["u"].ShouldEqual([1], 255);
    }

    [Fact]
    public void F64ReadAsFloatRoundsToNearest()
    {
        byte[] file = Build("""{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}""", F64(0.1, 1 + 1e-12));

        SafeTensors.Read<float>(file)["x"].ShouldEqual([2], 0.1f, 1f);
    }

    [Fact]
    public void TensorsComeBackInDataOffsetOrderWhateverTheHeaderOrder()
    {
        // Empty tensors share an offset; the name orders them.
        byte[] file = Build(
            """
            {"late":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"z_empty":{"dtype":"F32","shape":[0,2],"data_offsets":[4,4]},
             "__metadata__":{"k":"v"},"early":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a_empty":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}
            """,
            F32(1, 2));

        IReadOnlyDictionary<string, Tensor<float>> read = SafeTensors.Read<float>(file);

        read.Keys.Should().Equal("early", "a_empty", "z_empty", "late");
        read["z_empty"].ShouldEqual([0, 2]);
        read["late"].ShouldEqual([1], 2f);
    }

    [Fact]
    public void ZeroDimensionalTensorsComeBackWithShapeOne()
    {
        byte[] file = Build("""{"step":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}""", I64(42));

        SafeTensors.Read<float>(file)["step"].ShouldEqual([1], 42f);
    }

    [Fact]
    public void NonSeekableStreamsAreRead()
    {
        byte[] file = Build("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", F32(3, 4));

        using var stream = new ForwardOnlyStream(file);
        SafeTensors.Read<float>(stream)["x"].ShouldEqual([2], 3f, 4f);
        SafeTensors.ReadMetadata(new ForwardOnlyStream(file)).Should().BeEmpty();
    }

    [Fact]
    public void MetadataIsEmptyWhenTheFileHasNone()
    {
        SafeTensors.ReadMetadata(Write(new Dictionary<string, Tensor<double>> { ["x"] = Tensor.Create([1.0], [1]) })).Should().BeEmpty();
    }

    [Fact]
    public void WritingTheReservedMetadataNameIsRefused()
    {
        var tensors = new Dictionary<string, Tensor<float>> { ["__metadata__"] = Tensor.Create([1f], [1]) };

        FluentActions.Invoking(() => Write(tensors)).Should().Throw<ArgumentException>().WithMessage("*'__metadata__' is reserved*");
    }

    [Fact]
    public void WritingAnElementTypeOtherThanFloatOrDoubleIsRefused()
    {
        var tensors = new Dictionary<string, Tensor<Half>> { ["x"] = Tensor.Create([(Half)1], [1]) };

        FluentActions.Invoking(() => SafeTensors.Write(new MemoryStream(), tensors))
            .Should().Throw<NotSupportedException>().WithMessage("*float (F32) and double (F64)*");
    }

    private static byte[] Write<T>(Dictionary<string, Tensor<T>> tensors, Dictionary<string, string>? metadata = null)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var stream = new MemoryStream();
        SafeTensors.Write(stream, tensors, metadata);
        return stream.ToArray();
    }

    private static string ReadDType(byte[] file, string name)
    {
        int headerLength = (int)BitConverter.ToUInt64(file, 0);
        using var json = System.Text.Json.JsonDocument.Parse(Encoding.UTF8.GetString(file, 8, headerLength));
        return json.RootElement.GetProperty(name).GetProperty("dtype").GetString()!;
    }
}
