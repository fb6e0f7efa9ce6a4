// The kernels' correctness and determinism checks, as a console app for an ARM64 machine or qemu-aarch64 (see
// tests/arm64-check.sh): the same oracles and tolerances as tests/ElmanRnn.Tests (Kernels/GemmTests,
// Kernels/ActivationTests, Torch/LibtorchFixtureTests, Rnn/ThreadingTests), without xunit, so a self-contained
// linux-arm64 publish runs them under user-mode emulation. Prints "arm64-check: N passed, N failed"; exit 1 on a failure.
using System.Diagnostics;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using ElmanRnn;
using ElmanRnn.Kernels;
using ElmanRnn.Layout;
using ElmanRnn.Serialization;
using ElmanRnn.TestShared;

int passed = 0, failed = 0;
var clock = Stopwatch.StartNew();
bool quick = args.Contains("--quick");
// --generic: the generic Vector128 kernels throughout (GemmAdvSimd off), to tell a kernel's fault from the rest.
if (args.Contains("--generic"))
    GemmAdvSimd.Enabled = false;

Console.WriteLine($"arch={RuntimeInformation.ProcessArchitecture} os={RuntimeInformation.OSDescription} cores={Environment.ProcessorCount}");
Console.WriteLine($"AdvSimd={AdvSimd.IsSupported} AdvSimd.Arm64={AdvSimd.Arm64.IsSupported} Vector128.IsHardwareAccelerated={Vector128.IsHardwareAccelerated} " +
                  $"path={Simd.Path} fma={Simd.HasFma} tileRows={Gemm.TileRows} " +
                  $"kernels={(AdvSimd.Arm64.IsSupported && Simd.Path == SimdPath.Vector128 && GemmAdvSimd.Enabled ? "AdvSimd by element" : "generic")}");

void Check(string name, bool ok, string detail = "")
{
    if (ok) passed++;
    else
    {
        failed++;
        Console.WriteLine($"FAIL {name} {detail}");
    }
}

void Section(string name, Action body)
{
    var t = Stopwatch.StartNew();
    int f0 = failed, p0 = passed;
    try { body(); }
    catch (Exception e) { Check(name, false, e.ToString()); }
    Console.WriteLine($"== {name}: {passed - p0} passed, {failed - f0} failed ({t.Elapsed.TotalSeconds:F1} s)");
}

// (a) Gemm against the FMA-chain oracle, bit for bit, around every tile edge (GemmTests.Shapes), every init.
int[] rows = [0, 1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 25, 33, 64, 70];
int[] cols = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 70];
int[] ks = [1, 3, 16, 17, 70];
Section("gemm: FMA-chain oracle bit for bit (float lda=k+3 ldc=n+5, double packed)", () =>
{
    foreach (int m in rows)
        foreach (int n in cols)
        {
            int k = ks[(m + n) % ks.Length];
            foreach (GemmInit init in Enum.GetValues<GemmInit>())
            {
                GemmExact<float>(m, n, k, init, k + 3, n + 5);
                GemmExact<double>(m, n, k, init, k, n);
            }
        }
    // k beyond KcMax (two K blocks, C round-tripping through memory) and k not a multiple of 4.
    foreach (int k in new[] { 513, 1030, 4 * 129 + 3 })
    {
        GemmExact<float>(19, 37, k, GemmInit.Bias, k + 1, 37);
        GemmExact<double>(10, 21, k, GemmInit.Accumulate, k, 23);
    }
});

// (a') The backward's operands packed by PackTransposed (X, H_prev): C = A·M against the FMA chain over Mᵀ written out,
// packed into storage left over from a larger matrix (GemmTests.TransposedPackingMatchesPackingTheTranspose).
Section("gemm: PackTransposed operand, FMA-chain oracle bit for bit", () =>
{
    foreach (var (rows, cols) in new[] { (3, 1), (5, 15), (7, 16), (20, 33), (70, 64) })
    {
        TransposedPacking<float>(rows, cols);
        TransposedPacking<double>(rows, cols);
    }
});

void TransposedPacking<T>(int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
{
    var random = new Random(rows * 100 + cols);
    int m = 7;
    T[] matrix = Values<T>(random, rows * cols), a = Values<T>(random, m * rows), c = new T[m * cols];
    T[] expected = TestOracles.TimesMatrix(a, m, matrix, rows, cols);
    var stale = PackedMatrix<T>.PackTransposed(Values<T>(random, (rows + 5) * (cols + 40)), rows + 5, cols + 40);
    Gemm.Run<T>(a, rows, m, PackedMatrix<T>.PackTransposed(matrix, rows, cols, stale), c, cols, GemmInit.Zero, default,
        Activation.Identity);
    int bad = Enumerable.Range(0, c.Length).Count(i => !SameBits<T>(c.AsSpan(i, 1), expected.AsSpan(i, 1)));
    Check($"pack transposed <{typeof(T).Name}> rows={rows} cols={cols}", bad == 0, $"{bad} elements differ");
}

void GemmExact<T>(int m, int n, int k, GemmInit init, int lda, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
{
    var random = new Random(m * 1000 + n * 10 + k);
    T[] a = Values<T>(random, Math.Max(0, (m - 1) * lda + k)), w = Values<T>(random, n * k), bias = Values<T>(random, n);
    T[] c = Values<T>(random, Math.Max(0, (m - 1) * ldc + n)), expected = TestOracles.Gemm(a, lda, m, w, n, k, c, ldc, init, bias);
    Gemm.Run<T>(a, lda, m, PackedMatrix<T>.Pack(w, n, k), c, ldc, init, bias, Activation.Identity);
    int bad = Enumerable.Range(0, c.Length).Count(i => !SameBits<T>(c.AsSpan(i, 1), expected.AsSpan(i, 1)));
    Check($"gemm<{typeof(T).Name}> m={m} n={n} k={k} init={init}", bad == 0, $"{bad} elements differ");
}

Section("gemm: activation applied to every element (Math.Tanh/Max oracle, 1e-15)", () =>
{
    foreach (var activation in new[] { Activation.Tanh, Activation.Relu })
    {
        var random = new Random(11);
        int m = 10, n = 37, k = 13;
        double[] a = Values<double>(random, m * k), w = Values<double>(random, n * k), bias = Values<double>(random, n);
        var packed = PackedMatrix<double>.Pack(w, n, k);
        double[] linear = new double[m * n], activated = new double[m * n];
        Gemm.Run<double>(a, k, m, packed, linear, n, GemmInit.Bias, bias, Activation.Identity);
        Gemm.Run<double>(a, k, m, packed, activated, n, GemmInit.Bias, bias, activation);
        double worst = 0;
        for (int i = 0; i < linear.Length; i++)
            worst = Math.Max(worst, Math.Abs(activated[i] - (activation == Activation.Tanh ? Math.Tanh(linear[i]) : Math.Max(0, linear[i]))));
        Check($"activation {activation}", worst <= 1e-15, $"worst {worst:E3}");
    }
});

Section("activations: tanh float ≤ 2e-7, double ≤ 1e-15 relative to Math.Tanh (random sample in [-10, 10])", () =>
{
    var random = new Random(5);
    int count = quick ? 1 << 14 : 1 << 18;
    double[] x = Values<double>(random, count).Select(v => 10 * v).ToArray();
    float[] yf = x.Select(v => (float)v).ToArray();
    double[] yd = (double[])x.Clone();
    Activations.Apply<float>(yf, Activation.Tanh);
    Activations.Apply<double>(yd, Activation.Tanh);
    double worstF = 0, worstD = 0;
    for (int i = 0; i < count; i++)
    {
        double ef = Math.Tanh((float)x[i]), ed = Math.Tanh(x[i]);
        worstF = Math.Max(worstF, ef == 0 ? Math.Abs(yf[i]) : Math.Abs(yf[i] - ef) / Math.Abs(ef));
        worstD = Math.Max(worstD, ed == 0 ? Math.Abs(yd[i]) : Math.Abs(yd[i] - ed) / Math.Abs(ed));
    }
    Check("tanh float", worstF <= 2e-7, $"worst {worstF:E3}");
    Check("tanh double", worstD <= 1e-15, $"worst {worstD:E3}");
});

Section("gemm: a row's result does not depend on how many rows share the call", () =>
{
    var random = new Random(7);
    int m = 21, n = 45, k = 37;
    float[] a = Values<float>(random, m * k), w = Values<float>(random, n * k), c0 = Values<float>(random, m * n);
    var packed = PackedMatrix<float>.Pack(w, n, k);
    float[] all = (float[])c0.Clone();
    Gemm.Run<float>(a, k, m, packed, all, n, GemmInit.Accumulate, default, Activation.Tanh);
    for (int i = 0; i < m; i++)
    {
        float[] one = c0.AsSpan(i * n, n).ToArray();
        Gemm.Run<float>(a.AsSpan(i * k, k), k, 1, packed, one, n, GemmInit.Accumulate, default, Activation.Tanh);
        Check($"row {i}", SameBits<float>(one, all.AsSpan(i * n, n)));
    }
});

Section("gemm: writes nothing outside its rows and columns", () =>
{
    var random = new Random(3);
    int m = 9, n = 17, k = 5, ldc = 40;
    float[] a = Values<float>(random, m * k), w = Values<float>(random, n * k);
    float[] c = Enumerable.Repeat(123f, m * ldc).ToArray();
    Gemm.Run<float>(a, k, m, PackedMatrix<float>.Pack(w, n, k), c, ldc, GemmInit.Zero, default, Activation.Identity);
    for (int i = 0; i < m; i++)
        Check($"row {i} tail", c.AsSpan(i * ldc + n, ldc - n).ToArray().All(v => v == 123f));
});

// (b) RnnLayer forward on libtorch's golden files, within LibtorchFixtureTests' tolerances.
string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "torch");
Section($"libtorch fixtures{(quick ? " (every 8th)" : "")}: relative error ≤ 1e-5 (float32), ≤ 1e-12 (float64)", () =>
{
    string[] files = Directory.EnumerateFiles(fixtures, "*.safetensors").Order().ToArray();
    Check("fixture count", files.Length == 384, $"{files.Length} files");
    foreach (string path in quick ? files.Where((_, i) => i % 8 == 0) : files)
    {
        if (SafeTensors.ReadMetadata(path)["dtype"] == "float64") Fixture<double>(path, 1e-12);
        else Fixture<float>(path, 1e-5);
    }
});

void Fixture<T>(string path, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
{
    string name = Path.GetFileName(path);
    var meta = SafeTensors.ReadMetadata(path);
    var tensors = SafeTensors.Read<T>(path);
    var layer = new RnnLayer<T>(TestOracles.FixtureOptions(meta)) { Training = false };
    string[] data = ["input", "lengths", "h0", "output", "h_n"];
    layer.LoadStateDict(tensors.Where(kv => !data.Contains(kv.Key)).ToDictionary());
    tensors.TryGetValue("h0", out Tensor<T>? h0);
    if (meta["input_kind"] == "packed")
    {
        int[] lengths = Doubles(tensors["lengths"]).Select(v => (int)v).ToArray();
        var (output, hn) = layer.Forward(PackedSequence.PackPadded(tensors["input"], lengths, enforceSorted: false), h0);
        var (padded, _) = PackedSequence.PadPacked(output, totalLength: (int)tensors["input"].Lengths[0]);
        Compare(name + " packed", padded, hn);
        var direct = layer.Forward(tensors["input"], lengths, h0);
        Compare(name + " lengths", direct.Output, direct.Hn);
    }
    else
    {
        var (output, hn) = layer.Forward(tensors["input"], h0);
        Compare(name, output, hn);
    }

    void Compare(string what, Tensor<T> output, Tensor<T> hn)
    {
        double eo = RelativeError(output, tensors["output"]), eh = RelativeError(hn, tensors["h_n"]);
        Check(what, eo <= tolerance && eh <= tolerance, $"output {eo:E3}, h_n {eh:E3} > {tolerance:E0}");
    }
}

// (c) Bitwise the same for MaxDegreeOfParallelism 1, 2, 3 (ThreadingTests' configurations).
Section("threads: MaxDegreeOfParallelism 1 / 2 / 3 give the same bits", () =>
{
    (int Directions, bool TwoLayers, bool Packed, int Batch, int Hidden)[] configurations =
        [(1, false, false, 32, 256), (2, false, false, 16, 200), (2, true, false, 24, 96), (1, false, true, 1, 512), (2, true, true, 9, 130)];
    foreach (var (directions, twoLayers, packed, batch, hidden) in configurations)
    {
        var (single, _) = ThreadRun(directions, twoLayers, packed, batch, hidden, 1);
        foreach (int threads in new[] { 2, 3 })
        {
            var (parallel, _) = ThreadRun(directions, twoLayers, packed, batch, hidden, threads);
            Check($"dirs={directions} twoLayers={twoLayers} packed={packed} batch={batch} hidden={hidden} threads={threads}",
                SameBits<float>(parallel, single));
        }
    }
});

static (float[] Bits, RnnLayer<float> Layer) ThreadRun(int directions, bool twoLayers, bool packed, int batch, int hidden, int threads)
{
    var random = new Random(hidden);
    var options = new RnnOptions { InputSize = 48, HiddenSize = hidden, NumLayers = twoLayers ? 2 : 1, Bidirectional = directions == 2, Dropout = twoLayers ? 0.3 : 0 };
    var layer = new RnnLayer<float>(options, random) { Training = false, MaxDegreeOfParallelism = threads };
    const int steps = 12;
    var x = Tensor.Create(Values<float>(random, steps * batch * 48), [steps, batch, 48]);
    int[] lengths = Enumerable.Range(0, batch).Select(i => 1 + (i * 7) % steps).ToArray();
    var (output, hn) = packed ? layer.Forward(x, lengths) : layer.Forward(x);
    return ([.. Flat(output), .. Flat(hn)], layer);
}

// (d) The ARM64 AdvSimd kernels (FMLA by element) against the generic Vector128 kernels on the same machine, bit for bit.
if (AdvSimd.Arm64.IsSupported && Simd.Path == SimdPath.Vector128 && GemmAdvSimd.Enabled)
    Section("AdvSimd by-element kernels vs generic Vector128 kernels: the same bits (gemm shapes, activations, layers)", () =>
    {
        foreach (int m in rows)
            foreach (int n in cols)
                foreach (int k in new[] { ks[(m + n) % ks.Length], 1 + 4 * ((m * 7 + n) % 40) + (m + n) % 4 })
                    foreach (GemmInit init in Enum.GetValues<GemmInit>())
                    {
                        Activation activation = (Activation)((m + n + (int)init) % 3);
                        GemmBothWays<float>(m, n, k, init, activation, k + 1, n + 3);
                        GemmBothWays<double>(m, n, k, init, activation, k, n);
                    }
        (int Directions, bool TwoLayers, bool Packed, int Batch, int Hidden)[] layers =
            [(1, false, false, 32, 256), (2, true, true, 9, 130), (1, false, true, 1, 512), (2, false, false, 17, 45)];
        foreach (var (directions, twoLayers, packed, batch, hidden) in layers)
            foreach (int threads in new[] { 1, 2 })
            {
                var (byElement, _) = ThreadRun(directions, twoLayers, packed, batch, hidden, threads);
                GemmAdvSimd.Enabled = false;
                try
                {
                    var (generic, _) = ThreadRun(directions, twoLayers, packed, batch, hidden, threads);
                    Check($"layer dirs={directions} twoLayers={twoLayers} packed={packed} batch={batch} hidden={hidden} threads={threads}",
                        SameBits<float>(byElement, generic));
                }
                finally { GemmAdvSimd.Enabled = true; }
            }
    });

void GemmBothWays<T>(int m, int n, int k, GemmInit init, Activation activation, int lda, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
{
    // Every operand sits between guard zones of a sentinel value, checked after each call: no kernel writes outside C.
    const int Guard = 64;
    var random = new Random(m * 7919 + n * 31 + k);
    T[] a = Guarded(Values<T>(random, Math.Max(0, (m - 1) * lda + k))), w = Values<T>(random, n * k);
    T[] bias = Guarded(Values<T>(random, n)), c0 = Values<T>(random, Math.Max(0, (m - 1) * ldc + n));
    T[] byElement = Guarded(c0), generic = Guarded(c0);
    T[] a0 = (T[])a.Clone(), bias0 = (T[])bias.Clone();
    var packed = PackedMatrix<T>.Pack(w, n, k);
    Gemm.Run<T>(Inner(a), lda, m, packed, Inner(byElement), ldc, init, Inner(bias), activation);
    GemmAdvSimd.Enabled = false;
    try { Gemm.Run<T>(Inner(a), lda, m, packed, Inner(generic), ldc, init, Inner(bias), activation); }
    finally { GemmAdvSimd.Enabled = true; }
    string what = $"<{typeof(T).Name}> m={m} n={n} k={k} init={init} {activation}";
    Check($"by element vs generic {what}", SameBits<T>(byElement, generic));
    Check($"operands and guard zones untouched {what}", SameBits<T>(a, a0) && SameBits<T>(bias, bias0)
        && Untouched(byElement) && Untouched(generic));
    if (!Untouched(byElement) || !Untouched(generic))
        Console.WriteLine($"  guard zones of C: by element {(Untouched(byElement) ? "intact" : "WRITTEN")}, generic {(Untouched(generic) ? "intact" : "WRITTEN")}");

    T Sentinel() => T.CreateChecked(-12345.678);
    T[] Guarded(T[] values)
    {
        var g = new T[values.Length + 2 * Guard];
        g.AsSpan().Fill(Sentinel());
        values.CopyTo(g, Guard);
        return g;
    }
    Span<T> Inner(T[] g) => g.AsSpan(Guard, g.Length - 2 * Guard);
    bool Untouched(T[] g) => g.AsSpan(0, Guard).ToArray().All(v => v == Sentinel()) && g.AsSpan(g.Length - Guard).ToArray().All(v => v == Sentinel());
}

Console.WriteLine($"total {clock.Elapsed.TotalSeconds:F1} s");
Console.WriteLine($"arm64-check: {passed} passed, {failed} failed");
return failed == 0 ? 0 : 1;

static T[] Values<T>(Random random, int count) where T : unmanaged, IFloatingPointIeee754<T> =>
    Enumerable.Range(0, count).Select(_ => T.CreateChecked(2 * random.NextDouble() - 1)).ToArray();

// Bit for bit: -0 differs from +0, and NaN payloads count.
static bool SameBits<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y) where T : unmanaged =>
    MemoryMarshal.AsBytes(x).SequenceEqual(MemoryMarshal.AsBytes(y));

static T[] Flat<T>(Tensor<T> tensor) where T : unmanaged, IFloatingPointIeee754<T>
{
    var flat = new T[tensor.FlattenedLength];
    tensor.FlattenTo(flat);
    return flat;
}

static double[] Doubles<T>(Tensor<T> tensor) where T : unmanaged, IFloatingPointIeee754<T> =>
    Flat(tensor).Select(double.CreateChecked).ToArray();

// max |actual - expected| / max(1, max |expected|), as TestTensors.RelativeError; a shape mismatch is infinite.
static double RelativeError<T>(Tensor<T> actual, Tensor<T> expected) where T : unmanaged, IFloatingPointIeee754<T>
{
    if (!actual.Lengths.SequenceEqual(expected.Lengths))
        return double.PositiveInfinity;
    double[] x = Doubles(actual), y = Doubles(expected);
    double scale = Math.Max(1.0, y.Length == 0 ? 0 : y.Max(Math.Abs)), worst = 0;
    for (int i = 0; i < x.Length; i++)
    {
        double e = Math.Abs(x[i] - y[i]);
        if (double.IsNaN(e)) return double.PositiveInfinity;
        worst = Math.Max(worst, e);
    }
    return worst / scale;
}
