using BenchmarkDotNet.Attributes;
using ElmanRnn.Benchmarks.Cases;
using ElmanRnn.Benchmarks.Contenders;

namespace ElmanRnn.Benchmarks.Suites;

/// <summary>
/// Shared setup of the suites. BenchmarkDotNet runs every (method, case, threads) in its own process, built from a
/// generated project with its own output folder, so each setup first makes that folder's copy of TorchSharp's native
/// shim loadable (<see cref="ContenderSet.Create"/> does), then builds all contenders of the case, checks that they
/// agree, and keeps the one to be timed; a contender that was refused fails its benchmark with the reason.
/// </summary>
public abstract class RnnSuite
{
    private ContenderSet? _set;
    private IContender? _contender;

    /// <summary>Case id; see <see cref="BenchCase.All"/>.</summary>
    public abstract string Case { get; set; }

    /// <summary>Threads for every contender: <c>MaxDegreeOfParallelism</c>, <c>torch.set_num_threads</c>,
    /// <c>IntraOpNumThreads</c>.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalCleanup]
    public void Cleanup() => _set?.Dispose();

    private protected void Prepare(string contender)
    {
        _set = ContenderSet.Create(BenchCase.Get(Case), Threads);
        _contender = _set.Get(contender);
        Console.WriteLine($"// agreement check ({ContenderSet.Tolerance:0e+00}): {string.Join(", ", _set.Agreement)}");
    }

    private protected void RunContender() => _contender!.Run();
}

/// <summary>fp32 cases (a)–(e) and the packed variant of (c): ElmanRnn, libtorch (baseline) and ONNX Runtime.</summary>
public class Float32Rnn : RnnSuite
{
    public static IEnumerable<string> Cases => ["a", "b", "c", "d", "e", "c-packed"];

    [ParamsSource(nameof(Cases))]
    public override string Case { get; set; } = "a";

    [GlobalSetup(Target = nameof(ElmanRnn))]
    public void SetupOurs() => Prepare(Names.Ours);

    [GlobalSetup(Target = nameof(LibTorch))]
    public void SetupLibTorch() => Prepare(Names.LibTorch);

    [GlobalSetup(Target = nameof(OnnxRuntime))]
    public void SetupOnnxRuntime() => Prepare(Names.OnnxRuntime);

    [Benchmark(Description = Names.Ours)]
    public void ElmanRnn() => RunContender();

    [Benchmark(Baseline = true, Description = Names.LibTorch)]
    public void LibTorch() => RunContender();

    [Benchmark(Description = Names.OnnxRuntime)]
    public void OnnxRuntime() => RunContender();
}

/// <summary>The float64 variant of (c): ElmanRnn and libtorch (baseline); ONNX Runtime has no float64 RNN kernel.</summary>
public class Float64Rnn : RnnSuite
{
    public static IEnumerable<string> Cases => ["c-f64"];

    [ParamsSource(nameof(Cases))]
    public override string Case { get; set; } = "c-f64";

    [GlobalSetup(Target = nameof(ElmanRnn))]
    public void SetupOurs() => Prepare(Names.Ours);

    [GlobalSetup(Target = nameof(LibTorch))]
    public void SetupLibTorch() => Prepare(Names.LibTorch);

    [Benchmark(Description = Names.Ours)]
    public void ElmanRnn() => RunContender();

    [Benchmark(Baseline = true, Description = Names.LibTorch)]
    public void LibTorch() => RunContender();
}
