using BenchmarkDotNet.Running;
using ElmanRnn.Benchmarks.Quick;
using ElmanRnn.Benchmarks.Suites;
using ElmanRnn.TorchOracle.Native;

// Before anything touches TorchSharp: make its native shim loadable on this system's libstdc++.
GlibcxxWeakener.EnsureTorchSharpLoadable();

if (args.Length > 0 && args[0] == "quick")
    return QuickMode.Run(args[1..]);

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchmarkConfig.Create());
return 0;
