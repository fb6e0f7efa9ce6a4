using System.Numerics;
using System.Numerics.Tensors;
using ElmanRnn.Layout;
using ElmanRnn.Recurrence;

namespace ElmanRnn;

/// <summary>
/// What one training forward keeps for <see cref="RnnLayer{T}.Backward(RnnTape{T}, Tensor{T}, Tensor{T})"/>, as PyTorch's autograd graph keeps the
/// tensors an RNN's backward needs: the layer inputs, every layer's states, the dropout masks drawn and h0. Pass a tape
/// to a <c>Forward</c> overload, then to <c>Backward</c>. Reusable: the next forward with the same tape overwrites it,
/// and its buffers are kept, so a training loop with one tape allocates them once. Backward may be called more than
/// once for one forward (as with <c>retain_graph=True</c>). Not for concurrent use by two calls.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class RnnTape<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>An empty tape, filled by the first forward it is passed to.</summary>
    public RnnTape() { }

    internal enum InputKind { Dense, Packed, Lengths }

    // What was recorded, and by whom: Backward refuses a tape of another layer, an empty one, or one whose layer's
    // parameters changed since (PyTorch: "modified by an inplace operation").
    internal object? Owner;
    internal long Generation;
    internal InputKind Kind;
    internal bool HasH0;

    // Shapes to check the upstream gradients against and to give the results.
    internal InputForm Form;
    internal nint[] InputShape = [];
    internal nint[] OutputShape = [];
    internal nint[] HnShape = [];
    internal nint[]? H0Shape;

    // The canonical form the recurrence ran over, and for packed / lengths input how to go back to the caller's.
    internal SequenceBatch Batch;
    internal int[] BatchSizes = [];
    internal int[]? SortedIndices, UnsortedIndices;
    internal int[]? Lengths;
    internal int PaddedSteps;

    // Saved tensors, canonical (time-major rows, sorted sequences):
    internal T[] Input = [];          // (S, H_in) layer 0's input
    internal T[][] States = [];       // NL × (S, D·H) every layer's output, before dropout
    internal T[][] Masks = [];        // (NL - 1) × (S, D·H) dropout multipliers (0 or 1/(1-p)) when dropout ran
    internal bool Dropped;
    internal T[] H0 = [];             // (NL·D, B, H) initial states, zeros when none was given
    internal int H0Length;            // NL·D·B·H: H0 may be longer, grown by an earlier forward

    // Backward's workspace, kept for the next call: dH of two adjacent layers (S, D·H) each, the dropped input of a
    // layer (S, D·H), zeros for a null gradHn (NL·D, B, H), and the canonical results before they go to the caller's
    // tensors when its layout differs: d/dinput (S, H_in), d/dh0 (NL·D, B, H).
    internal T[] GradA = [], GradB = [], DroppedInput = [], GradHn = [], GradInput = [], GradH0 = [];
    internal readonly LayerBackward<T> LayerBackward = new();

    /// <summary>Grows <paramref name="buffer"/> to at least <paramref name="length"/> elements (contents not kept).</summary>
    internal static Span<T> Ensure(ref T[] buffer, int length)
    {
        if (buffer.Length < length)
            buffer = GC.AllocateUninitializedArray<T>(length);
        return buffer.AsSpan(0, length);
    }

    // Called by the stack as the forward starts: the canonical input and h0 are copied (the caller may reuse its
    // tensors before Backward), the per-layer buffers grown to (S, D·H).
    internal void Record(object owner, long generation, int layers, bool dropout, SequenceBatch batch,
        ReadOnlySpan<T> x, ReadOnlySpan<T> h0, int layerRows)
    {
        Owner = null;   // invalid until the forward completes
        Generation = generation;
        Batch = batch;
        Dropped = dropout;
        x.CopyTo(Ensure(ref Input, x.Length));
        h0.CopyTo(Ensure(ref H0, h0.Length));
        H0Length = h0.Length;
        if (States.Length != layers)
            Array.Resize(ref States, layers);
        for (int l = 0; l < layers; l++)
        {
            States[l] ??= [];
            Ensure(ref States[l], layerRows);
        }
        if (dropout && Masks.Length != layers - 1)
            Array.Resize(ref Masks, layers - 1);
        if (dropout)
            for (int l = 0; l < layers - 1; l++)
            {
                Masks[l] ??= [];
                Ensure(ref Masks[l], layerRows);
            }
        _layerRows = layerRows;
        _pendingOwner = owner;
    }

    private int _layerRows;
    private object? _pendingOwner;

    internal int LayerRows => _layerRows;

    internal void SaveStates(int layer, ReadOnlySpan<T> output) => output.CopyTo(States[layer]);

    internal Span<T> MaskOf(int layer) => Masks[layer].AsSpan(0, _layerRows);

    // The forward finished: the tape now describes it.
    internal void Complete() => Owner = _pendingOwner;
}
