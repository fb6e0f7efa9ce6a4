using ElmanRnn.Benchmarks.Cases;
using ElmanRnn.TorchOracle.Native;

namespace ElmanRnn.Benchmarks.Contenders;

/// <summary>
/// The contenders of one case at one thread count, loaded with identical weights and input, in round-robin order
/// (ours, libtorch, ONNX Runtime), after an agreement check: each runs once, outputs are compared pairwise as
/// max |a − b| / max(1, peak |a|, peak |b|), and a contender is kept only if it agrees within
/// <see cref="Tolerance"/> with at least one other. One that fails to build, or disagrees with everyone, is listed in
/// <see cref="Refused"/> with the reason and never timed.
/// </summary>
internal sealed class ContenderSet : IDisposable
{
    public const double Tolerance = 1e-4;

    private readonly List<IContender> _all;

    private ContenderSet(BenchCase benchCase, int threads, List<IContender> all, List<(string, string)> refused)
    {
        Case = benchCase;
        Threads = threads;
        _all = all;
        Refused = refused;
        Check();
    }

    public BenchCase Case { get; }

    public int Threads { get; }

    /// <summary>Contenders that passed the agreement check, in round-robin order.</summary>
    public IReadOnlyList<IContender> Valid => _all.Where(c => !Refused.Any(r => r.Name == c.Name)).ToList();

    /// <summary>Contenders not to be reported, with the reason.</summary>
    public List<(string Name, string Reason)> Refused { get; }

    /// <summary>The pairwise differences found by the check, e.g. <c>ElmanRnn~libtorch 3.1e-07</c>.</summary>
    public List<string> Agreement { get; } = [];

    /// <summary>Builds and checks every contender of a case; libtorch's is built last, because its thread count
    /// is process-wide. <paramref name="oursInto"/>: ours writes into tensors it made once (quick --ours-into).</summary>
    public static ContenderSet Create(BenchCase benchCase, int threads, bool oursInto = false)
    {
        GlibcxxWeakener.EnsureTorchSharpLoadable();
        var all = new List<IContender>();
        var refused = new List<(string, string)>();

        void Add(string name, Func<IContender> build)
        {
            try
            {
                all.Add(build());
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                refused.Add((name, $"failed to build: {e.GetType().Name}: {e.Message.Split('\n')[0]}"));
            }
        }

        if (benchCase.Double)
        {
            var data = CaseData<double>.Create(benchCase);
            Add(Names.Ours, () => new OursContender<double>(data, threads, oursInto));
            Add(Names.LibTorch, () => TorchContender.Create(data, threads));
            refused.Add((Names.OnnxRuntime, "ONNX Runtime's CPU provider has no float64 RNN kernel"));
        }
        else
        {
            var data = CaseData<float>.Create(benchCase);
            Add(Names.Ours, () => new OursContender<float>(data, threads, oursInto));
            Add(Names.OnnxRuntime, () => new OnnxContender(data, threads));
            Add(Names.LibTorch, () => TorchContender.Create(data, threads));
        }

        // Round-robin order: ours, libtorch, ONNX Runtime.
        all.Sort((x, y) => Order(x.Name).CompareTo(Order(y.Name)));
        return new ContenderSet(benchCase, threads, all, refused);
    }

    /// <summary>The named contender if it passed the check; otherwise throws with the reason.</summary>
    public IContender Get(string name) =>
        Valid.FirstOrDefault(c => c.Name == name)
        ?? throw new InvalidOperationException(
            $"{name} is not benchmarked on case {Case.Id}: "
            + (Refused.FirstOrDefault(r => r.Name == name).Reason ?? "not a contender"));

    public void Dispose()
    {
        foreach (var contender in _all)
            contender.Dispose();
    }

    private void Check()
    {
        var outputs = new Dictionary<string, double[]>();
        foreach (var contender in _all)
        {
            try
            {
                outputs[contender.Name] = contender.Output();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Refused.Add((contender.Name, $"failed to run: {e.GetType().Name}: {e.Message.Split('\n')[0]}"));
            }
        }

        var agreesWithSomeone = new HashSet<string>();
        var worst = new Dictionary<string, double>();
        var names = outputs.Keys.ToList();
        for (int i = 0; i < names.Count; i++)
        {
            for (int j = i + 1; j < names.Count; j++)
            {
                double difference = Difference(outputs[names[i]], outputs[names[j]]);
                Agreement.Add($"{names[i]}~{names[j]} {difference:0.0e+00}");
                foreach (var name in new[] { names[i], names[j] })
                    worst[name] = Math.Max(worst.GetValueOrDefault(name), difference);
                if (difference <= Tolerance)
                {
                    agreesWithSomeone.Add(names[i]);
                    agreesWithSomeone.Add(names[j]);
                }
            }
        }

        foreach (var name in names.Where(n => !agreesWithSomeone.Contains(n)))
            Refused.Add((name, names.Count == 1
                ? "nothing to check its output against"
                : $"output disagrees with every other contender (max difference {worst[name]:0.0e+00} > {Tolerance:0e+00})"));
    }

    private static double Difference(double[] a, double[] b)
    {
        if (a.Length != b.Length)
            return double.PositiveInfinity;
        double peak = 1, worst = 0;
        for (int i = 0; i < a.Length; i++)
        {
            peak = Math.Max(peak, Math.Max(Math.Abs(a[i]), Math.Abs(b[i])));
            double difference = Math.Abs(a[i] - b[i]);
            worst = double.IsNaN(difference) ? double.PositiveInfinity : Math.Max(worst, difference);
        }
        return worst / peak;
    }

    private static int Order(string name) => name switch
    {
        Names.Ours => 0,
        Names.LibTorch => 1,
        _ => 2,
    };
}
