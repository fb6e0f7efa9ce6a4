using BenchmarkDotNet.Running;
using ElmanRnn.Benchmarks.Quick;
using ElmanRnn.Benchmarks.Suites;
using ElmanRnn.TorchOracle.Native;

// Before anything touches TorchSharp: make its native shim loadable on this system's libstdc++.
GlibcxxWeakener.EnsureTorchSharpLoadable();

if (args.Length > 0 && args[0] == "quick" && args.Contains("--help"))
{
    Console.WriteLine(QuickOptions.Usage);
    Console.WriteLine(StreamingMode.Usage);
    Console.WriteLine(TrainingMode.Usage);
    return 0;
}
if (args.Length > 0 && args[0] == "quick" && args.Contains("--streaming"))
    return StreamingMode.Run(args[1..]);
if (args.Length > 0 && args[0] == "quick" && args.Contains("--training"))
    return TrainingMode.Run(args[1..]);
if (args.Length > 0 && args[0] == "quick")
    return QuickMode.Run(args[1..]);

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchmarkConfig.Create());
return 0;
