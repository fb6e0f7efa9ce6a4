using MathNet.Numerics.LinearAlgebra;

namespace ElmanRnn.Tests.Reference;

/// <summary>
/// The test oracle: spec §3.6's reference loop, written independently of the library with MathNet.Numerics
/// matrices in float64, one sequence at a time, no packing, no tiling, no fused biases. Packed semantics (§5.9) are
/// expressed the simple way: each sequence runs over its own valid steps only.
/// </summary>
internal static class NaiveRnn
{
    /// <param name="weights">PyTorch name → (row-major values, shape).</param>
    /// <param name="input">(L, N, I) time-major.</param>
    /// <param name="h0">(NL·D, N, H) or null for zeros.</param>
    /// <param name="lengths">Each sequence's valid length (null: all L); positions past it are output as 0.</param>
    /// <returns>output (L, N, D·H) time-major; h_n (NL·D, N, H).</returns>
    public static (double[] Output, double[] Hn) Forward(
        IReadOnlyDictionary<string, (double[] Values, int[] Shape)> weights,
        int inputSize, int hiddenSize, int numLayers, bool bidirectional, bool relu,
        double[] input, int steps, int batch, double[]? h0 = null, int[]? lengths = null)
    {
        int d2 = bidirectional ? 2 : 1, h = hiddenSize;
        var layerInput = new Vector<double>[steps, batch];
        for (int t = 0; t < steps; t++)
            for (int n = 0; n < batch; n++)
                layerInput[t, n] = Vector<double>.Build.DenseOfArray(input.AsSpan((t * batch + n) * inputSize, inputSize).ToArray());

        var hn = new double[numLayers * d2 * batch * h];
        Vector<double>[,] layerOutput = layerInput;
        for (int l = 0; l < numLayers; l++)
        {
            layerOutput = new Vector<double>[steps, batch];
            for (int t = 0; t < steps; t++)
                for (int n = 0; n < batch; n++)
                    layerOutput[t, n] = Vector<double>.Build.Dense(d2 * h);

            for (int d = 0; d < d2; d++)
            {
                string suffix = $"_l{l}" + (d == 1 ? "_reverse" : "");
                Matrix<double> wih = ToMatrix(weights["weight_ih" + suffix]);
                Matrix<double> whh = ToMatrix(weights["weight_hh" + suffix]);
                Vector<double> bih = weights.TryGetValue("bias_ih" + suffix, out var bi)
                    ? Vector<double>.Build.DenseOfArray(bi.Values) : Vector<double>.Build.Dense(h);
                Vector<double> bhh = weights.TryGetValue("bias_hh" + suffix, out var bh)
                    ? Vector<double>.Build.DenseOfArray(bh.Values) : Vector<double>.Build.Dense(h);

                for (int n = 0; n < batch; n++)
                {
                    int len = lengths?[n] ?? steps;
                    int row = l * d2 + d;
                    Vector<double> state = h0 is null
                        ? Vector<double>.Build.Dense(h)
                        : Vector<double>.Build.DenseOfArray(h0.AsSpan((row * batch + n) * h, h).ToArray());
                    for (int i = 0; i < len; i++)
                    {
                        int t = d == 0 ? i : len - 1 - i;
                        Vector<double> pre = (whh * state + bhh) + (wih * layerInput[t, n] + bih);
                        state = pre.Map(v => relu ? Math.Max(0, v) : Math.Tanh(v));
                        layerOutput[t, n].SetSubVector(d * h, h, state);
                    }
                    state.ToArray().CopyTo(hn, (row * batch + n) * h);
                }
            }
            layerInput = layerOutput;
        }

        var output = new double[steps * batch * d2 * h];
        for (int t = 0; t < steps; t++)
            for (int n = 0; n < batch; n++)
                layerOutput[t, n].ToArray().CopyTo(output, (t * batch + n) * d2 * h);
        return (output, hn);
    }

    private static Matrix<double> ToMatrix((double[] Values, int[] Shape) w) =>
        Matrix<double>.Build.Dense(w.Shape[0], w.Shape[1], (r, c) => w.Values[r * w.Shape[1] + c]);
}
