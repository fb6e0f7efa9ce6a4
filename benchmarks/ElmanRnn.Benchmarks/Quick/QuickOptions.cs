using System.Globalization;
using ElmanRnn.Benchmarks.Cases;
using ElmanRnn.Benchmarks.Contenders;

namespace ElmanRnn.Benchmarks.Quick;

/// <summary>
/// <c>quick [--cases a,c,...] [--threads 1,2] [--seconds S] [--write-docs]</c>; <see cref="Usage"/> lists every option.
/// </summary>
/// <param name="Cases">Cases to run, in table order (default: all).</param>
/// <param name="Threads">Thread counts (default: 1 and 2).</param>
/// <param name="Contenders">Contenders to time (default: all; <c>ours</c>, <c>libtorch</c>, <c>onnx</c>). All are
/// still built and checked against each other.</param>
/// <param name="Seconds">Measuring time per case and thread count after warm-up (default 7): rounds continue until
/// it is spent, but never fewer than <see cref="QuickMode.MinRounds"/>.</param>
/// <param name="GapMilliseconds">Pause before each timed sample (default 3 ms), so that worker threads the previous
/// contender left spinning (OpenMP's, ONNX Runtime's, ours) have gone idle and do not steal the next one's core.</param>
/// <param name="WaitQuietMinutes">Before measuring, wait up to this long (default 0) for a 5-second window in which
/// other processes use less than 0.1 cores.</param>
/// <param name="WriteDocs">Write the table into this SIMD path's section of docs/performance.md and render the path's
/// chart (see <see cref="PerformanceDoc"/>).</param>
/// <param name="OursInto">Ours writes output and h_n into tensors made once (<c>Forward(input, h0, output, hn)</c>)
/// instead of returning new ones, which the GC may hand out as never-touched pages; not with
/// WriteDocs, whose tables compare the calls that return new tensors, as libtorch's and ONNX Runtime's do.</param>
internal sealed record QuickOptions(
    IReadOnlyList<BenchCase> Cases, IReadOnlyList<int> Threads, IReadOnlyList<string> Contenders, double Seconds,
    int GapMilliseconds, double WaitQuietMinutes, bool WriteDocs, bool OursInto)
{
    public const string Usage =
        "usage: quick [--cases a,b,c,d,e,c-f64,c-packed] [--threads 1,2] [--contenders ours,libtorch,onnx] [--seconds 7] [--gap-ms 3] [--wait-quiet MINUTES] [--write-docs] [--ours-into]\n" +
        "  inference forward of each case, ours vs libtorch (TorchSharp) vs ONNX Runtime, run round-robin; prints the\n" +
        "  medians, speed-ups, GFLOP/s against the measured FMA peak of the library's SIMD path, and the targets met.\n" +
        "  --cases        case ids, comma-separated (default: all)\n" +
        "  --threads      thread counts, comma-separated (default: 1,2)\n" +
        "  --contenders   which to time (default: all; all are still built and checked against each other)\n" +
        "  --seconds      measuring time per case and thread count after warm-up (default 7; at least 9 rounds)\n" +
        "  --gap-ms       pause before each timed sample (default 3), so the previous contender's threads go idle\n" +
        "  --wait-quiet   wait up to MINUTES for 5 s in which other processes use < 0.1 cores (default 0)\n" +
        "  --write-docs   replace this SIMD path's section of docs/performance.md (AVX-512, or AVX2 with\n" +
        "                 DOTNET_EnableAVX512=0, ...) and write its chart, docs/performance-<path>.png\n" +
        "  --ours-into    ours writes into output/h_n tensors made once, as a loop would; not with\n" +
        "                 --write-docs";

    /// <exception cref="ArgumentException">An unknown option or value.</exception>
    public static QuickOptions Parse(IReadOnlyList<string> args)
    {
        var cases = BenchCase.All;
        IReadOnlyList<int> threads = [1, 2];
        IReadOnlyList<string> contenders = [Names.Ours, Names.LibTorch, Names.OnnxRuntime];
        double seconds = 7;
        int gap = 3;
        double waitQuiet = 0;
        bool writeDocs = false, oursInto = false;
        for (int i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count
                ? args[++i]
                : throw new ArgumentException($"{args[i]} needs a value.");

            switch (args[i])
            {
                case "--cases":
                    cases = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(BenchCase.Get).ToList();
                    break;
                case "--threads":
                    threads = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(t => int.TryParse(t, CultureInfo.InvariantCulture, out int n) && n >= 1
                            ? n
                            : throw new ArgumentException($"--threads takes positive integers, got '{t}'."))
                        .ToList();
                    break;
                case "--contenders":
                    contenders = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(c => c.ToLowerInvariant() switch
                        {
                            "ours" or "elmanrnn" => Names.Ours,
                            "libtorch" or "torch" => Names.LibTorch,
                            "onnx" or "ort" or "onnxruntime" => Names.OnnxRuntime,
                            _ => throw new ArgumentException($"Unknown contender '{c}'."),
                        })
                        .ToList();
                    break;
                case "--seconds":
                    string text = Value();
                    seconds = double.TryParse(text, CultureInfo.InvariantCulture, out double s) && s > 0
                        ? s
                        : throw new ArgumentException($"--seconds takes a positive number, got '{text}'.");
                    break;
                case "--gap-ms":
                    string gapText = Value();
                    gap = int.TryParse(gapText, CultureInfo.InvariantCulture, out int g) && g >= 0
                        ? g
                        : throw new ArgumentException($"--gap-ms takes a whole number ≥ 0, got '{gapText}'.");
                    break;
                case "--wait-quiet":
                    string waitText = Value();
                    waitQuiet = double.TryParse(waitText, CultureInfo.InvariantCulture, out double w) && w >= 0
                        ? w
                        : throw new ArgumentException($"--wait-quiet takes minutes ≥ 0, got '{waitText}'.");
                    break;
                case "--write-docs":
                    writeDocs = true;
                    break;
                case "--ours-into":
                    oursInto = true;
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{args[i]}'.");
            }
        }

        if (writeDocs && oursInto)
            throw new ArgumentException("--ours-into cannot be combined with --write-docs: the docs' tables time the calls that return new tensors.");
        return new QuickOptions(cases, threads, contenders, seconds, gap, waitQuiet, writeDocs, oursInto);
    }
}
