using System.Diagnostics;

namespace ElmanRnn.Tests;

/// <summary>
/// A named pipe (mkfifo) that a background writer fills once a reader opens it, as the shell's
/// <c>&lt;(cat model.pt)</c> does: the reader gets a file that cannot seek and can be read only once. Linux only.
/// </summary>
internal sealed class NamedPipe : IDisposable
{
    private readonly Task _writer;

    public NamedPipe(string path, byte[] bytes)
    {
        Path = path;
        using (Process mkfifo = Process.Start("mkfifo", [path]))
        {
            mkfifo.WaitForExit();
            if (mkfifo.ExitCode != 0)
                throw new InvalidOperationException($"mkfifo {path} exited with {mkfifo.ExitCode}.");
        }
        // Opening a FIFO for writing blocks until a reader opens it.
        _writer = Task.Run(() =>
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
            stream.Write(bytes);
        });
    }

    public string Path { get; }

    /// <summary>Waits for the writer; when no reader came (a failed test), reads the pipe here so the writer is released.</summary>
    public void Dispose()
    {
        if (!_writer.Wait(TimeSpan.FromMilliseconds(200)))
        {
            using var reader = File.OpenRead(Path);
            reader.CopyTo(Stream.Null);
        }
        try
        {
            _writer.Wait();
        }
        catch (AggregateException e) when (e.InnerException is IOException)
        {
            // A reader that stopped early broke the pipe; the test that used it reports its own failure.
        }
    }
}
