using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Layout;
using ElmanRnn.Serialization;
using ElmanRnn.TestShared;

namespace ElmanRnn.Tests.Rnn;

/// <summary>
/// Oracle: libtorch 2.10's autograd. Every file under Fixtures/grad was written by
/// <c>tests/ElmanRnn.TorchOracle grad-fixtures</c> (eval mode, dropout 0, one thread): the PyTorch-named weights, the
/// input (packed cases: the padded time-major input and unsorted lengths), h0 when given, libtorch's output and h_n,
/// random upstream gradients <c>grad_output</c> (packed cases: shaped like the PackedSequence output's data,
/// (S, D·H), rows in the packed order) and <c>grad_hn</c>, and what <c>backward()</c> of
/// <c>loss = sum(output · grad_output) + sum(h_n · grad_hn)</c> gave: <c>grad_input</c> (packed cases: with respect
/// to the padded input, zero at padding positions), <c>grad_h0</c> (when h0 was given) and <c>grad.NAME</c> for every
/// parameter. Each tape forward is also checked against the stored output and h_n.
/// Tolerance, per tensor: max |ours − libtorch| ≤ 1e-12 · max(1, max |libtorch|) for float64 and
/// ≤ 1e-5 · max(1, max |libtorch|) for float32.
/// </summary>
public class GradientFixtureTests
{
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "grad");
    private static readonly HashSet<string> Data = ["input", "lengths", "h0", "output", "h_n"];

    public static IEnumerable<object[]> Golden() =>
        Directory.EnumerateFiles(Root, "*.safetensors").Order().Select(f => new object[] { Path.GetFileName(f) });

    /// <summary>Every file once per way of running it: dense input through <c>Forward(input, h0, tape)</c>; packed
    /// input both through the padded <c>Forward(input, lengths, h0, tape)</c> overload and through
    /// <c>PackPadded</c> + <c>Forward(packed, h0, tape)</c>.</summary>
    public static IEnumerable<object[]> Runs() =>
        Golden().SelectMany(f => ((string)f[0]).Contains("_packed_", StringComparison.Ordinal)
            ? new[] { new object[] { f[0], "lengths" }, new object[] { f[0], "packed" } }
            : new[] { new object[] { f[0], "dense" } });

    [Fact]
    public void TheWholeMatrixIsThere()
    {
        // 2 nonlinearities × 2 bias × 2 depths × 2 directions × 4 input kinds × 2 h0 × 2 dtypes.
        Golden().Should().HaveCount(256);
    }

    [Theory]
    [MemberData(nameof(Runs))]
    public void MatchesLibtorchAutograd(string file, string run)
    {
        string path = Path.Combine(Root, file);
        if (SafeTensors.ReadMetadata(path)["dtype"] == "float64") Check<double>(path, run, 1e-12);
        else Check<float>(path, run, 1e-5);
    }

    private static void Check<T>(string path, string run, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var meta = SafeTensors.ReadMetadata(path);
        var tensors = SafeTensors.Read<T>(path);
        var layer = new RnnLayer<T>(TestOracles.FixtureOptions(meta)) { Training = false };
        layer.LoadStateDict(tensors.Where(kv => !Data.Contains(kv.Key) && !kv.Key.StartsWith("grad", StringComparison.Ordinal)).ToDictionary());
        tensors.TryGetValue("h0", out Tensor<T>? h0);
        Tensor<T> input = tensors["input"], gradHn = tensors["grad_hn"];
        var tape = new RnnTape<T>();
        RnnGradients<T> g;
        Tensor<T> expectedGradInput = tensors["grad_input"];

        switch (run)
        {
            case "dense":
            {
                var (output, hn) = layer.Forward(input, h0, tape);
                AssertForward(output, hn);
                layer.ZeroGrad();
                g = layer.Backward(tape, tensors["grad_output"], gradHn);
                break;
            }
            case "lengths":
            {
                int[] lengths = Lengths(tensors);
                // libtorch's grad_output is laid out like the packed data (S, D·H); this overload's output, and so its
                // upstream gradient, is the padded (T, N, D·H) tensor: put the rows where PadPacked puts the output's.
                var layout = PackedSequence.PackPadded(input, lengths, enforceSorted: false);
                var gradOutputPacked = new PackedSequence<T>(
                    tensors["grad_output"], layout.BatchSizes.ToArray(), layout.SortedIndices?.ToArray());
                var (gradOutput, _) = PackedSequence.PadPacked(gradOutputPacked, totalLength: (int)input.Lengths[0]);
                var (output, hn) = layer.Forward(input, lengths, h0, tape);
                AssertForward(output, hn);
                layer.ZeroGrad();
                g = layer.Backward(tape, gradOutput, gradHn);
                break;
            }
            case "packed":
            {
                int[] lengths = Lengths(tensors);
                var packed = PackedSequence.PackPadded(input, lengths, enforceSorted: false);
                var (output, hn) = layer.Forward(packed, h0, tape);
                var (padded, _) = PackedSequence.PadPacked(output, totalLength: (int)input.Lengths[0]);
                AssertForward(padded, hn);
                layer.ZeroGrad();
                g = layer.Backward(tape, tensors["grad_output"], gradHn);
                // The gradient with respect to the packed data is libtorch's padded-input gradient, packed the same way
                // (its padding positions are zero: they never reach the loss).
                expectedGradInput = PackedSequence.PackPadded(expectedGradInput, lengths, enforceSorted: false).Data;
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(run), run, null);
        }

        AssertClose(g.Input, expectedGradInput, "grad_input");
        if (tensors.TryGetValue("grad_h0", out Tensor<T>? gradH0))
        {
            g.H0.Should().NotBeNull("forward was given h0");
            AssertClose(g.H0!, gradH0, "grad_h0");
        }
        else
        {
            g.H0.Should().BeNull("forward ran without h0, whose default is a constant");
        }

        var parameters = layer.Parameters();
        parameters.Select(p => "grad." + p.Name).Should()
            .BeEquivalentTo(tensors.Keys.Where(k => k.StartsWith("grad.", StringComparison.Ordinal)));
        foreach (Parameter<T> p in parameters)
            AssertClose(p.Grad, tensors["grad." + p.Name], "grad." + p.Name);

        void AssertForward(Tensor<T> output, Tensor<T> hn)
        {
            AssertClose(output, tensors["output"], "output");
            AssertClose(hn, tensors["h_n"], "h_n");
        }

        void AssertClose(Tensor<T> actual, Tensor<T> expected, string name)
        {
            actual.Shape().Should().Equal(expected.Shape(), name);
            TestTensors.RelativeError(actual.ToDoubles(), expected.ToDoubles()).Should().BeLessThanOrEqualTo(tolerance, name);
        }
    }

    private static int[] Lengths<T>(IReadOnlyDictionary<string, Tensor<T>> tensors) where T : unmanaged, IFloatingPointIeee754<T> =>
        tensors["lengths"].ToDoubles().Select(v => (int)v).ToArray();

}
