using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Tests.Reference;

namespace ElmanRnn.Tests.Rnn;

/// <summary>Builders shared by the RNN tests.</summary>
internal static class RnnTestKit
{
    /// <summary>RNN(1, 1) with spec §10's scalar weights: w_ih 0.5, w_hh -1, b_ih 0.1, b_hh 0.2 (reverse: w_ih 1,
    /// w_hh 0.5, biases 0), eval mode.</summary>
    public static RnnLayer<T> Scalar<T>(RnnOptions options) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var layer = new RnnLayer<T>(options) { Training = false };
        var values = new Dictionary<string, double>
        {
            ["weight_ih_l0"] = 0.5, ["weight_hh_l0"] = -1.0, ["bias_ih_l0"] = 0.1, ["bias_hh_l0"] = 0.2,
            ["weight_ih_l0_reverse"] = 1.0, ["weight_hh_l0_reverse"] = 0.5,
            ["bias_ih_l0_reverse"] = 0.0, ["bias_hh_l0_reverse"] = 0.0,
            ["weight_ih_l1"] = 2.0, ["weight_hh_l1"] = 0.5, ["bias_ih_l1"] = 0.0, ["bias_hh_l1"] = 0.0,
        };
        var dict = layer.StateDict().ToDictionary(
            kv => kv.Key, kv => TestTensors.Create<T>([values[kv.Key]], kv.Value.Lengths.ToArray()));
        layer.LoadStateDict(dict);
        return layer;
    }

    /// <summary>The layer's parameters in the form the naive reference takes.</summary>
    public static Dictionary<string, (double[] Values, int[] Shape)> Weights<T>(RnnLayer<T> layer)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        layer.StateDict().ToDictionary(
            kv => kv.Key, kv => (kv.Value.ToDoubles(), kv.Value.Lengths.ToArray().Select(x => (int)x).ToArray()));

    /// <summary>The naive reference run on the same weights; input (L, N, I) time-major.</summary>
    public static (double[] Output, double[] Hn) Reference<T>(
        RnnLayer<T> layer, double[] input, int steps, int batch, double[]? h0 = null, int[]? lengths = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var o = layer.Options;
        return NaiveRnn.Forward(Weights(layer), o.InputSize, o.HiddenSize, o.NumLayers, o.Bidirectional,
            o.Nonlinearity == Nonlinearity.Relu, input, steps, batch, h0, lengths);
    }

    /// <summary>(N, L, F) row-major → (L, N, F) and back (the transposition is its own inverse shape-wise).</summary>
    public static double[] SwapFirstTwo(double[] values, int first, int second, int features)
    {
        var result = new double[values.Length];
        for (int a = 0; a < first; a++)
            for (int b = 0; b < second; b++)
                Array.Copy(values, (a * second + b) * features, result, (b * first + a) * features, features);
        return result;
    }

    public static Tensor<T> Input<T>(double[] values, params nint[] shape) where T : unmanaged, IFloatingPointIeee754<T> =>
        TestTensors.Create<T>(values, shape);
}
