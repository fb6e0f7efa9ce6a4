using ElmanRnn.TorchOracle.Native;
using static TorchSharp.torch;

// Before anything touches TorchSharp: its native shim does not load on Debian 12 as shipped.
GlibcxxWeakener.EnsureTorchSharpLoadable();
Smoke();

static void Smoke() => Console.WriteLine($"libtorch OK: randn(3).sum() = {randn(3).sum().item<float>()}");
