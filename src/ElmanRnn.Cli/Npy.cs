using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Numerics.Tensors;
using System.Text;
using ElmanRnn.Serialization;

namespace ElmanRnn.Cli;

/// <summary>
/// Reads and writes NumPy's .npy format (numpy/lib/format.py): the magic <c>\x93NUMPY</c>, a major and minor version
/// byte, the header length (2 bytes little-endian in version 1.0, 4 bytes in 2.0 and 3.0), the header — a Python dict
/// literal <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (2, 3), }</c> padded with spaces and ended by a
/// newline, latin-1 text (UTF-8 in 3.0) — and then the raw elements.
/// </summary>
/// <remarks>
/// Only what an RNN reads or writes is accepted: little-endian float32 or float64 arrays of rank ≥ 1, in C or Fortran
/// order (Fortran-ordered data is returned row-major). Everything else — another dtype or byte order, a structured
/// dtype, a 0-d array, a header that is not exactly the three keys, data shorter or longer than the shape says — is
/// refused with <see cref="InvalidDataException"/> naming the rule. Writing produces version 1.0 with the header
/// laid out byte for byte as <c>np.save</c> lays it out.
/// </remarks>
internal static class Npy
{
    private const int PreambleLength = 10;  // magic (6), version (2), version 1.0's header length (2)
    private const int Alignment = 64;       // np.save pads the preamble + header to a multiple of this

    // The header is a three-key dict; a bigger one is damage, and the cap keeps a forged length from allocating.
    private const int MaxHeaderLength = 1 << 20;

    // np.save leaves room for the first dimension (last, if Fortran-ordered) to grow to this many digits, so that
    // the header can be rewritten in place; copying it makes the output byte-identical to np.save's.
    private const int GrowthAxisMaxDigits = 21;

    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads the .npy file at <paramref name="path"/>, converting its elements to <typeparamref name="T"/>.</summary>
    /// <exception cref="InvalidDataException">The file breaks a rule of the format or of this reader; the message starts with the path.</exception>
    public static NpyArray<T> Read<T>(string path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var file = File.OpenRead(path);
        try
        {
            return Read<T>(SeekableStream.Of(file, "the file"));
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Reads an .npy file from a seekable <paramref name="stream"/> positioned at its first byte, to its end.</summary>
    /// <exception cref="InvalidDataException">The bytes break a rule of the format or of this reader.</exception>
    public static NpyArray<T> Read<T>(Stream stream) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!stream.CanSeek)
            throw new ArgumentException("The stream must be seekable, so that its length can be checked before allocating.", nameof(stream));

        // Version 1.0 keeps the header length in 2 bytes, 2.0 and 3.0 in 4: the preamble is 10 or 12 bytes long.
        Span<byte> preamble = stackalloc byte[PreambleLength + 2];
        int got = stream.ReadAtLeast(preamble[..PreambleLength], PreambleLength, throwOnEndOfStream: false);
        if (!preamble[..Math.Min(got, Magic.Length)].SequenceEqual(Magic[..Math.Min(got, Magic.Length)]))
            throw new InvalidDataException("not an .npy file: it does not start with the magic string \\x93NUMPY.");
        if (got < PreambleLength)
            throw new InvalidDataException($"truncated: the file ends after {got} bytes, inside the {PreambleLength}-byte preamble.");

        byte major = preamble[6], minor = preamble[7];
        if (major is < 1 or > 3 || minor != 0)
            throw new InvalidDataException($"unsupported .npy format version {major}.{minor}; this reader supports 1.0, 2.0 and 3.0.");
        if (major > 1 && stream.ReadAtLeast(preamble[PreambleLength..], 2, throwOnEndOfStream: false) < 2)
            throw new InvalidDataException($"truncated: the file ends inside the 4-byte header length of a version {major}.0 file.");
        long headerLength = major == 1
            ? BinaryPrimitives.ReadUInt16LittleEndian(preamble[8..])
            : BinaryPrimitives.ReadUInt32LittleEndian(preamble[8..]);
        long remaining = stream.Length - stream.Position;
        if (headerLength > remaining)
            throw new InvalidDataException($"truncated: the header is {headerLength} bytes long but only {remaining} bytes follow the preamble.");
        if (headerLength > MaxHeaderLength)
            throw new InvalidDataException($"the header is {headerLength} bytes long; a float array's header is a few hundred bytes at most (limit {MaxHeaderLength}).");

        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        // format.py: "the header is encoded in latin1" for 1.0 and 2.0, UTF-8 for 3.0.
        string headerText = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);
        Header header = ParseHeader(headerText);

        long count = ElementCount(header.Shape);
        int size = header.DType == DType.Float32 ? sizeof(float) : sizeof(double);
        long expected = count * size;
        remaining = stream.Length - stream.Position;
        if (remaining < expected)
            throw new InvalidDataException(
                $"truncated: shape {ShapeText(header.Shape)} of {Descr(header.DType)} needs {expected} bytes of data, but the file has {remaining}.");
        if (remaining > expected)
            throw new InvalidDataException(
                $"{remaining - expected} bytes follow the data that shape {ShapeText(header.Shape)} of {Descr(header.DType)} describes ({expected} bytes); " +
                "the header and the data disagree.");

        var values = new T[count];
        ReadElements(stream, header.DType, values);
        nint[] lengths = Array.ConvertAll(header.Shape, d => (nint)d);
        if (!header.FortranOrder || count == 0)
            return new NpyArray<T>(Tensor.Create(values, lengths), header.DType);

        // Fortran order is column-major: the first index varies fastest. The file is walked in that order while
        // the row-major destination follows along. (A strided Tensor.Create view would do the same, but it refuses
        // the Fortran strides of shapes with a size-1 dimension such as (3, 1), which NumPy writes.)
        var rowStrides = new nint[lengths.Length];
        nint stride = 1;
        for (int axis = lengths.Length - 1; axis >= 0; axis--)
        {
            rowStrides[axis] = stride;
            stride *= lengths[axis];
        }
        var rowMajor = new T[count];
        var index = new nint[lengths.Length];
        nint destination = 0;
        foreach (T value in values)
        {
            rowMajor[destination] = value;
            // Odometer step: advance the first axis and carry into later ones.
            for (int axis = 0; axis < lengths.Length; axis++)
            {
                destination += rowStrides[axis];
                if (++index[axis] < lengths[axis])
                    break;
                destination -= rowStrides[axis] * lengths[axis];
                index[axis] = 0;
            }
        }
        return new NpyArray<T>(Tensor.Create(rowMajor, lengths), header.DType);
    }

    /// <summary>
    /// Writes <paramref name="values"/> to a new .npy file at <paramref name="path"/> (replacing any file there) as
    /// version 1.0, C order, <c>'&lt;f4'</c> when <typeparamref name="T"/> is float and <c>'&lt;f8'</c> when it is double.
    /// </summary>
    public static void Write<T>(string path, Tensor<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var stream = File.Create(path);
        Write(stream, values);
    }

    /// <summary>Writes <paramref name="values"/> as an .npy file (version 1.0, C order) to <paramref name="stream"/>.</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    public static void Write<T>(Stream stream, Tensor<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        DType dtype = typeof(T) == typeof(float) ? DType.Float32
            : typeof(T) == typeof(double) ? DType.Float64
            : throw new NotSupportedException($"Only float and double arrays can be written, not {typeof(T).Name}.");
        long[] shape = Array.ConvertAll(values.Lengths.ToArray(), d => (long)d);

        // np.save: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", room for the first dimension to
        // grow, then spaces and a newline up to a multiple of 64 bytes counted from the start of the file.
        var header = new StringBuilder($"{{'descr': '{Descr(dtype)}', 'fortran_order': False, 'shape': {ShapeText(shape)}, }}");
        header.Append(' ', GrowthAxisMaxDigits - shape[0].ToString(CultureInfo.InvariantCulture).Length);
        int unpadded = PreambleLength + header.Length + 1;
        header.Append(' ', Alignment - unpadded % Alignment).Append('\n');  // 1 to 64 spaces, never 0, as np.save does
        if (header.Length > ushort.MaxValue)
            throw new NotSupportedException($"A rank-{shape.Length} header does not fit .npy version 1.0.");

        Span<byte> preamble = stackalloc byte[PreambleLength];
        Magic.CopyTo(preamble);
        preamble[6] = 1;
        preamble[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(preamble[8..], (ushort)header.Length);
        stream.Write(preamble);
        stream.Write(Encoding.Latin1.GetBytes(header.ToString()));

        var flat = new T[values.FlattenedLength];
        values.FlattenTo(flat);
        WriteElements(stream, dtype, flat);
    }

    private sealed record Header(DType DType, bool FortranOrder, long[] Shape);

    private static Header ParseHeader(string text)
    {
        if (PythonLiteral.Parse(text) is not Dictionary<string, object> dict)
            throw new InvalidDataException($"the header is not a Python dict literal: {Quote(text)}.");
        string[] keys = [.. dict.Keys.Order(StringComparer.Ordinal)];
        if (!keys.SequenceEqual(["descr", "fortran_order", "shape"]))
            throw new InvalidDataException(
                $"the header must have exactly the keys 'descr', 'fortran_order' and 'shape', but has {string.Join(", ", keys.Select(k => $"'{k}'"))}.");

        DType dtype = dict["descr"] switch
        {
            "<f4" => DType.Float32,
            "<f8" => DType.Float64,
            string other => throw new InvalidDataException(
                $"unsupported dtype '{other}': only little-endian float32 ('<f4') and float64 ('<f8') are supported; " +
                "convert with x.astype('<f4') or x.astype('<f8')."),
            _ => throw new InvalidDataException(
                "unsupported dtype: the header describes a structured dtype; only little-endian float32 ('<f4') and float64 ('<f8') are supported."),
        };
        if (dict["fortran_order"] is not bool fortranOrder)
            throw new InvalidDataException("the header's 'fortran_order' is not True or False.");
        if (dict["shape"] is not PythonLiteral.Tuple { Items: var items } || items.Any(d => d is not long))
            throw new InvalidDataException("the header's 'shape' is not a tuple of integers.");
        long[] shape = items.Cast<long>().ToArray();
        if (shape.Length == 0)
            throw new InvalidDataException("the array is 0-d (shape ()); an RNN's arrays have at least one dimension — reshape to (1,).");
        if (shape.Any(d => d < 0))
            throw new InvalidDataException($"the header's shape {ShapeText(shape)} has a negative dimension.");
        return new Header(dtype, fortranOrder, shape);
    }

    private static long ElementCount(long[] shape)
    {
        long count = 1;
        foreach (long d in shape)
        {
            // Any zero makes the array empty however large the other dimensions are.
            if (d == 0)
                return 0;
            if (count > Array.MaxLength / d)
                throw new InvalidDataException($"shape {ShapeText(shape)} has more elements than one array can hold ({Array.MaxLength}).");
            count *= d;
        }
        return count;
    }

    private static void ReadElements<T>(Stream stream, DType dtype, T[] values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int size = dtype == DType.Float32 ? sizeof(float) : sizeof(double);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int perChunk = buffer.Length / size;
            for (int start = 0; start < values.Length; start += perChunk)
            {
                int n = Math.Min(perChunk, values.Length - start);
                Span<byte> bytes = buffer.AsSpan(0, n * size);
                stream.ReadExactly(bytes);
                for (int i = 0; i < n; i++)
                    values[start + i] = dtype == DType.Float32
                        ? T.CreateTruncating(BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * size)..]))
                        : T.CreateTruncating(BinaryPrimitives.ReadDoubleLittleEndian(bytes[(i * size)..]));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void WriteElements<T>(Stream stream, DType dtype, T[] values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int size = dtype == DType.Float32 ? sizeof(float) : sizeof(double);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int perChunk = buffer.Length / size;
            for (int start = 0; start < values.Length; start += perChunk)
            {
                int n = Math.Min(perChunk, values.Length - start);
                Span<byte> bytes = buffer.AsSpan(0, n * size);
                for (int i = 0; i < n; i++)
                {
                    if (dtype == DType.Float32)
                        BinaryPrimitives.WriteSingleLittleEndian(bytes[(i * size)..], float.CreateTruncating(values[start + i]));
                    else
                        BinaryPrimitives.WriteDoubleLittleEndian(bytes[(i * size)..], double.CreateTruncating(values[start + i]));
                }
                stream.Write(bytes);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string Descr(DType dtype) => dtype == DType.Float32 ? "<f4" : "<f8";

    /// <summary>A shape as Python prints a tuple: <c>(2, 3)</c>, <c>(3,)</c>, <c>()</c>.</summary>
    internal static string ShapeText(ReadOnlySpan<long> shape) => shape.Length == 1
        ? $"({shape[0]},)"
        : "(" + string.Join(", ", shape.ToArray()) + ")";

    private static string Quote(string text) => text.Length <= 120 ? $"\"{text.TrimEnd()}\"" : $"\"{text[..120]}…\"";

    /// <summary>
    /// The part of Python's literal syntax that np.save's headers use: dicts, tuples, lists, strings without
    /// escapes, integers (with the 'L' suffix Python 2 wrote), True and False. Nothing is evaluated.
    /// </summary>
    private sealed class PythonLiteral
    {
        public sealed record Tuple(IReadOnlyList<object> Items);

        // np.save's header nests two deep (the dict and its shape tuple). Each level is a recursive call, so a
        // header of nothing but brackets would otherwise overflow the stack, which no catch can handle.
        private const int MaxDepth = 16;

        private readonly string _text;
        private int _position;
        private int _depth;

        private PythonLiteral(string text) => _text = text;

        public static object Parse(string text)
        {
            var parser = new PythonLiteral(text);
            object value = parser.Value();
            parser.SkipWhitespace();
            if (parser._position != text.Length)
                throw parser.Error("unexpected text after the dict");
            return value;
        }

        private object Value()
        {
            SkipWhitespace();
            if (_position == _text.Length)
                throw Error("the header ends where a value should start");
            char c = _text[_position];
            switch (c)
            {
                case '{':
                    var dict = new Dictionary<string, object>(StringComparer.Ordinal);
                    Sequence('{', '}', () =>
                    {
                        if (_text[_position] is not ('\'' or '"'))
                            throw Error("a dict key must be a string");
                        string key = String();
                        SkipWhitespace();
                        Expect(':');
                        if (!dict.TryAdd(key, Value()))
                            throw Error($"the key '{key}' appears twice");
                    });
                    return dict;
                case '(':
                    // As in Python, "(3)" is the integer 3 and only "(3,)" a 1-tuple.
                    var tuple = new List<object>();
                    bool comma = Sequence('(', ')', () => tuple.Add(Value()));
                    return tuple.Count == 1 && !comma ? tuple[0] : new Tuple(tuple);
                case '[':
                    var list = new List<object>();
                    Sequence('[', ']', () => list.Add(Value()));
                    return list;
                case '\'' or '"':
                    return String();
                case '-' or (>= '0' and <= '9'):
                    return Integer();
                default:
                    if (TryKeyword("True"))
                        return true;
                    if (TryKeyword("False"))
                        return false;
                    throw Error($"unexpected '{c}'");
            }
        }

        // open item ("," item)* ","? close: Python's dict, tuple and list displays, with the trailing comma np.save
        // writes. Each item starts at a non-blank character. Returns whether any comma was read.
        private bool Sequence(char open, char close, Action item)
        {
            if (++_depth > MaxDepth)
                throw Error($"containers nest more than {MaxDepth} deep");
            Expect(open);
            bool comma = false;
            while (true)
            {
                SkipWhitespace();
                if (_position == _text.Length)
                    throw Error($"the header ends before '{close}'");
                if (_text[_position] == close)
                    break;
                item();
                SkipWhitespace();
                if (_position == _text.Length || _text[_position] != ',')
                    break;
                _position++;
                comma = true;
            }
            Expect(close);
            _depth--;
            return comma;
        }

        private string String()
        {
            char quote = _text[_position++];
            int start = _position;
            int end = _text.IndexOf(quote, start);
            if (end < 0)
                throw Error("a string is not closed");
            if (_text.AsSpan(start, end - start).Contains('\\'))
                throw Error("escape sequences in strings are not supported");
            _position = end + 1;
            return _text[start..end];
        }

        private long Integer()
        {
            int start = _position;
            if (_text[_position] == '-')
                _position++;
            while (_position < _text.Length && char.IsAsciiDigit(_text[_position]))
                _position++;
            if (!long.TryParse(_text.AsSpan(start, _position - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
                throw Error($"'{_text[start.._position]}' is not an integer that fits 64 bits");
            if (_position < _text.Length && _text[_position] == 'L')
                _position++;
            return value;
        }

        private bool TryKeyword(string keyword)
        {
            if (string.CompareOrdinal(_text, _position, keyword, 0, keyword.Length) != 0)
                return false;
            int end = _position + keyword.Length;
            if (end < _text.Length && (char.IsAsciiLetterOrDigit(_text[end]) || _text[end] == '_'))
                return false;
            _position = end;
            return true;
        }

        private void Expect(char c)
        {
            if (_position == _text.Length || _text[_position] != c)
                throw Error($"expected '{c}'");
            _position++;
        }

        private void SkipWhitespace()
        {
            while (_position < _text.Length && _text[_position] is ' ' or '\t' or '\n' or '\r')
                _position++;
        }

        private InvalidDataException Error(string what) =>
            new($"the header is not a Python dict literal of the form np.save writes: {what} at character {_position} of {Quote(_text)}.");
    }
}
