using System.Buffers.Binary;
using System.Text;

namespace ElmanRnn.Tests.Cli;

/// <summary>Assembles .npy files byte by byte, so tests control every field, valid or not.</summary>
internal static class NpyFiles
{
    /// <summary>
    /// The magic, version <paramref name="major"/>.0, the header length (2 bytes for 1.0, 4 otherwise), the header
    /// exactly as given (no padding; latin-1, or UTF-8 for 3.0), then <paramref name="data"/>.
    /// </summary>
    public static byte[] Build(int major, string header, byte[] data)
    {
        byte[] text = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetBytes(header);
        var length = new byte[major == 1 ? 2 : 4];
        if (major == 1)
            BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)text.Length);
        else
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)text.Length);
        return [0x93, .. "NUMPY"u8, (byte)major, 0, .. length, .. text, .. data];
    }

    public static string Header(string descr, bool fortranOrder, string shape) =>
        $"{{'descr': '{descr}', 'fortran_order': {(fortranOrder ? "True" : "False")}, 'shape': {shape}, }}\n";

    /// <summary>A version 1.0 header as the NPY spec lays it out: the dict, then spaces and a newline up to a multiple of 64 bytes from the file's start.</summary>
    public static string PaddedHeader(string descr, bool fortranOrder, string shape)
    {
        string dict = $"{{'descr': '{descr}', 'fortran_order': {(fortranOrder ? "True" : "False")}, 'shape': {shape}, }}";
        int unpadded = 10 + dict.Length + 1;
        return dict + new string(' ', (64 - unpadded % 64) % 64) + "\n";
    }

    public static byte[] F4(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    public static byte[] F8(params double[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), values[i]);
        return bytes;
    }
}
