using ElmanRnn.Serialization;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace ElmanRnn.TorchOracle;

/// <summary>
/// Our <see cref="TorchSave.Write{T}(string, IReadOnlyDictionary{string, System.Numerics.Tensors.Tensor{T}})"/> read
/// by libtorch's side: TorchSharp.PyBridge's <c>load_py</c> (a torch.load-compatible unpickler) loads the file into a
/// libtorch RNN of the same architecture with strict key checking, and every parameter must equal ours bit for bit.
/// </summary>
internal static class TorchSaveCheck
{
    public static int Run()
    {
        int failures = 0, cases = 0;
        string directory = Directory.CreateTempSubdirectory("elmanrnn-torchsave-").FullName;
        try
        {
            foreach (bool f64 in new[] { false, true })
                foreach (var (layers, bi, bias) in new[] { (1, false, true), (2, true, true), (3, false, false) })
                {
                    cases++;
                    var options = new RnnOptions { InputSize = 4, HiddenSize = 6, NumLayers = layers, Bidirectional = bi, Bias = bias };
                    string path = Path.Combine(directory, $"case{cases}.pt");
                    var theirs = nn.RNN(4, 6, layers, bias: bias, bidirectional: bi, dtype: f64 ? float64 : float32);
                    (string Name, double[] Values)[] ours;
                    if (f64)
                    {
                        var layer = new RnnLayer<double>(options, new Random(cases));
                        TorchSave.Write(path, layer.StateDict());
                        ours = layer.StateDict().Select(kv => (kv.Key, Flat(kv.Value))).ToArray();
                    }
                    else
                    {
                        var layer = new RnnLayer<float>(options, new Random(cases));
                        TorchSave.Write(path, layer.StateDict());
                        ours = layer.StateDict().Select(kv => (kv.Key, Flat(kv.Value).ToArray())).ToArray();
                    }
                    theirs.load_py(path, strict: true);
                    var loaded = theirs.named_parameters().ToDictionary(p => p.name, p => p.parameter);
                    foreach (var (name, values) in ours)
                    {
                        double[] got = loaded[name].to_type(float64).data<double>().ToArray();
                        if (!got.SequenceEqual(values))
                        {
                            failures++;
                            Console.Error.WriteLine($"case {cases} ({(f64 ? "f64" : "f32")}): {name} differs after load_py");
                        }
                    }
                }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
        Console.WriteLine($"TorchSave.Write → PyBridge load_py: {cases} state dicts, {failures} mismatches.");
        return failures == 0 ? 0 : 1;
    }

    private static double[] Flat<T>(System.Numerics.Tensors.Tensor<T> t) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var values = new T[t.FlattenedLength];
        t.FlattenTo(values);
        return values.Select(double.CreateChecked).ToArray();
    }
}
