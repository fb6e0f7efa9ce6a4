// How much of Forward's first call (case a: RNN(64, 64), L = 1, N = 1, eval mode, 1 thread) is the JIT compiling the
// kernels marked AggressiveOptimization. In a fresh process:
//   (no argument)  the first call alone: its time and the methods the JIT compiled during it;
//   prepare        first compiles, one by one with RuntimeHelpers.PrepareMethod, the five such methods case a's first
//                  call compiles on the AVX2 path (Vector256), printing each one's JIT time (System.Runtime.JitInfo),
//                  then makes the first call: what is left is the rest of the path, compiled at tier 0.
// Usage: dotnet run -c Release --project benchmarks/ElmanRnn.JitSplit [-- prepare]
using System.Diagnostics;
using System.Numerics.Tensors;
using System.Reflection;
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ElmanRnn;

bool prepare = args.Length > 0 && args[0] == "prepare";
if (!Vector256.IsHardwareAccelerated || Vector512.IsHardwareAccelerated)
{
    Console.Error.WriteLine("This split names the Vector256 kernels: it needs a CPU whose widest vectors are 256 bits.");
    return 2;
}
var layer = new RnnLayer<float>(new RnnOptions { InputSize = 64, HiddenSize = 64 }, new Random(1))
{
    Training = false,
    MaxDegreeOfParallelism = 1,
};
var input = Tensor.Create(new float[64], [1, 1, 64]);

const BindingFlags Any = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;
Assembly library = typeof(RnnLayer<float>).Assembly;
Type scan = library.GetType("ElmanRnn.Recurrence.LayerScan`1", throwOnError: true)!.MakeGenericType(typeof(float));
Type gemm = library.GetType("ElmanRnn.Kernels.Gemm", throwOnError: true)!;
Type[] path = [typeof(float), typeof(Vector256<float>),
               library.GetType("ElmanRnn.Kernels.Vector256Ops`1", throwOnError: true)!.MakeGenericType(typeof(float))];
(string Name, MethodInfo Method)[] kernels =
[
    ("LayerScan<float>.Execute", scan.GetMethod("Execute", Any)!),
    ("LayerScan<float>.Scan", scan.GetMethod("Scan", Any)!),
    ("Gemm.RunCore", gemm.GetMethod("RunCore", Any)!.MakeGenericMethod(path)),
    ("Gemm.Tile1x8", gemm.GetMethod("Tile1x8", Any)!.MakeGenericMethod(path)),
    ("Gemm.Activate", gemm.GetMethod("Activate", Any)!.MakeGenericMethod(path)),
];

double kernelsMs = 0;
if (prepare)
{
    foreach (var (name, method) in kernels)
    {
        Type[] instantiation = [.. method.DeclaringType!.GetGenericArguments(), .. method.GetGenericArguments()];
        long count = JitInfo.GetCompiledMethodCount(currentThread: true);
        TimeSpan time = JitInfo.GetCompilationTime(currentThread: true);
        RuntimeHelpers.PrepareMethod(method.MethodHandle, [.. instantiation.Select(t => t.TypeHandle)]);
        double ms = (JitInfo.GetCompilationTime(currentThread: true) - time).TotalMilliseconds;
        kernelsMs += ms;
        Console.WriteLine($"  {name}: {JitInfo.GetCompiledMethodCount(currentThread: true) - count} method(s) in {ms:F1} ms");
    }
    Console.WriteLine($"kernels: {kernelsMs:F1} ms");
}

long before = JitInfo.GetCompiledMethodCount(currentThread: true);
TimeSpan jitBefore = JitInfo.GetCompilationTime(currentThread: true);
long start = Stopwatch.GetTimestamp();
layer.Forward(input);
double firstMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
long methods = JitInfo.GetCompiledMethodCount(currentThread: true) - before;
double jitMs = (JitInfo.GetCompilationTime(currentThread: true) - jitBefore).TotalMilliseconds;
Console.WriteLine($"first call: {firstMs:F1} ms, the JIT compiled {methods} methods in {jitMs:F1} ms" +
                  (prepare ? $"; kernels {100 * kernelsMs / (kernelsMs + jitMs):F0}% of kernels + first call's JIT time" : ""));
return 0;
