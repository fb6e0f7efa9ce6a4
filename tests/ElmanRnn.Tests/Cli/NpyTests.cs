using System.Buffers.Binary;
using System.Numerics;
using System.Numerics.Tensors;
using System.Text;
using ElmanRnn.Cli;
using static ElmanRnn.Tests.Cli.NpyFiles;
using static ElmanRnn.Tests.Serialization.TensorAssert;

namespace ElmanRnn.Tests.Cli;

/// <summary>
/// The .npy reader and writer. Oracles: files NumPy 1.24.2 wrote (Fixtures/npy, below), bytes assembled by hand from
/// numpy/lib/format.py's description, and exact round trips. Every comparison is exact (bit for bit where it says so).
/// </summary>
public sealed class NpyTests : IDisposable
{
    // Fixtures/npy was written with Debian 12's python3-numpy (1.24.2); element i in C order is i/4 - 1:
    //
    //   import numpy as np
    //   from numpy.lib import format
    //   def values(shape, dtype): return (np.arange(np.prod(shape)) / 4 - 1).astype(dtype).reshape(shape)
    //   np.save("f4_c_v1.npy", values((2, 3, 4), "<f4"))
    //   np.save("f8_c_v1.npy", values((3,), "<f8"))
    //   np.save("f8_fortran_v1.npy", np.asfortranarray(values((2, 3), "<f8")))
    //   for name, dtype, version in [("f4_c_v2.npy", "<f4", (2, 0)), ("f8_c_v3.npy", "<f8", (3, 0))]:
    //       with open(name, "wb") as f: format.write_array(f, values((2, 3), dtype), version=version)
    private static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "npy");

    private readonly string _directory = Directory.CreateTempSubdirectory("elmanrnn-npy-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("f4_c_v1.npy", "Float32", new long[] { 2, 3, 4 })]
    [InlineData("f8_c_v1.npy", "Float64", new long[] { 3 })]
    [InlineData("f8_fortran_v1.npy", "Float64", new long[] { 2, 3 })]
    [InlineData("f4_c_v2.npy", "Float32", new long[] { 2, 3 })]
    [InlineData("f8_c_v3.npy", "Float64", new long[] { 2, 3 })]
    public void ReadsWhatNumPyWrote(string file, string stored, long[] shape)
    {
        NpyArray<double> array = Npy.Read<double>(Path.Combine(Fixtures, file));

        array.Stored.ToString().Should().Be(stored);
        array.Values.Lengths.ToArray().Should().Equal(shape.Select(d => (nint)d));
        array.Values.ToDoubles().Should().Equal(Enumerable.Range(0, (int)shape.Aggregate((a, b) => a * b)).Select(i => i / 4.0 - 1));
    }

    [Theory]
    [InlineData("f4_c_v1.npy")]
    [InlineData("f8_c_v1.npy")]
    public void WritesExactlyTheBytesNpSaveWrites(string file)
    {
        byte[] expected = File.ReadAllBytes(Path.Combine(Fixtures, file));
        using var written = new MemoryStream();

        if (file.StartsWith("f4", StringComparison.Ordinal))
            Npy.Write(written, Npy.Read<float>(Path.Combine(Fixtures, file)).Values);
        else
            Npy.Write(written, Npy.Read<double>(Path.Combine(Fixtures, file)).Values);

        written.ToArray().Should().Equal(expected);
    }

    [Fact]
    public void FloatValuesRoundTripBitForBit() => RoundTripsBitForBit(
        [0f, -0f, 1f, -1.5f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue, float.PositiveInfinity,
            float.NegativeInfinity, float.NaN, BitConverter.Int32BitsToSingle(0x7FC0_1234), 1e-38f, 3.14159274f],
        f => BitConverter.SingleToInt32Bits(f));

    [Fact]
    public void DoubleValuesRoundTripBitForBit() => RoundTripsBitForBit(
        [0d, -0d, 1d, -1.5d, double.Epsilon, -double.Epsilon, double.MaxValue, double.MinValue, double.PositiveInfinity,
            double.NegativeInfinity, double.NaN, BitConverter.Int64BitsToDouble(0x7FF8_0000_0000_1234), 1e-308, Math.PI],
        d => BitConverter.DoubleToInt64Bits(d));

    private static void RoundTripsBitForBit<T>(T[] special, Func<T, long> bits) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(5);
        foreach (nint[] shape in new nint[][] { [14], [2, 7], [7, 1, 2], [1, 2, 7, 1], [2, 1, 1, 7, 1] })
        {
            T[] values = [.. special.OrderBy(_ => random.Next())];
            using var stream = new MemoryStream();
            Npy.Write(stream, Tensor.Create(values, shape));
            stream.Position = 0;

            NpyArray<T> read = Npy.Read<T>(stream);

            read.Values.Lengths.ToArray().Should().Equal(shape);
            read.Stored.Should().Be(typeof(T) == typeof(float) ? DType.Float32 : DType.Float64);
            Values(read.Values).Select(bits).Should().Equal(values.Select(bits));
        }
    }

    [Theory]
    [InlineData(new long[] { 1 })]
    [InlineData(new long[] { 0 })]
    [InlineData(new long[] { 0, 3 })]
    [InlineData(new long[] { 123456, 1, 0 })]
    [InlineData(new long[] { 3, 0, 5, 2 })]
    public void EmptyArraysRoundTrip(long[] shape)
    {
        nint[] lengths = shape.Select(d => (nint)d).ToArray();
        int count = (int)shape.Aggregate((a, b) => a * b);
        using var stream = new MemoryStream();
        Npy.Write(stream, Tensor.Create(Enumerable.Repeat(2.5, count).ToArray(), lengths));
        stream.Position = 0;

        NpyArray<double> read = Npy.Read<double>(stream);

        read.Values.Lengths.ToArray().Should().Equal(lengths);
        read.Values.ToDoubles().Should().AllBeEquivalentTo(2.5);
    }

    [Theory]
    [InlineData(new long[] { 5 })]
    [InlineData(new long[] { 1, 1, 1, 1, 1, 1, 1, 1 })]
    [InlineData(new long[] { 1000000, 0 })]
    [InlineData(new long[] { 0, 1234567890123 })]
    public void TheHeaderIsPaddedWithSpacesToAMultipleOf64AndEndsInANewline(long[] shape)
    {
        nint[] lengths = shape.Select(d => (nint)d).ToArray();
        using var stream = new MemoryStream();
        Npy.Write(stream, Tensor.Create(new float[shape.Aggregate((a, b) => a * b)], lengths));
        byte[] bytes = stream.ToArray();

        bytes.AsSpan(0, 8).ToArray().Should().Equal(0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0);
        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        ((10 + headerLength) % 64).Should().Be(0);
        string header = Encoding.Latin1.GetString(bytes, 10, headerLength);
        header.Should().StartWith($"{{'descr': '<f4', 'fortran_order': False, 'shape': {Npy.ShapeText(shape)}, }}");
        header.Should().EndWith(" \n");
        header.TrimEnd(' ', '\n').Should().EndWith("}");
    }

    [Fact]
    public void AVersion1HeaderWithoutPaddingIsRead()
    {
        byte[] file = Build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", F4(1.5f, -2f));

        NpyArray<float> read = Npy.Read<float>(new MemoryStream(file));

        read.Stored.Should().Be(DType.Float32);
        Values(read.Values).Should().Equal(1.5f, -2f);
    }

    [Fact]
    public void AVersion2HeaderIsRead()
    {
        byte[] file = Build(2, Header("<f8", false, "(2, 1)"), F8(0.1, -7));

        NpyArray<double> read = Npy.Read<double>(new MemoryStream(file));

        read.Stored.Should().Be(DType.Float64);
        read.Values.Lengths.ToArray().Should().Equal(2, 1);
        read.Values.ToDoubles().Should().Equal(0.1, -7);
    }

    [Fact]
    public void AVersion3HeaderIsReadAsUtf8()
    {
        Npy.Read<float>(new MemoryStream(Build(3, Header("<f4", false, "(1,)"), F4(4f)))).Values.ToDoubles().Should().Equal(4);
        // 3.0 exists for UTF-8 header text; decoded as latin-1, "é" would come out as two characters.
        FluentActions.Invoking(() => Npy.Read<float>(new MemoryStream(Build(3, Header("é", false, "(1,)"), F4(4f)))))
            .Should().Throw<InvalidDataException>().WithMessage("unsupported dtype 'é'*");
    }

    [Fact]
    public void FortranOrderedDataOfRank3IsReturnedRowMajor()
    {
        // x[i, j, k] = 100i + 10j + k over shape (2, 3, 4); column-major order lists i fastest, then j, then k.
        var columnMajor = new List<float>();
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < 3; j++)
                for (int i = 0; i < 2; i++)
                    columnMajor.Add(100 * i + 10 * j + k);
        byte[] file = Build(1, Header("<f4", true, "(2, 3, 4)"), F4([.. columnMajor]));

        NpyArray<float> read = Npy.Read<float>(new MemoryStream(file));

        read.Values.Lengths.ToArray().Should().Equal(2, 3, 4);
        var rowMajor = new List<double>();
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 4; k++)
                    rowMajor.Add(100 * i + 10 * j + k);
        read.Values.ToDoubles().Should().Equal(rowMajor);
    }

    // Oracle: NumPy's Fortran order, first index fastest in the data bytes; expected values written out by hand.
    // A size-1 dimension made the strided view that did the reordering refuse the Fortran strides.
    [Fact]
    public void FortranOrderedDataWithATrailingSize1DimensionIsRead()
    {
        byte[] file = Build(1, PaddedHeader("<f8", true, "(3, 1)"), F8(0.5, -1, 2));

        NpyArray<double> read = Npy.Read<double>(new MemoryStream(file));

        read.Values.Lengths.ToArray().Should().Equal(3, 1);
        read.Values.ToDoubles().Should().Equal(0.5, -1, 2);
    }

    [Fact]
    public void FortranOrderedDataWithAMiddleSize1DimensionIsReturnedRowMajor()
    {
        // x[i, 0, k] = 10i + k over shape (2, 1, 4); the file lists i fastest: x000, x100, x001, x101, ...
        byte[] file = Build(1, PaddedHeader("<f4", true, "(2, 1, 4)"), F4(0, 10, 1, 11, 2, 12, 3, 13));

        NpyArray<float> read = Npy.Read<float>(new MemoryStream(file));

        read.Values.Lengths.ToArray().Should().Equal(2, 1, 4);
        read.Values.ToDoubles().Should().Equal(0, 1, 2, 3, 10, 11, 12, 13);
    }

    [Fact]
    public void FortranOrderedDataWithALeadingSize1DimensionIsRead()
    {
        byte[] file = Build(1, PaddedHeader("<f8", true, "(1, 3)"), F8(4, 5, 6));

        NpyArray<double> read = Npy.Read<double>(new MemoryStream(file));

        read.Values.Lengths.ToArray().Should().Equal(1, 3);
        read.Values.ToDoubles().Should().Equal(4, 5, 6);
    }

    [Fact]
    public void FortranOrderOfRank1IsTheSameAsCOrder()
    {
        byte[] file = Build(1, Header("<f8", true, "(3,)"), F8(1, 2, 3));

        Npy.Read<double>(new MemoryStream(file)).Values.ToDoubles().Should().Equal(1, 2, 3);
    }

    [Theory]
    [InlineData("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}")]               // double quotes
    [InlineData("{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}")]                       // any key order
    [InlineData("{'descr':'<f4','fortran_order':False,'shape':(2,),}   \n")]                      // no spaces, trailing comma
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }")]                    // Python 2's long suffix
    [InlineData(" {\n'descr': '<f4',\t'fortran_order': False,\n 'shape': ( 2 , ) } ")]           // any whitespace
    public void AnyPythonSpellingOfTheHeaderDictIsRead(string header)
    {
        Npy.Read<float>(new MemoryStream(Build(1, header, F4(1, 2)))).Values.ToDoubles().Should().Equal(1, 2);
    }

    [Fact]
    public void Float32DataWidensExactlyAndFloat64DataRoundsToNearest()
    {
        byte[] f4 = Build(1, Header("<f4", false, "(1,)"), F4(0.1f));
        byte[] f8 = Build(1, Header("<f8", false, "(1,)"), F8(0.1));

        Npy.Read<double>(new MemoryStream(f4)).Values.ToDoubles().Should().Equal((double)0.1f);
        NpyArray<float> narrowed = Npy.Read<float>(new MemoryStream(f8));
        narrowed.Stored.Should().Be(DType.Float64);
        Values(narrowed.Values).Should().Equal(0.1f);
    }

    public static TheoryData<string, byte[], string> Broken()
    {
        byte[] valid = Build(1, Header("<f4", false, "(2, 3)"), F4(1, 2, 3, 4, 5, 6));
        return new TheoryData<string, byte[], string>
        {
            { "empty file", [], "truncated: the file ends after 0 bytes, inside the 10-byte preamble." },
            { "another format", [.. "PK\x03\x04"u8, .. new byte[20]], "not an .npy file: it does not start with the magic string \\x93NUMPY." },
            { "magic in the wrong case", [0x93, .. "numpy"u8, 1, 0, 0, 0], "not an .npy file*" },
            { "preamble cut short", valid[..8], "truncated: the file ends after 8 bytes, inside the 10-byte preamble." },
            { "version 4.0", [.. valid[..6], 4, 0, .. valid[8..]], "unsupported .npy format version 4.0; this reader supports 1.0, 2.0 and 3.0." },
            { "version 1.1", [.. valid[..6], 1, 1, .. valid[8..]], "unsupported .npy format version 1.1*" },
            { "version 0.0", [.. valid[..6], 0, 0, .. valid[8..]], "unsupported .npy format version 0.0*" },
            { "version 2.0 header length cut short", [.. valid[..6], 2, 0, 5, 0, 0], "truncated: the file ends inside the 4-byte header length of a version 2.0 file." },
            { "header longer than the file", valid[..40], "truncated: the header is 60 bytes long but only 30 bytes follow the preamble." },
            { "data cut short", valid[..^1], "truncated: shape (2, 3) of <f4 needs 24 bytes of data, but the file has 23." },
            { "no data", valid[..^24], "truncated: shape (2, 3) of <f4 needs 24 bytes of data, but the file has 0." },
            { "data left over", [.. valid, 0, 0, 0, 0], "4 bytes follow the data that shape (2, 3) of <f4 describes (24 bytes); the header and the data disagree." },
            { "big-endian", Build(1, Header(">f4", false, "(1,)"), F4(1)), "unsupported dtype '>f4': only little-endian float32 ('<f4') and float64 ('<f8') are supported; convert with x.astype('<f4') or x.astype('<f8')." },
            { "float16", Build(1, Header("<f2", false, "(2,)"), F4(1)), "unsupported dtype '<f2'*" },
            { "bool", Build(1, Header("|b1", false, "(4,)"), F4(1)), "unsupported dtype '|b1'*" },
            { "int64", Build(1, Header("<i8", false, "(1,)"), F8(1)), "unsupported dtype '<i8'*" },
            { "structured dtype", Build(1, "{'descr': [('x', '<f4'), ('y', '<f4')], 'fortran_order': False, 'shape': (1,), }", F4(1, 2)),
                "unsupported dtype: the header describes a structured dtype*" },
            { "a key missing", Build(1, "{'descr': '<f4', 'shape': (1,), }", F4(1)),
                "the header must have exactly the keys 'descr', 'fortran_order' and 'shape', but has 'descr', 'shape'." },
            { "a key too many", Build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", F4(1)), "the header must have exactly the keys*" },
            { "a key twice", Build(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", F4(1)), "*the key 'descr' appears twice*" },
            { "fortran_order not a bool", Build(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", F4(1)), "the header's 'fortran_order' is not True or False." },
            { "shape an integer", Build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': 1}", F4(1)), "the header's 'shape' is not a tuple of integers." },
            { "shape (1) is an integer in Python", Build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1)}", F4(1)), "the header's 'shape' is not a tuple of integers." },
            { "shape a list", Build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", F4(1)), "the header's 'shape' is not a tuple of integers." },
            { "shape of strings", Build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': ('1',)}", F4(1)), "the header's 'shape' is not a tuple of integers." },
            { "0-d", Build(1, Header("<f4", false, "()"), F4(1)), "the array is 0-d (shape ()); an RNN's arrays have at least one dimension — reshape to (1,)." },
            { "negative dimension", Build(1, Header("<f4", false, "(2, -1)"), []), "the header's shape (2, -1) has a negative dimension." },
            { "more elements than an array holds", Build(1, Header("<f8", false, "(1099511627776, 1099511627776)"), []),
                "shape (1099511627776, 1099511627776) has more elements than one array can hold*" },
            { "dimension beyond 64 bits", Build(1, Header("<f4", false, "(99999999999999999999,)"), []), "*'99999999999999999999' is not an integer that fits 64 bits*" },
            { "not a dict", Build(1, "[('descr', '<f4')]", F4(1)), "the header is not a Python dict literal: \"[('descr', '<f4')]\"." },
            { "dict not closed", Build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", F4(1)),
                "the header is not a Python dict literal of the form np.save writes: expected '}' at character 54 of*" },
            { "dict ends after a comma", Build(1, "{'descr': '<f4', ", F4(1)), "*the header ends before '}' at character 17*" },
            { "string not closed", Build(1, "{'descr: '<f4'}", F4(1)), "*expected ':'*" },
            { "text after the dict", Build(1, Header("<f4", false, "(1,)") + "x", F4(1)), "*unexpected text after the dict*" },
            { "a non-string key", Build(1, "{1: '<f4'}", F4(1)), "*a dict key must be a string*" },
            { "an escape sequence", Build(1, "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,)}", F4(1)), "*escape sequences in strings are not supported*" },
            { "code", Build(1, "{'descr': '<f4', 'fortran_order': __import__('os').system('true'), 'shape': (1,)}", F4(1)), "*unexpected '_' at character 34*" },
            { "a keyword prefix", Build(1, "{'descr': '<f4', 'fortran_order': Trueish, 'shape': (1,)}", F4(1)), "*unexpected 'T'*" },
            // Oracle: the reader's own nesting limit. Unlimited, 18 700 brackets overflowed the stack and killed the process.
            { "shape nested 50 000 deep", Build(1, Header("<f4", false, new string('(', 50_000)), F4(1)), "*containers nest more than 16 deep at character 65 *" },
            { "lists nested 17 deep", Build(1, "{'descr': " + new string('[', 16) + new string(']', 16) + "}", F4(1)), "*containers nest more than 16 deep at character 25 *" },
            { "header length beyond the cap", [.. valid[..6], 2, 0, .. new byte[] { 0, 0, 0x20, 0 }, .. new byte[(2 << 20) + 1]],
                "the header is 2097152 bytes long; a float array's header is a few hundred bytes at most (limit 1048576)." },
        };
    }

    [Theory]
    [MemberData(nameof(Broken))]
    public void EveryBrokenRuleIsNamed(string why, byte[] file, string message)
    {
        FluentActions.Invoking(() => Npy.Read<float>(new MemoryStream(file)))
            .Should().Throw<InvalidDataException>(why).WithMessage(message);
    }

    [Fact]
    public void AFileErrorStartsWithThePath()
    {
        string path = Path.Combine(_directory, "x.npy");
        File.WriteAllBytes(path, Build(1, Header("<i4", false, "(1,)"), [1, 0, 0, 0]));

        FluentActions.Invoking(() => Npy.Read<double>(path))
            .Should().Throw<InvalidDataException>().WithMessage($"{path}: unsupported dtype '<i4'*");
    }

    [Fact]
    public void WritingToAPathReplacesTheFile()
    {
        string path = Path.Combine(_directory, "y.npy");
        File.WriteAllBytes(path, new byte[1000]);

        Npy.Write(path, Tensor.Create([1.0, 2.0], [2]));

        Npy.Read<double>(path).Values.ToDoubles().Should().Equal(1, 2);
        new FileInfo(path).Length.Should().Be(128 + 16);
    }

    [Fact]
    public void OnlyFloatAndDoubleAreWritten()
    {
        FluentActions.Invoking(() => Npy.Write(new MemoryStream(), Tensor.Create([Half.One], [1])))
            .Should().Throw<NotSupportedException>();
    }
}
