namespace ElmanRnn.Serialization;

/// <summary>
/// Makes any readable stream seekable for the readers, which check sizes against the file's length before
/// allocating and (for zip archives) read the end first. A pipe (<c>--weights &lt;(cat model.pt)</c>, a named FIFO)
/// or a network stream cannot seek, so it is read into memory first, up to a budget.
/// </summary>
internal static class SeekableStream
{
    /// <summary>The most a non-seekable stream is buffered: what one in-memory buffer (a byte array) can hold.</summary>
    public const long MaxBufferedBytes = 0x7FFFFFC7;   // Array.MaxLength, which is not a constant

    /// <summary>
    /// <paramref name="stream"/> itself when it can seek; otherwise a <see cref="MemoryStream"/> of the bytes left in
    /// it, read to its end. The caller disposes both.
    /// </summary>
    /// <param name="stream">A readable stream.</param>
    /// <param name="source">How messages name the stream, e.g. <c>'model.pt'</c>.</param>
    /// <param name="maxBytes">The budget for buffering; tests lower it.</param>
    /// <exception cref="InvalidDataException">The stream holds more than <paramref name="maxBytes"/> bytes.</exception>
    public static Stream Of(Stream stream, string source, long maxBytes = MaxBufferedBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.CanSeek)
            return stream;

        var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + read > maxBytes)
                throw new InvalidDataException(
                    $"{source} cannot seek (a pipe or a network stream), so it is read into memory first, and it holds more " +
                    $"than the {maxBytes} bytes that can be buffered; read it from a regular file instead.");
            buffer.Write(chunk, 0, read);
        }
        buffer.Position = 0;
        return buffer;
    }
}
