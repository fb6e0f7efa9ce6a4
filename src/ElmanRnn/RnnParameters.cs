namespace ElmanRnn;

/// <summary>The one place that knows PyTorch's parameter names, shapes and order (spec §2.1–2.2).</summary>
internal static class RnnParameters
{
    /// <summary>
    /// Layer-major, then direction, then weight_ih, weight_hh, bias_ih, bias_hh:
    /// <c>weight_ih_l{k}{suffix}: (H, k == 0 ? H_in : D·H)</c>, <c>weight_hh_l{k}{suffix}: (H, H)</c>,
    /// <c>bias_*_l{k}{suffix}: (H)</c> only with bias; suffix "" forward, "_reverse" reverse.
    /// </summary>
    public static ParameterSpec[] Describe(RnnOptions options)
    {
        int directions = options.Bidirectional ? 2 : 1, hidden = options.HiddenSize;
        var specs = new List<ParameterSpec>();
        for (int layer = 0; layer < options.NumLayers; layer++)
        {
            int inputWidth = layer == 0 ? options.InputSize : directions * hidden;
            for (int d = 0; d < directions; d++)
            {
                string suffix = $"_l{layer}" + (d == 1 ? "_reverse" : "");
                specs.Add(new("weight_ih" + suffix, layer, d, ParameterKind.WeightIh, [hidden, inputWidth]));
                specs.Add(new("weight_hh" + suffix, layer, d, ParameterKind.WeightHh, [hidden, hidden]));
                if (options.Bias)
                {
                    specs.Add(new("bias_ih" + suffix, layer, d, ParameterKind.BiasIh, [hidden]));
                    specs.Add(new("bias_hh" + suffix, layer, d, ParameterKind.BiasHh, [hidden]));
                }
            }
        }
        return specs.ToArray();
    }
}
