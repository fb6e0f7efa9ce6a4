using System.Buffers.Binary;
using System.Runtime.Versioning;
using System.Text;

namespace ElmanRnn.TorchOracle.Native;

/// <summary>
/// Makes TorchSharp 0.107.0's native shim <c>libLibTorchSharp.so</c> loadable on Linux distributions whose libstdc++
/// predates GCC 13 (Debian 12 stops at <c>GLIBCXX_3.4.30</c>). Call <see cref="EnsureTorchSharpLoadable"/> before the
/// first use of anything in TorchSharp.
/// </summary>
/// <remarks>
/// <para>
/// The shim was linked against GCC 13's libstdc++, so its version-needs table (<c>.gnu.version_r</c>) asks
/// libstdc++.so.6 for <c>GLIBCXX_3.4.32</c>. The only symbol bound to that version is
/// <c>std::ios_base_library_init()</c> (<c>_ZSt21ios_base_library_initv</c>), which GCC 13 references from every
/// translation unit that includes &lt;iostream&gt; just to pull the stream initialiser into the link; no relocation
/// uses it, so the loader never has to resolve it. The dynamic loader still rejects the whole library when a
/// version need is unmet, and TorchSharp turns that into a misleading TypeInitializationException ("doesn't contain
/// a reference to libtorch-cpu-linux-x64"). Setting <c>VER_FLG_WEAK</c> on that single <c>Elf64_Vernaux</c> entry
/// makes glibc treat the missing version as non-fatal; nothing else in the file changes. On systems whose libstdc++
/// does provide the version the flag is irrelevant, so the patch is applied unconditionally.
/// </para>
/// <para>
/// Why at run time rather than from an MSBuild target: the copy that gets loaded is the one in the running
/// application's own output folder, and that folder is not always ours. BenchmarkDotNet builds and runs a generated
/// project with its own output folder, into which the NuGet native assets are copied afresh; a target in this
/// project file would never see that copy, while a call at process start always patches the right one. The patched
/// bytes are written to a temporary file that then replaces the output copy, so the NuGet cache is never modified
/// (not even through a hard link), and a file that is already weak is left alone.
/// </para>
/// <para>This file is deliberately self-contained (no TorchSharp types) so other projects can link it.</para>
/// </remarks>
internal static class GlibcxxWeakener
{
    /// <summary>The TorchSharp native shim that carries the unmet version need.</summary>
    public const string TorchSharpNativeLibrary = "libLibTorchSharp.so";

    /// <summary>The libstdc++ symbol version that Debian 12 lacks.</summary>
    public const string UnmetVersion = "GLIBCXX_3.4.32";

    private const uint ShtGnuVerneed = 0x6ffffffe;  // SHT_GNU_verneed: the section type of .gnu.version_r
    private const ushort VerFlgWeak = 0x2;          // VER_FLG_WEAK in Elf64_Vernaux.vna_flags

    /// <summary>What <see cref="WeakenVersionNeed"/> did to a file.</summary>
    public enum Outcome
    {
        /// <summary>The version need was strong and has been marked weak.</summary>
        Patched,
        /// <summary>The version need was already weak; the file was not written.</summary>
        AlreadyWeak,
        /// <summary>The file does not need that version at all; it was not written.</summary>
        NotNeeded,
    }

    /// <summary>
    /// Marks the <see cref="UnmetVersion"/> need weak in every copy of <see cref="TorchSharpNativeLibrary"/> that
    /// the runtime may load from this application's folder. A no-op on other operating systems.
    /// </summary>
    /// <returns>Each copy found and what was done to it.</returns>
    /// <exception cref="FileNotFoundException">No copy exists inside the application folder.</exception>
    public static IReadOnlyList<(string Path, Outcome Outcome)> EnsureTorchSharpLoadable()
    {
        if (!OperatingSystem.IsLinux())
            return [];

        var appDirectory = Path.GetFullPath(AppContext.BaseDirectory);
        var results = new List<(string, Outcome)>();
        foreach (var directory in NativeSearchDirectories(appDirectory))
        {
            var candidate = Path.Combine(directory, TorchSharpNativeLibrary);
            // Only copies inside the application folder are ours to change; a probing path that points into the
            // NuGet cache (e.g. additionalProbingPaths) must stay pristine.
            if (File.Exists(candidate) && candidate.StartsWith(appDirectory, StringComparison.Ordinal))
                results.Add((candidate, WeakenVersionNeed(candidate, UnmetVersion)));
        }

        if (results.Count == 0)
        {
            throw new FileNotFoundException(
                $"{TorchSharpNativeLibrary} was not found in the application folder {appDirectory} or its native "
                + "search directories, so it cannot be prepared for this system's libstdc++. Is the TorchSharp "
                + "package referenced?", TorchSharpNativeLibrary);
        }

        return results;
    }

    /// <summary>Sets the weak flag on every need of <paramref name="versionName"/> in the ELF file at
    /// <paramref name="path"/>, replacing the file atomically if anything changed.</summary>
    [SupportedOSPlatform("linux")]
    public static Outcome WeakenVersionNeed(string path, string versionName)
    {
        var image = File.ReadAllBytes(path);
        var outcome = WeakenVersionNeed(image, versionName);
        if (outcome == Outcome.Patched)
        {
            // Write-then-rename: a concurrent process sees either the old or the new file, never half of one, and a
            // hard link into the NuGet cache is broken rather than written through.
            var temporary = $"{path}.{Environment.ProcessId}.weakening";
            File.WriteAllBytes(temporary, image);
            File.SetUnixFileMode(temporary, File.GetUnixFileMode(path));
            File.Move(temporary, path, overwrite: true);
        }

        return outcome;
    }

    /// <summary>Sets the weak flag on every need of <paramref name="versionName"/> in an in-memory ELF64
    /// little-endian image.</summary>
    /// <exception cref="InvalidDataException">The image is not a well-formed ELF64 LE file.</exception>
    public static Outcome WeakenVersionNeed(Span<byte> image, string versionName)
    {
        ReadOnlySpan<byte> magic = [0x7F, (byte)'E', (byte)'L', (byte)'F'];
        if (image.Length < 64 || !image[..4].SequenceEqual(magic))
            throw new InvalidDataException("Not an ELF file.");
        if (image[4] != 2 || image[5] != 1)
            throw new InvalidDataException("Only 64-bit little-endian ELF files are supported.");

        var sectionHeaderOffset = ReadU64(image, 0x28);
        var sectionHeaderSize = ReadU16(image, 0x3A);
        var sectionCount = ReadU16(image, 0x3C);
        if (sectionHeaderSize < 64)
            throw new InvalidDataException("Unexpected ELF section header size.");

        // Elf64_Shdr: sh_name u32, sh_type u32, sh_flags u64, sh_addr u64, sh_offset u64, sh_size u64, sh_link u32,
        // sh_info u32, ... The version-needs section is found by type (its name is .gnu.version_r) and its sh_link
        // names the string table (.dynstr) that holds the version names.
        Span<byte> wanted = Encoding.ASCII.GetBytes(versionName + "\0");
        var outcome = Outcome.NotNeeded;
        for (var section = 0; section < sectionCount; section++)
        {
            var header = Slice(image, sectionHeaderOffset + (ulong)(section * sectionHeaderSize), 64);
            if (ReadU32(header, 4) != ShtGnuVerneed)
                continue;

            var needOffset = ReadU64(header, 0x18);
            var needEnd = needOffset + ReadU64(header, 0x20);
            var entryCount = ReadU32(header, 0x2C);
            var linkedHeader = Slice(image, sectionHeaderOffset + ReadU32(header, 0x28) * sectionHeaderSize, 64);
            var stringTable = Slice(image, ReadU64(linkedHeader, 0x18), ReadU64(linkedHeader, 0x20));

            // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32 (16 bytes), followed
            // (at vn_aux) by vn_cnt Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32,
            // vna_next u32. Offsets are relative to the current entry.
            var need = needOffset;
            for (var entry = 0u; entry < entryCount; entry++)
            {
                var verneed = Slice(image, need, 16);
                var auxCount = ReadU16(verneed, 2);
                var aux = need + ReadU32(verneed, 8);
                for (var i = 0; i < auxCount; i++)
                {
                    var vernaux = Slice(image, aux, 16);
                    var nameOffset = ReadU32(vernaux, 8);
                    if (nameOffset + (ulong)wanted.Length <= (ulong)stringTable.Length
                        && stringTable.Slice((int)nameOffset, wanted.Length).SequenceEqual(wanted))
                    {
                        var flags = ReadU16(vernaux, 4);
                        if ((flags & VerFlgWeak) == 0)
                        {
                            BinaryPrimitives.WriteUInt16LittleEndian(vernaux[4..], (ushort)(flags | VerFlgWeak));
                            outcome = Outcome.Patched;
                        }
                        else if (outcome == Outcome.NotNeeded)
                        {
                            outcome = Outcome.AlreadyWeak;
                        }
                    }

                    aux += ReadU32(vernaux, 12);
                }

                need += ReadU32(verneed, 12);
                if (need >= needEnd)
                    break;
            }
        }

        return outcome;
    }

    /// <summary>The directories the runtime probes for native libraries (from the app's deps.json), then the
    /// application folder itself; duplicates removed.</summary>
    private static IEnumerable<string> NativeSearchDirectories(string appDirectory)
    {
        var probed = AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string ?? "";
        return probed.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append(appDirectory)
            .Select(Path.GetFullPath)
            .Distinct(StringComparer.Ordinal);
    }

    private static Span<byte> Slice(Span<byte> image, ulong offset, ulong length) =>
        offset <= (ulong)image.Length && length <= (ulong)image.Length - offset
            ? image.Slice((int)offset, (int)length)
            : throw new InvalidDataException($"ELF structure at offset {offset} (+{length}) lies outside the file.");

    private static ushort ReadU16(Span<byte> bytes, int offset) =>
        BinaryPrimitives.ReadUInt16LittleEndian(bytes[offset..]);

    private static uint ReadU32(Span<byte> bytes, int offset) =>
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[offset..]);

    private static ulong ReadU64(Span<byte> bytes, int offset) =>
        BinaryPrimitives.ReadUInt64LittleEndian(bytes[offset..]);
}
