using System.CommandLine;
using ElmanRnn.TorchOracle;
using ElmanRnn.TorchOracle.Native;
using static TorchSharp.torch;

// Before anything touches TorchSharp: its native shim does not load on Debian 12 as shipped.
GlibcxxWeakener.EnsureTorchSharpLoadable();

var outOption = new Option<DirectoryInfo>("--out")
{
    Description = "Directory for the golden fixtures (one safetensors file per case).",
    Required = true,
};
var pybridgeOutOption = new Option<DirectoryInfo?>("--pybridge-out")
{
    Description = "Directory for the PyBridge .pt/.safetensors state dicts; default: 'pybridge' next to --out.",
};
var fixtures = new Command("fixtures", "Write libtorch's golden fixtures and PyBridge state dicts.")
{
    outOption, pybridgeOutOption,
};
fixtures.SetAction(parsed =>
{
    var golden = parsed.GetValue(outOption)!;
    var pybridge = parsed.GetValue(pybridgeOutOption)
        ?? new DirectoryInfo(Path.Combine(golden.Parent!.FullName, "pybridge"));
    return Fixtures.Write(golden, pybridge);
});

var gradOutOption = new Option<DirectoryInfo>("--out")
{
    Description = "Directory for the golden gradient fixtures (one safetensors file per case).",
    Required = true,
};
var gradFixtures = new Command("grad-fixtures",
    "Write libtorch autograd's golden gradient fixtures (input, h0 and parameter gradients).")
{
    gradOutOption,
};
gradFixtures.SetAction(parsed => GradFixtures.Write(parsed.GetValue(gradOutOption)!));

var optimOutOption = new Option<DirectoryInfo>("--out")
{
    Description = "Directory for the optimizer trajectory fixtures (one safetensors file per case and dtype).",
    Required = true,
};
var optimFixtures = new Command("optim-fixtures",
    "Write 15-step torch.optim trajectories (SGD, Adam, AdamW, clipping) of an RNN + Linear head with MSE loss.")
{
    optimOutOption,
};
optimFixtures.SetAction(parsed => OptimFixtures.Write(parsed.GetValue(optimOutOption)!));

var countOption = new Option<int>("--count")
{
    Description = "Number of random configurations.",
    DefaultValueFactory = _ => 500,
};
var seedOption = new Option<int>("--seed")
{
    Description = "Seed of the configuration draw; the same seed gives the same cases.",
    DefaultValueFactory = _ => 1,
};
var live = new Command("live", "Compare ElmanRnn with libtorch on random configurations; exit 1 on any mismatch.")
{
    countOption, seedOption,
};
live.SetAction(parsed => LiveParity.Run(parsed.GetValue(countOption), parsed.GetValue(seedOption)));

var torchSaveCheck = new Command("torchsave-check",
    "Write state dicts with TorchSave.Write and load them into libtorch RNNs (PyBridge load_py, strict); exit 1 on any mismatch.");
torchSaveCheck.SetAction(_ => TorchSaveCheck.Run());

var smoke = new Command("smoke", "Check that libtorch loads: prints torch.randn(3).sum().");
smoke.SetAction(_ =>
{
    Console.WriteLine($"libtorch OK: randn(3).sum() = {randn(3).sum().item<float>()}");
    return 0;
});

var root = new RootCommand("libtorch oracle for ElmanRnn: golden fixtures and live parity runs.")
{
    fixtures, gradFixtures, optimFixtures, live, torchSaveCheck, smoke,
};
return root.Parse(args).Invoke();
