using System.Runtime.InteropServices;
using ElmanRnn.Benchmarks.Cases;

namespace ElmanRnn.Benchmarks.Onnx;

/// <summary>
/// Builds, in code, the ONNX model that computes a case's <c>torch.nn.RNN</c> with ONNX's <c>RNN</c> operator (tanh,
/// the default activation). ONNX's RNN is single-layer, so each layer is one RNN node; a bidirectional layer's
/// Y (L, D, N, H) is turned into the next layer's input (L, N, D·H) by Transpose(perm 0,2,1,3) + Reshape, which also
/// gives the model output torch's layout. A unidirectional Y (L, 1, N, H) already has the memory layout of
/// (L, N, H) and is returned as is.
/// </summary>
/// <remarks>
/// Weights (initializers, so the runtime may pre-pack them): W (D, H, K) = weight_ih, R (D, H, H) = weight_hh,
/// B (D, 2H) = [bias_ih; bias_hh], direction 0 forward, 1 reverse. Inputs: <c>X</c> (L, N, H_in) float and, for packed
/// cases, <c>sequence_lens</c> (N) int32. Output: <c>Y</c>.
/// Field numbers are those of onnx/onnx.proto (IR version 8, opset 17).
/// </remarks>
internal static class OnnxRnnModel
{
    public const string Input = "X";
    public const string SequenceLengths = "sequence_lens";
    public const string Output = "Y";

    private const int FloatType = 1, Int32Type = 6, Int64Type = 7;          // TensorProto.DataType
    private const int AttributeInt = 2, AttributeString = 3, AttributeInts = 7; // AttributeProto.AttributeType

    public static byte[] Build(CaseData<float> data)
    {
        var c = data.Case;
        int d = c.Directions, h = c.Size, l = c.SeqLen, n = c.Batch;
        var graph = new ProtoMessage().String(2, $"rnn_{c.Id}");
        string layerInput = Input;
        for (int layer = 0; layer < c.Layers; layer++)
        {
            int k = layer == 0 ? c.Size : c.OutputWidth;
            string suffix = $"_l{layer}";
            var w = new float[d * h * k];
            var r = new float[d * h * h];
            var b = new float[d * 2 * h];
            for (int dir = 0; dir < d; dir++)
            {
                string name = suffix + (dir == 1 ? "_reverse" : "");
                data.Parameter("weight_ih" + name).CopyTo(w, dir * h * k);
                data.Parameter("weight_hh" + name).CopyTo(r, dir * h * h);
                data.Parameter("bias_ih" + name).CopyTo(b, dir * 2 * h);
                data.Parameter("bias_hh" + name).CopyTo(b, dir * 2 * h + h);
            }
            graph.Message(5, FloatTensor("W" + suffix, [d, h, k], w))
                 .Message(5, FloatTensor("R" + suffix, [d, h, h], r))
                 .Message(5, FloatTensor("B" + suffix, [d, 2 * h], b));

            bool last = layer == c.Layers - 1;
            string y = last && d == 1 ? Output : "Y" + suffix;
            graph.Message(1, Node("RNN", "rnn" + suffix,
                [layerInput, "W" + suffix, "R" + suffix, "B" + suffix, c.Packed ? SequenceLengths : ""], [y],
                IntAttribute("hidden_size", h),
                StringAttribute("direction", d == 2 ? "bidirectional" : "forward")));
            if (d == 2)
            {
                // Y (L, D, N, H) → (L, N, D, H) → (L, N, D·H)
                string next = last ? Output : "X_l" + (layer + 1);
                graph.Message(5, Int64Tensor("shape" + suffix, [3], [l, n, d * h]))
                     .Message(1, Node("Transpose", "transpose" + suffix, [y], ["T" + suffix],
                         IntsAttribute("perm", [0, 2, 1, 3])))
                     .Message(1, Node("Reshape", "reshape" + suffix, ["T" + suffix, "shape" + suffix], [next]));
                layerInput = next;
            }
        }

        graph.Message(11, ValueInfo(Input, FloatType, [l, n, c.Size]));
        if (c.Packed)
            graph.Message(11, ValueInfo(SequenceLengths, Int32Type, [n]));
        graph.Message(12, ValueInfo(Output, FloatType, d == 2 ? [l, n, d * h] : [l, 1, n, h]));

        return new ProtoMessage()
            .Int(1, 8)                                           // ir_version
            .String(2, "ElmanRnn.Benchmarks")                    // producer_name
            .Message(7, graph)                                   // graph
            .Message(8, new ProtoMessage().String(1, "").Int(2, 17)) // opset_import: default domain, opset 17
            .ToArray();
    }

    private static ProtoMessage Node(string opType, string name, string[] inputs, string[] outputs,
        params ProtoMessage[] attributes)
    {
        // Trailing optional inputs are omitted; an empty name in the middle means "not given".
        int count = inputs.Length;
        while (count > 0 && inputs[count - 1].Length == 0)
            count--;
        var node = new ProtoMessage();
        foreach (string input in inputs.Take(count))
            node.String(1, input);
        foreach (string output in outputs)
            node.String(2, output);
        node.String(3, name).String(4, opType);
        foreach (var attribute in attributes)
            node.Message(5, attribute);
        return node;
    }

    private static ProtoMessage IntAttribute(string name, long value) =>
        new ProtoMessage().String(1, name).Int(3, value).Int(20, AttributeInt);

    private static ProtoMessage IntsAttribute(string name, long[] values) =>
        new ProtoMessage().String(1, name).Ints(8, values).Int(20, AttributeInts);

    private static ProtoMessage StringAttribute(string name, string value) =>
        new ProtoMessage().String(1, name).Bytes(4, System.Text.Encoding.UTF8.GetBytes(value)).Int(20, AttributeString);

    private static ProtoMessage FloatTensor(string name, long[] dims, float[] values) =>
        new ProtoMessage().Ints(1, dims).Int(2, FloatType).String(8, name)
            .Bytes(9, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());  // raw_data: little-endian, as on x64

    private static ProtoMessage Int64Tensor(string name, long[] dims, long[] values) =>
        new ProtoMessage().Ints(1, dims).Int(2, Int64Type).String(8, name)
            .Bytes(9, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    private static ProtoMessage ValueInfo(string name, int elementType, long[] dims)
    {
        var shape = new ProtoMessage();
        foreach (long dim in dims)
            shape.Message(1, new ProtoMessage().Int(1, dim));                // TensorShapeProto.dim.dim_value
        var tensorType = new ProtoMessage().Int(1, elementType).Message(2, shape);
        return new ProtoMessage().String(1, name).Message(2, new ProtoMessage().Message(1, tensorType));
    }
}
