using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ElmanRnn.Kernels;
using ElmanRnn.Layout;
using ElmanRnn.Recurrence;
using ElmanRnn.Threading;

namespace ElmanRnn;

/// <summary>
/// <c>torch.nn.RNN</c>: a multi-layer Elman RNN. For each element of the input sequence each layer computes
/// <code>h_t = φ(x_t·W_ihᵀ + b_ih + h_(t-1)·W_hhᵀ + b_hh)</code>
/// where φ is tanh or ReLU, x_t is the input at time t (for layer k &gt; 0, layer k-1's output, with dropout in
/// training mode) and h_(t-1) the state at t-1 (h0 at t = 0).
/// <para>
/// Shapes (L sequence length, N batch, H_in input size, H hidden size, D = 2 if bidirectional else 1, NL layers):
/// input (L, N, H_in), (N, L, H_in) with <see cref="RnnOptions.BatchFirst"/>, or (L, H_in) unbatched; h0 and h_n
/// (NL·D, N, H), or (NL·D, H) unbatched, never batch-first; output (L, N, D·H) / (N, L, D·H) / (L, D·H).
/// </para>
/// <para>
/// Parameters, by PyTorch name: <c>weight_ih_l{k}</c> (H, H_in) for k = 0 else (H, D·H); <c>weight_hh_l{k}</c>
/// (H, H); <c>bias_ih_l{k}</c>, <c>bias_hh_l{k}</c> (H); the reverse direction's carry the suffix <c>_reverse</c>.
/// All are initialised from U(-1/√H, 1/√H).
/// </para>
/// <para>
/// Thread safety: concurrent <c>Forward</c> calls on one instance are safe while <see cref="LoadStateDict"/>,
/// <see cref="ResetParameters"/> and <see cref="Training"/> are not changed concurrently.
/// </para>
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class RnnLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ParameterSpec[] _specs;
    private readonly T[][] _values;           // one array per spec, row-major, in _specs order
    private readonly Random _random;
    private readonly object _randomGate = new();   // held while dropout draws from _random
    private readonly List<string> _warnings = [];
    private LayerWeights<T>[] _layers;        // packed from _snapshot; rebuilt whenever the values change
    private T[][] _snapshot = [];             // the values _layers was packed from, to see writes through Parameters()
    private long _generation;                 // bumped by every repack; a tape records the one its forward used
    private Parameter<T>[]? _parameters;      // made on first use; from then on every forward checks for writes
    private readonly object _repackGate = new();
    private int _maxDegreeOfParallelism = Environment.ProcessorCount;

    [ThreadStatic]
    private static LayerScan<T>? t_scan;

    /// <summary>Builds the RNN and draws every parameter from U(-1/√H, 1/√H).</summary>
    /// <param name="options">The architecture; validated as PyTorch validates its constructor arguments.</param>
    /// <param name="random">Source for the initial values and the dropout masks; pass a seeded one for reproducible
    /// runs. Default: <see cref="Random.Shared"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Unknown nonlinearity; dropout not a number in [0, 1]; input size,
    /// hidden size or number of layers not greater than zero; a parameter larger than one .NET array, or parameters
    /// larger than the memory this process can use.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    /// <remarks>
    /// Dropout &gt; 0 with a single layer is legal but does nothing (dropout only sits between layers); as PyTorch warns,
    /// so does this constructor: the text is added to <see cref="Warnings"/> and written with
    /// <see cref="Trace.TraceWarning(string)"/>.
    /// </remarks>
    public RnnLayer(RnnOptions options, Random? random = null)
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
            throw new NotSupportedException(
                $"RnnLayer<{typeof(T).Name}> is not supported: the element type must be float or double.");
        ArgumentNullException.ThrowIfNull(options);
        Validate(options, _warnings);
        CheckFits(options);
        Options = options;
        _random = random ?? Random.Shared;
        _specs = RnnParameters.Describe(options);
        _values = _specs.Select(s => new T[s.Count]).ToArray();
        _layers = [];
        ResetParameters();
    }

    /// <summary>The architecture this layer was built with.</summary>
    public RnnOptions Options { get; }

    /// <summary>Training mode (PyTorch's <c>module.training</c>), true by default as in PyTorch: dropout between layers
    /// is active only while this is true. Set false for inference (PyTorch's <c>eval()</c>).</summary>
    public bool Training { get; set; } = true;

    /// <summary>
    /// How many threads one <c>Forward</c> call may use (default: <see cref="Environment.ProcessorCount"/>). Results are
    /// bitwise identical for every value: threads split work, never a reduction.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to less than 1.</exception>
    public int MaxDegreeOfParallelism
    {
        get => _maxDegreeOfParallelism;
        set => _maxDegreeOfParallelism = value >= 1
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "MaxDegreeOfParallelism must be at least 1.");
    }

    /// <summary>Warnings PyTorch would have raised as <c>UserWarning</c> while building this layer.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>PyTorch's <c>reset_parameters()</c>: redraws every parameter from U(-1/√H, 1/√H), in state-dict order.</summary>
    public void ResetParameters()
    {
        double bound = 1.0 / Math.Sqrt(Options.HiddenSize);
        foreach (T[] values in _values)
            for (int i = 0; i < values.Length; i++)
                values[i] = T.CreateChecked(-bound + 2 * bound * _random.NextDouble());
        Repack();
    }

    /// <summary>
    /// PyTorch's <c>parameters()</c> / <c>named_parameters()</c>: every parameter in state-dict order, the same
    /// objects on every call. Each <see cref="Parameter{T}.Value"/> is a live view of this layer's storage: writes to it
    /// (an optimizer's step, or the caller's own) are used by the next <c>Forward</c> or <c>Step</c> with no refresh
    /// call, as in-place edits of <c>param.data</c> are in PyTorch. Each <see cref="Parameter{T}.Grad"/> accumulates
    /// what <see cref="Backward(RnnTape{T}, Tensor{T}, Tensor{T})"/> computes.
    /// </summary>
    /// <remarks>Once the parameters have been handed out, every forward compares the values with the copy the kernels
    /// were packed from (a memory compare, ~1 byte per cycle-fraction; repacked only when they differ). A layer whose
    /// parameters are never asked for pays nothing.</remarks>
    public IReadOnlyList<Parameter<T>> Parameters() => Params;

    /// <summary>PyTorch's <c>zero_grad()</c>: sets every parameter's <see cref="Parameter{T}.Grad"/> to zero.</summary>
    public void ZeroGrad()
    {
        foreach (Parameter<T> p in Params)
            p.ZeroGrad();
    }

    private Parameter<T>[] Params
    {
        get
        {
            if (_parameters is null)
            {
                var made = new Parameter<T>[_specs.Length];
                for (int i = 0; i < made.Length; i++)
                    made[i] = new Parameter<T>(_specs[i].Name, _values[i], _specs[i].Shape);
                Interlocked.CompareExchange(ref _parameters, made, null);
            }
            return _parameters;
        }
    }

    /// <summary>
    /// PyTorch's <c>state_dict()</c>: every parameter under its PyTorch name, in PyTorch's order (layer, then
    /// direction, then weight_ih, weight_hh, bias_ih, bias_hh). The tensors are copies: edit them and load them back
    /// with <see cref="LoadStateDict"/> to change the layer.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor<T>> StateDict()
    {
        var dict = new OrderedDictionary<string, Tensor<T>>(_specs.Length);
        for (int i = 0; i < _specs.Length; i++)
            dict.Add(_specs[i].Name, Tensor.Create((T[])_values[i].Clone(), _specs[i].Shape.Select(x => (nint)x).ToArray()));
        return dict;
    }

    /// <summary>
    /// PyTorch's <c>load_state_dict</c>: copies the given tensors into the parameters of the same names. Every
    /// problem is reported at once and nothing is changed unless all is well.
    /// </summary>
    /// <param name="stateDict">Tensors by PyTorch parameter name (any layout, strided tensors included).</param>
    /// <param name="strict">When true (default), missing and unexpected keys are errors; when false they are ignored
    /// and only the given parameters change. A shape mismatch is always an error.</param>
    /// <exception cref="ArgumentException">Listing every missing, unexpected and wrongly shaped key.</exception>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor<T>> stateDict, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var problems = new List<string>();
        var byName = _specs.Select((s, i) => (s, i)).ToDictionary(x => x.s.Name, x => x.i);
        if (strict)
        {
            var missing = _specs.Where(s => !stateDict.ContainsKey(s.Name)).Select(s => $"\"{s.Name}\"").ToList();
            var unexpected = stateDict.Keys.Where(k => !byName.ContainsKey(k)).Select(k => $"\"{k}\"").ToList();
            if (missing.Count > 0) problems.Add($"Missing key(s) in state_dict: {string.Join(", ", missing)}.");
            if (unexpected.Count > 0) problems.Add($"Unexpected key(s) in state_dict: {string.Join(", ", unexpected)}.");
        }
        foreach (var (name, tensor) in stateDict)
        {
            if (!byName.TryGetValue(name, out int i))
                continue;
            ParameterSpec spec = _specs[i];
            if (tensor is null)
                problems.Add($"value for {name} is null; expected a tensor of shape {spec.ShapeText}.");
            else if (!tensor.Lengths.SequenceEqual(spec.Shape.Select(x => (nint)x).ToArray()))
                problems.Add($"size mismatch for {name}: copying a param with shape {ShapeText.Format(tensor.Lengths)} " +
                             $"from checkpoint, the shape in current model is {spec.ShapeText}.");
        }
        if (problems.Count > 0)
            throw new ArgumentException(
                "Error(s) in loading state_dict for RNN:\n\t" + string.Join("\n\t", problems), nameof(stateDict));

        foreach (var (name, tensor) in stateDict)
            if (byName.TryGetValue(name, out int i))
                tensor.FlattenTo(_values[i]);
        Repack();
    }

    /// <summary>
    /// Runs the RNN over a dense input: time-major (L, N, H_in), batch-first (N, L, H_in) when
    /// <see cref="RnnOptions.BatchFirst"/>, or unbatched (L, H_in).
    /// </summary>
    /// <param name="input">The input sequence(s). Strided (non-dense) tensors are accepted.</param>
    /// <param name="h0">Initial states (NL·D, N, H) — (NL·D, H) for unbatched input; zeros when null.</param>
    /// <returns>(output, h_n): see <see cref="RnnResult{T}"/>. For the reverse direction, h_n holds the state after
    /// step 0, which is <c>output[0, :, H:]</c>, not <c>output[-1, :, H:]</c>.</returns>
    /// <exception cref="ArgumentException">Input not 2-D or 3-D; h0 of another rank than the input; last input
    /// dimension ≠ InputSize; h0 not of the expected shape; sequence length 0.</exception>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("ApiDesign", "RS0027",
        Justification = "The longer overloads take no optional parameters, so a call that omits h0 binds only here.")]
    public RnnResult<T> Forward(Tensor<T> input, Tensor<T>? h0 = null)
    {
        var (form, steps, batch) = DenseLayout.Validate(input, h0, Options.InputSize, LayersTimesDirections, Options.HiddenSize, Options.BatchFirst);
        int directions = Options.Bidirectional ? 2 : 1;
        Span<nint> shape = stackalloc nint[3];
        // Forward writes every output and h_n element: no need to zero them first.
        int rank = DenseLayout.OutputShape(form, steps, batch, directions * Options.HiddenSize, shape);
        var output = Tensor.Create(GC.AllocateUninitializedArray<T>(TensorRows.ElementCount(shape[..rank])), shape[..rank]);
        rank = DenseLayout.HiddenShape(form, Options.NumLayers * directions, batch, Options.HiddenSize, shape);
        var hn = Tensor.Create(GC.AllocateUninitializedArray<T>(TensorRows.ElementCount(shape[..rank])), shape[..rank]);
        RunDense(input, form, steps, batch, h0, TensorRows.Writable(output, nameof(output)), TensorRows.Writable(hn, nameof(hn)));
        return new RnnResult<T>(output, hn);
    }

    /// <summary>
    /// <see cref="Forward(Tensor{T}, Tensor{T})"/> writing into tensors the caller owns, so a warm call allocates
    /// nothing (any layer, bidirectional included). <paramref name="h0"/> and <paramref name="hn"/> may be the same
    /// tensor (the state is read before it is overwritten); <paramref name="output"/> must not overlap the input.
    /// </summary>
    /// <param name="input">As for <see cref="Forward(Tensor{T}, Tensor{T})"/>.</param>
    /// <param name="h0">Initial states, or null for zeros.</param>
    /// <param name="output">Dense tensor of exactly the output's shape: (L, N, D·H), (N, L, D·H) or (L, D·H).</param>
    /// <param name="hn">Dense tensor of exactly h_n's shape: (NL·D, N, H), or (NL·D, H) unbatched.</param>
    /// <exception cref="ArgumentException">The errors of the allocating overload; output or hn of another shape, or a
    /// strided view that cannot be written in place.</exception>
    public void Forward(Tensor<T> input, Tensor<T>? h0, Tensor<T> output, Tensor<T> hn) =>
        ForwardInto(input, h0, output, hn, null);

    /// <summary>
    /// <see cref="Forward(Tensor{T}, Tensor{T}, RnnTape{T})"/> writing into tensors the caller owns: a training loop's
    /// forward that allocates no output. The same bits as the allocating overloads, and the same tape.
    /// </summary>
    /// <param name="input">As for <see cref="Forward(Tensor{T}, Tensor{T})"/>.</param>
    /// <param name="h0">Initial states, or null for zeros (then Backward returns no h0 gradient); may be
    /// <paramref name="hn"/> (the tape keeps its own copy).</param>
    /// <param name="output">As for <see cref="Forward(Tensor{T}, Tensor{T}, Tensor{T}, Tensor{T})"/>.</param>
    /// <param name="hn">As for <see cref="Forward(Tensor{T}, Tensor{T}, Tensor{T}, Tensor{T})"/>.</param>
    /// <param name="tape">Filled by this call; its previous contents are replaced.</param>
    /// <exception cref="ArgumentException">As for <see cref="Forward(Tensor{T}, Tensor{T}, Tensor{T}, Tensor{T})"/>.</exception>
    public void Forward(Tensor<T> input, Tensor<T>? h0, Tensor<T> output, Tensor<T> hn, RnnTape<T> tape)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ForwardInto(input, h0, output, hn, tape);
    }

    private void ForwardInto(Tensor<T> input, Tensor<T>? h0, Tensor<T> output, Tensor<T> hn, RnnTape<T>? tape)
    {
        var (form, steps, batch) = DenseLayout.Validate(input, h0, Options.InputSize, LayersTimesDirections, Options.HiddenSize, Options.BatchFirst);
        int directions = Options.Bidirectional ? 2 : 1;
        Span<nint> shape = stackalloc nint[3];
        int rank = DenseLayout.OutputShape(form, steps, batch, directions * Options.HiddenSize, shape);
        DenseLayout.CheckResultShape(output, shape[..rank], nameof(output));
        rank = DenseLayout.HiddenShape(form, Options.NumLayers * directions, batch, Options.HiddenSize, shape);
        DenseLayout.CheckResultShape(hn, shape[..rank], nameof(hn));
        RunDense(input, form, steps, batch, h0, TensorRows.Writable(output, nameof(output)), TensorRows.Writable(hn, nameof(hn)), tape);
        if (tape is not null)
            CompleteDense(tape, form, input, h0, output.Lengths, hn.Lengths);
    }

    // What Backward needs besides the values RunStack recorded: the shapes and forms of a dense forward.
    private static void CompleteDense(RnnTape<T> tape, InputForm form, Tensor<T> input, Tensor<T>? h0,
        ReadOnlySpan<nint> outputShape, ReadOnlySpan<nint> hnShape)
    {
        tape.OutputShape = Reuse(tape.OutputShape, outputShape);
        tape.HnShape = Reuse(tape.HnShape, hnShape);
        tape.Kind = RnnTape<T>.InputKind.Dense;
        tape.Form = form;
        tape.InputShape = Reuse(tape.InputShape, input.Lengths);
        tape.HasH0 = h0 is not null;
        tape.H0Shape = h0 is null ? null : Reuse(tape.H0Shape, h0.Lengths);
        tape.Complete();
    }

    /// <summary>
    /// Makes the state of <paramref name="batchSize"/> streams for <see cref="Step"/>: PyTorch's loop of
    /// <c>output, h = rnn(chunk, h)</c>, with the state kept here instead of passed around.
    /// </summary>
    /// <param name="batchSize">B: how many independent streams step together (each is one row of every chunk).</param>
    /// <param name="h0">Initial states (NL, B, H) — or (NL, H) when B = 1 — copied in; zeros when null.</param>
    /// <exception cref="NotSupportedException">The layer is bidirectional.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> &lt; 1, or a state larger than one
    /// .NET array.</exception>
    /// <exception cref="ArgumentException">h0 not of the shape above.</exception>
    public RnnState<T> CreateState(int batchSize = 1, Tensor<T>? h0 = null)
    {
        if (Options.Bidirectional)
            throw new NotSupportedException(
                "A bidirectional RNN cannot stream: its reverse direction starts at the last step of the whole sequence, " +
                "which a stream has not seen yet. Run Forward over the complete sequence instead.");
        if (batchSize < 1 || RnnState<T>.StateElements(Options, batchSize) > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize,
                $"batchSize must be in 1..{Array.MaxLength / ((long)Options.NumLayers * Options.HiddenSize)} " +
                $"(NL·B·H values must fit one .NET array).");
        var state = new RnnState<T>(Options, batchSize);
        if (h0 is not null)
        {
            DenseLayout.CheckHidden(h0.Lengths, Options.NumLayers, batchSize, Options.HiddenSize, unbatched: h0.Rank == 2 && batchSize == 1, nameof(h0));
            TensorRows.RowMajor(h0).CopyTo(state.Values);
        }
        return state;
    }

    /// <summary>
    /// Advances B streams by the steps in <paramref name="input"/>, carrying their state in <paramref name="state"/>:
    /// bitwise the same as one <see cref="Forward(Tensor{T}, Tensor{T})"/> over all chunks so far, however the
    /// sequence is chunked, for any <see cref="MaxDegreeOfParallelism"/>. Dropout applies as in Forward (training
    /// mode, between layers). A warm call allocates nothing.
    /// </summary>
    /// <param name="state">From <see cref="CreateState"/> of a layer with this architecture; afterwards it holds h_n.</param>
    /// <param name="input">(steps, B, H_in) time-major values; steps = input.Length / (B·H_in), 0 allowed.</param>
    /// <param name="output">Receives (steps, B, H): the last layer's state at every step.</param>
    /// <exception cref="ArgumentException">A state of another architecture; input not whole steps of B·H_in values;
    /// output not steps·B·H long.</exception>
    public void Step(RnnState<T> state, ReadOnlySpan<T> input, Span<T> output)
    {
        ArgumentNullException.ThrowIfNull(state);
        RnnOptions o = state.Options;
        if (!ReferenceEquals(o, Options) && (o.InputSize != Options.InputSize || o.HiddenSize != Options.HiddenSize ||
                                             o.NumLayers != Options.NumLayers || o.Bidirectional))
            throw new ArgumentException(
                $"The state was made for {o.NumLayers} layer(s) of RNN({o.InputSize}, {o.HiddenSize}); this layer is " +
                $"{Options.NumLayers} layer(s) of RNN({Options.InputSize}, {Options.HiddenSize}).", nameof(state));
        int batch = state.BatchSize, stepInput = batch * Options.InputSize;
        if (input.Length % stepInput != 0)
            throw new ArgumentException(
                $"input must hold whole steps of B·H_in = {batch}·{Options.InputSize} = {stepInput} values; got " +
                $"{input.Length}.", nameof(input));
        int steps = input.Length / stepInput;
        long expected = (long)steps * batch * Options.HiddenSize;
        if (output.Length != expected)
            throw new ArgumentException(
                $"output must hold steps·B·H = {steps}·{batch}·{Options.HiddenSize} = {expected} values; got {output.Length}.",
                nameof(output));
        if (steps == 0)
            return;
        // The state owns the inner layers' buffers: a pooled array can be trimmed away after a GC and re-allocated.
        Span<T> scratch = Options.NumLayers > 1 ? state.Scratch(2 * (int)expected) : default;
        RunStack(SequenceBatch.Dense(steps, batch), input, state.Values, output, state.Values, scratch);
    }

    /// <summary>
    /// Runs the RNN over a <see cref="PackedSequence{T}"/> (PyTorch's <c>rnn(packed, h0)</c>): each sequence only over its
    /// own valid steps. The reverse direction starts at each sequence's own last valid step, not at the padded end.
    /// <see cref="RnnOptions.BatchFirst"/> does not apply (packing decided the layout).
    /// </summary>
    /// <param name="input">Packed data (S, H_in) with its batch sizes and permutation.</param>
    /// <param name="h0">Initial states (NL·D, B, H), B = <c>input.BatchSize</c>, in the caller's original batch order;
    /// zeros when null.</param>
    /// <returns>(output, h_n): see <see cref="PackedRnnResult{T}"/>.</returns>
    /// <exception cref="ArgumentException">Packed data not 2-D ("input must have 2 dimensions"); feature size ≠
    /// InputSize; h0 not (NL·D, B, H) ("Expected hidden size").</exception>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("ApiDesign", "RS0027",
        Justification = "The longer overloads take no optional parameters, so a call that omits h0 binds only here.")]
    public PackedRnnResult<T> Forward(PackedSequence<T> input, Tensor<T>? h0 = null) => ForwardPacked(input, h0, null);

    /// <summary>
    /// <see cref="Forward(PackedSequence{T}, Tensor{T})"/> writing into tensors the caller owns, for a loop over
    /// batches of the same lengths: <paramref name="output"/> receives the packed output's data, whose rows are those
    /// of <c>input.Data</c> (same batch sizes and permutation), and <paramref name="hn"/> h_n in the caller's batch
    /// order. Bitwise the same as the allocating overload. A warm call allocates nothing (the sorted-order states of
    /// an unsorted batch are rented from the shared pool).
    /// </summary>
    /// <param name="input">As for <see cref="Forward(PackedSequence{T}, Tensor{T})"/>.</param>
    /// <param name="h0">Initial states (NL·D, B, H) in the caller's order, or null for zeros; may be
    /// <paramref name="hn"/> (the state is read before it is overwritten).</param>
    /// <param name="output">Dense tensor (S, D·H), S = <c>input.Data</c>'s rows; must not overlap the input.</param>
    /// <param name="hn">Dense tensor (NL·D, B, H).</param>
    /// <exception cref="ArgumentException">The errors of the allocating overload; output or hn of another shape, or a
    /// strided view that cannot be written in place.</exception>
    public void Forward(PackedSequence<T> input, Tensor<T>? h0, Tensor<T> output, Tensor<T> hn) =>
        ForwardPackedInto(input, h0, output, hn, null);

    /// <summary>
    /// <see cref="Forward(PackedSequence{T}, Tensor{T}, RnnTape{T})"/> writing into tensors the caller owns: a training
    /// loop's forward over packed batches that allocates nothing once warm. The same bits and the same tape.
    /// </summary>
    /// <param name="input">As for <see cref="Forward(PackedSequence{T}, Tensor{T})"/>.</param>
    /// <param name="h0">Initial states in the caller's order, or null for zeros (then Backward returns no h0
    /// gradient); may be <paramref name="hn"/>.</param>
    /// <param name="output">As for <see cref="Forward(PackedSequence{T}, Tensor{T}, Tensor{T}, Tensor{T})"/>.</param>
    /// <param name="hn">As for <see cref="Forward(PackedSequence{T}, Tensor{T}, Tensor{T}, Tensor{T})"/>.</param>
    /// <param name="tape">Filled by this call; its previous contents are replaced.</param>
    /// <exception cref="ArgumentException">As for <see cref="Forward(PackedSequence{T}, Tensor{T}, Tensor{T}, Tensor{T})"/>.</exception>
    public void Forward(PackedSequence<T> input, Tensor<T>? h0, Tensor<T> output, Tensor<T> hn, RnnTape<T> tape)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ForwardPackedInto(input, h0, output, hn, tape);
    }

    private void ForwardPackedInto(PackedSequence<T> input, Tensor<T>? h0, Tensor<T> output, Tensor<T> hn, RnnTape<T>? tape)
    {
        PackedLayout.Validate(input, h0, Options.InputSize, LayersTimesDirections, Options.HiddenSize);
        int width = (Options.Bidirectional ? 2 : 1) * Options.HiddenSize;
        DenseLayout.CheckResultShape(output, [input.Batch.Rows, width], nameof(output));
        DenseLayout.CheckResultShape(hn, [LayersTimesDirections, input.BatchSize, Options.HiddenSize], nameof(hn));
        RunPacked(input, h0, TensorRows.Writable(output, nameof(output)), TensorRows.Writable(hn, nameof(hn)), tape);
        if (tape is not null)
            CompletePacked(tape, input, h0, output.Lengths, hn.Lengths);
    }

    private PackedRnnResult<T> ForwardPacked(PackedSequence<T> input, Tensor<T>? h0, RnnTape<T>? tape)
    {
        PackedLayout.Validate(input, h0, Options.InputSize, LayersTimesDirections, Options.HiddenSize);
        int width = (Options.Bidirectional ? 2 : 1) * Options.HiddenSize, rows = input.Batch.Rows;
        var output = GC.AllocateUninitializedArray<T>(rows * width);
        var hn = GC.AllocateUninitializedArray<T>(LayersTimesDirections * input.BatchSize * Options.HiddenSize);
        RunPacked(input, h0, output, hn, tape);
        var packed = new PackedSequence<T>(Tensor.Create(output, [rows, width]), input.BatchSizesSpan,
            input.SortedIndices?.ToArray(), input.UnsortedIndices?.ToArray());
        return new PackedRnnResult<T>(packed, Tensor.Create(hn, [LayersTimesDirections, input.BatchSize, Options.HiddenSize]));
    }

    // A validated packed input through the stack into output (S, D·H) and hn (NL·D, B, H) in the caller's batch order.
    // The stack runs in sorted order: for an unsorted batch h0 is permuted into the first half of a rented buffer
    // (before hn, which may be h0's memory, is written), h_n comes out in the second half and is permuted back.
    private void RunPacked(PackedSequence<T> input, Tensor<T>? h0, Span<T> output, Span<T> hn, RnnTape<T>? tape)
    {
        ReadOnlySpan<T> x = TensorRows.RowMajor(input.Data);
        ReadOnlySpan<int> sorted = input.SortedIndicesSpan, unsorted = input.UnsortedIndicesSpan;
        if (unsorted.IsEmpty)
        {
            RunStack(input.Batch, x, h0 is null ? default : TensorRows.RowMajor(h0), output, hn, default, tape);
            return;
        }
        T[] rented = ArrayPool<T>.Shared.Rent(2 * hn.Length);
        try
        {
            Span<T> sortedH0 = rented.AsSpan(0, hn.Length), sortedHn = rented.AsSpan(hn.Length, hn.Length);
            if (h0 is not null)
                PackedLayout.SortHidden<T>(TensorRows.RowMajor(h0), sorted, Options.HiddenSize, sortedH0);
            RunStack(input.Batch, x, h0 is null ? default : sortedH0, output, sortedHn, default, tape);
            PackedLayout.UnsortHidden<T>(sortedHn, unsorted, Options.HiddenSize, hn);
        }
        finally
        {
            ArrayPool<T>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Runs the RNN over a padded batch as if it had been packed: exactly
    /// <c>PadPacked(Forward(PackPadded(input, lengths, BatchFirst, enforceSorted: false), h0).Output, BatchFirst,
    /// totalLength: L)</c>. Each sequence runs over its first <c>lengths[i]</c> steps only, the reverse direction starts
    /// at each sequence's own last valid step, outputs past a sequence's length are zero and h_n holds each sequence's
    /// real final states — what a bidirectional RNN over a padded batch needs, without packing by hand.
    /// </summary>
    /// <param name="input">(L, N, H_in), or (N, L, H_in) with <see cref="RnnOptions.BatchFirst"/>; any order of lengths.</param>
    /// <param name="lengths">N valid lengths, each in 1..L.</param>
    /// <param name="h0">Initial states (NL·D, N, H); zeros when null.</param>
    /// <returns>output (L, N, D·H) or (N, L, D·H), zero past each length; h_n (NL·D, N, H).</returns>
    /// <exception cref="ArgumentException">Input not 3-D; a length count ≠ N, a length ≤ 0 or &gt; L; and the errors of
    /// the packed overload.</exception>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("ApiDesign", "RS0027",
        Justification = "The longer overloads take no optional parameters, so a call that omits h0 binds only here.")]
    public RnnResult<T> Forward(Tensor<T> input, ReadOnlySpan<int> lengths, Tensor<T>? h0 = null) =>
        ForwardLengths(input, lengths, h0, null);

    // Pack, run, pad back: the lengths overloads with and without a tape.
    private RnnResult<T> ForwardLengths(Tensor<T> input, ReadOnlySpan<int> lengths, Tensor<T>? h0, RnnTape<T>? tape)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 3)
            throw new ArgumentException(
                $"Expected a padded 3D input (L, N, H_in) or (N, L, H_in) with lengths, got {input.Rank}D tensor " +
                $"{ShapeText.Format(input.Lengths)}.", nameof(input));
        int steps = (int)input.Lengths[Options.BatchFirst ? 1 : 0];
        var packed = PackedSequence.PackPadded(input, lengths, Options.BatchFirst, enforceSorted: false);
        var (output, hn) = tape is null ? Forward(packed, h0) : Forward(packed, h0, tape);
        return new RnnResult<T>(PackedSequence.PadPacked(output, Options.BatchFirst, T.Zero, steps).Padded, hn);
    }

    /// <summary>
    /// <see cref="Forward(Tensor{T}, Tensor{T})"/> recording what <see cref="Backward(RnnTape{T}, Tensor{T}, Tensor{T})"/> needs into
    /// <paramref name="tape"/> (PyTorch's forward with autograd on). Output, h_n and the dropout masks drawn are those
    /// of the forward without a tape, bit for bit.
    /// </summary>
    /// <param name="input">As for <see cref="Forward(Tensor{T}, Tensor{T})"/>.</param>
    /// <param name="h0">Initial states, or null for zeros (then Backward returns no h0 gradient).</param>
    /// <param name="tape">Filled by this call; its previous contents are replaced.</param>
    /// <exception cref="ArgumentException">As for <see cref="Forward(Tensor{T}, Tensor{T})"/>.</exception>
    public RnnResult<T> Forward(Tensor<T> input, Tensor<T>? h0, RnnTape<T> tape)
    {
        ArgumentNullException.ThrowIfNull(tape);
        var (form, steps, batch) = DenseLayout.Validate(input, h0, Options.InputSize, LayersTimesDirections, Options.HiddenSize, Options.BatchFirst);
        int directions = Options.Bidirectional ? 2 : 1;
        Span<nint> shape = stackalloc nint[3];
        int rank = DenseLayout.OutputShape(form, steps, batch, directions * Options.HiddenSize, shape);
        var output = Tensor.Create(GC.AllocateUninitializedArray<T>(TensorRows.ElementCount(shape[..rank])), shape[..rank]);
        rank = DenseLayout.HiddenShape(form, Options.NumLayers * directions, batch, Options.HiddenSize, shape);
        var hn = Tensor.Create(GC.AllocateUninitializedArray<T>(TensorRows.ElementCount(shape[..rank])), shape[..rank]);
        RunDense(input, form, steps, batch, h0, TensorRows.Writable(output, nameof(output)), TensorRows.Writable(hn, nameof(hn)), tape);
        CompleteDense(tape, form, input, h0, output.Lengths, hn.Lengths);
        return new RnnResult<T>(output, hn);
    }

    /// <summary><see cref="Forward(PackedSequence{T}, Tensor{T})"/> recording what <see cref="Backward(RnnTape{T}, Tensor{T}, Tensor{T})"/> needs into
    /// <paramref name="tape"/>; Backward then takes gradOutput shaped like <c>Output.Data</c> (S, D·H) and returns the
    /// gradient of the packed data (S, H_in).</summary>
    /// <param name="input">As for <see cref="Forward(PackedSequence{T}, Tensor{T})"/>.</param>
    /// <param name="h0">Initial states in the caller's batch order, or null for zeros.</param>
    /// <param name="tape">Filled by this call.</param>
    /// <exception cref="ArgumentException">As for <see cref="Forward(PackedSequence{T}, Tensor{T})"/>.</exception>
    public PackedRnnResult<T> Forward(PackedSequence<T> input, Tensor<T>? h0, RnnTape<T> tape)
    {
        ArgumentNullException.ThrowIfNull(tape);
        var result = ForwardPacked(input, h0, tape);
        CompletePacked(tape, input, h0, result.Output.Data.Lengths, result.Hn.Lengths);
        return result;
    }

    // What Backward needs besides the values RunStack recorded: the layout and shapes of a packed forward.
    private static void CompletePacked(RnnTape<T> tape, PackedSequence<T> input, Tensor<T>? h0,
        ReadOnlySpan<nint> outputShape, ReadOnlySpan<nint> hnShape)
    {
        tape.Kind = RnnTape<T>.InputKind.Packed;
        tape.BatchSizes = Reuse(tape.BatchSizes, input.BatchSizesSpan);
        tape.SortedIndices = input.SortedIndices is null ? null : Reuse(tape.SortedIndices, input.SortedIndicesSpan);
        tape.UnsortedIndices = input.UnsortedIndices is null ? null : Reuse(tape.UnsortedIndices, input.UnsortedIndicesSpan);
        tape.InputShape = Reuse(tape.InputShape, input.Data.Lengths);
        tape.OutputShape = Reuse(tape.OutputShape, outputShape);
        tape.HnShape = Reuse(tape.HnShape, hnShape);
        tape.HasH0 = h0 is not null;
        tape.H0Shape = h0 is null ? null : Reuse(tape.H0Shape, h0.Lengths);
        tape.Complete();
    }

    // A training loop records the same layout every step: keep the arrays, so a warm step allocates nothing.
    private static TItem[] Reuse<TItem>(TItem[]? kept, ReadOnlySpan<TItem> now) where TItem : IEquatable<TItem> =>
        kept is not null && now.SequenceEqual(kept) ? kept : now.ToArray();

    /// <summary><see cref="Forward(Tensor{T}, ReadOnlySpan{int}, Tensor{T})"/> recording what <see cref="Backward(RnnTape{T}, Tensor{T}, Tensor{T})"/>
    /// needs into <paramref name="tape"/>; Backward then takes gradOutput shaped like the padded output and returns a
    /// padded input gradient that is exactly zero past each length (PyTorch's <c>pack_padded_sequence</c> backward).</summary>
    /// <param name="input">As for <see cref="Forward(Tensor{T}, ReadOnlySpan{int}, Tensor{T})"/>.</param>
    /// <param name="lengths">N valid lengths, each in 1..L.</param>
    /// <param name="h0">Initial states, or null for zeros.</param>
    /// <param name="tape">Filled by this call.</param>
    /// <exception cref="ArgumentException">As for <see cref="Forward(Tensor{T}, ReadOnlySpan{int}, Tensor{T})"/>.</exception>
    public RnnResult<T> Forward(Tensor<T> input, ReadOnlySpan<int> lengths, Tensor<T>? h0, RnnTape<T> tape)
    {
        ArgumentNullException.ThrowIfNull(tape);
        var (padded, hn) = ForwardLengths(input, lengths, h0, tape);
        tape.Kind = RnnTape<T>.InputKind.Lengths;
        tape.Lengths = lengths.ToArray();
        tape.PaddedSteps = (int)padded.Lengths[Options.BatchFirst ? 1 : 0];
        tape.InputShape = input.Lengths.ToArray();
        tape.OutputShape = padded.Lengths.ToArray();
        return new RnnResult<T>(padded, hn);
    }

    /// <summary>
    /// Backpropagation through time for the forward recorded in <paramref name="tape"/>: exactly what PyTorch's
    /// autograd gives for <c>loss = sum(output * gradOutput) + sum(h_n * gradHn)</c>. Adds (+=) every parameter's
    /// gradient into its <see cref="Parameter{T}.Grad"/> (call <see cref="ZeroGrad"/> first for fresh ones) and returns
    /// the gradients of the input and h0. Dropout masks are the forward's own (training mode).
    /// </summary>
    /// <param name="tape">Recorded by a Forward of this layer.</param>
    /// <param name="gradOutput">d(loss)/d(output), shaped like that forward's output (packed input: like
    /// <c>Output.Data</c>); null means zeros.</param>
    /// <param name="gradHn">d(loss)/d(h_n), shaped like h_n; null means zeros.</param>
    /// <returns>d/dinput, shaped like the input (zero past each length for the lengths overload), and d/dh0 (null
    /// when the forward had no h0).</returns>
    /// <exception cref="ArgumentException">The tape is empty or was recorded by another layer; a gradient of another
    /// shape than its forward result.</exception>
    /// <exception cref="InvalidOperationException">The parameters changed since that forward (PyTorch: "one of the
    /// variables needed for gradient computation has been modified by an inplace operation").</exception>
    public RnnGradients<T> Backward(RnnTape<T> tape, Tensor<T>? gradOutput, Tensor<T>? gradHn)
    {
        CheckBackward(tape, gradOutput, gradHn);
        var dInput = new T[tape.Batch.Rows * Options.InputSize];
        // Without an h0 there is no h0 gradient to return, so its products are skipped, as autograd skips a constant.
        var dh0 = tape.HasH0 ? new T[tape.H0Length] : [];
        RunBackward(tape, gradOutput, gradHn, dInput, dh0);

        // canonical → the caller's forms
        Tensor<T> inputGradient;
        switch (tape.Kind)
        {
            case RnnTape<T>.InputKind.Packed:
                inputGradient = Tensor.Create(dInput, tape.InputShape);
                break;
            case RnnTape<T>.InputKind.Lengths:
                var padded = GC.AllocateUninitializedArray<T>(TensorRows.ElementCount(tape.InputShape));
                PadInputGradient(tape, dInput, padded);
                inputGradient = Tensor.Create(padded, tape.InputShape);
                break;
            default:
                if (tape.Form == InputForm.BatchFirst && tape.Batch.BatchSize > 1)
                {
                    var batchFirst = new T[dInput.Length];
                    DenseLayout.ToBatchFirst<T>(dInput, batchFirst, tape.Batch.Steps, tape.Batch.BatchSize, Options.InputSize);
                    dInput = batchFirst;
                }
                inputGradient = Tensor.Create(dInput, tape.InputShape);
                break;
        }
        Tensor<T>? h0Gradient = null;
        if (tape.HasH0)
        {
            if (tape.UnsortedIndices is not null)
            {
                var unsorted = new T[dh0.Length];
                PackedLayout.UnsortHidden<T>(dh0, tape.UnsortedIndices, Options.HiddenSize, unsorted);
                dh0 = unsorted;
            }
            h0Gradient = Tensor.Create(dh0, tape.H0Shape!);
        }
        return new RnnGradients<T>(inputGradient, h0Gradient);
    }

    /// <summary>
    /// <see cref="Backward(RnnTape{T}, Tensor{T}, Tensor{T})"/> writing d/dinput and d/dh0 into the caller's tensors
    /// (overwritten, not added to) instead of returning new ones; the parameter gradients are added to as there. A
    /// null <paramref name="gradInput"/> skips d/dinput altogether, as PyTorch's autograd does when the input does not
    /// require grad — the usual case in training, where the input is data: for one layer that saves a third of the
    /// backward's multiply-adds. With a warm tape the call allocates no result arrays.
    /// </summary>
    /// <param name="tape">Recorded by a Forward of this layer.</param>
    /// <param name="gradOutput">d(loss)/d(output), shaped like that forward's output; null means zeros.</param>
    /// <param name="gradHn">d(loss)/d(h_n), shaped like h_n; null means zeros.</param>
    /// <param name="gradInput">Receives d/dinput, shaped like that forward's input (packed: like its Data; lengths
    /// overload: the padded input, zero past each length); null: not computed.</param>
    /// <param name="gradH0">Receives d/dh0, shaped like that forward's h0; null: not wanted. Must be null when the
    /// forward had no h0.</param>
    /// <exception cref="ArgumentException">As the returning overload; also a result tensor of another shape than its
    /// forward counterpart, a strided view, or <paramref name="gradH0"/> given for a forward without h0.</exception>
    /// <exception cref="InvalidOperationException">The parameters changed since that forward.</exception>
    public void Backward(RnnTape<T> tape, Tensor<T>? gradOutput, Tensor<T>? gradHn, Tensor<T>? gradInput, Tensor<T>? gradH0)
    {
        CheckBackward(tape, gradOutput, gradHn);
        Span<T> input = [], h0 = [];
        if (gradInput is not null)
        {
            if (!gradInput.Lengths.SequenceEqual(tape.InputShape))
                throw new ArgumentException(
                    $"gradInput must be shaped like the forward's input {ShapeText.Format(tape.InputShape)}; got " +
                    $"{ShapeText.Format(gradInput.Lengths)}.", nameof(gradInput));
            input = TensorRows.Writable(gradInput, nameof(gradInput));
        }
        if (gradH0 is not null)
        {
            if (!tape.HasH0)
                throw new ArgumentException(
                    "The forward ran without h0, so there is no h0 gradient (a default initial state is a constant, as " +
                    "in PyTorch); pass null for gradH0.", nameof(gradH0));
            if (!gradH0.Lengths.SequenceEqual(tape.H0Shape!))
                throw new ArgumentException(
                    $"gradH0 must be shaped like the forward's h0 {ShapeText.Format(tape.H0Shape!)}; got " +
                    $"{ShapeText.Format(gradH0.Lengths)}.", nameof(gradH0));
            h0 = TensorRows.Writable(gradH0, nameof(gradH0));
        }

        // Canonical results go straight into the caller's memory where its layout is the canonical one.
        int rows = tape.Batch.Rows;
        bool inputDirect = tape.Kind == RnnTape<T>.InputKind.Packed ||
            tape.Kind == RnnTape<T>.InputKind.Dense && !(tape.Form == InputForm.BatchFirst && tape.Batch.BatchSize > 1);
        Span<T> dInput = gradInput is null ? [] : inputDirect ? input : RnnTape<T>.Ensure(ref tape.GradInput, rows * Options.InputSize);
        Span<T> dh0 = gradH0 is null ? []
            : tape.UnsortedIndices is null ? h0 : RnnTape<T>.Ensure(ref tape.GradH0, tape.H0Length);
        RunBackward(tape, gradOutput, gradHn, dInput, dh0);

        if (gradInput is not null && !inputDirect)
        {
            if (tape.Kind == RnnTape<T>.InputKind.Lengths)
                PadInputGradient(tape, dInput, input);
            else
                DenseLayout.ToBatchFirst<T>(dInput, input, tape.Batch.Steps, tape.Batch.BatchSize, Options.InputSize);
        }
        if (gradH0 is not null && tape.UnsortedIndices is not null)
            PackedLayout.UnsortHidden<T>(dh0, tape.UnsortedIndices, Options.HiddenSize, h0);
    }

    // Refuses a tape this layer cannot replay and upstream gradients of the wrong shape.
    private void CheckBackward(RnnTape<T> tape, Tensor<T>? gradOutput, Tensor<T>? gradHn)
    {
        ArgumentNullException.ThrowIfNull(tape);
        if (!ReferenceEquals(tape.Owner, this))
            throw new ArgumentException(tape.Owner is null
                ? "The tape holds no forward pass: pass it to Forward(..., tape) of this layer first."
                : "The tape was recorded by another RnnLayer.", nameof(tape));
        Sync();
        if (tape.Generation != _generation)
            throw new InvalidOperationException(
                "The layer's parameters were modified after the forward that recorded this tape (PyTorch: one of the " +
                "variables needed for gradient computation has been modified by an inplace operation). Run the forward again.");
        if (gradOutput is not null && !gradOutput.Lengths.SequenceEqual(tape.OutputShape))
            throw new ArgumentException(
                $"gradOutput must be shaped like the forward's output {ShapeText.Format(tape.OutputShape)}; got " +
                $"{ShapeText.Format(gradOutput.Lengths)}.", nameof(gradOutput));
        if (gradHn is not null && !gradHn.Lengths.SequenceEqual(tape.HnShape))
            throw new ArgumentException(
                $"gradHn must be shaped like the forward's h_n {ShapeText.Format(tape.HnShape)}; got " +
                $"{ShapeText.Format(gradHn.Lengths)}.", nameof(gradHn));
    }

    // The stack's backward over the canonical form: layers from the top down, each handing d/d(its input) to the one
    // below (through the dropout mask). dInput: (S, H_in) canonical, or empty when d/dinput is not wanted (layer 0
    // then skips its dX product); dh0: (NL·D, B, H) sorted order, or empty when d/dh0 is not wanted (every layer then
    // skips the products into it).
    private void RunBackward(RnnTape<T> tape, Tensor<T>? gradOutput, Tensor<T>? gradHn, Span<T> dInput, Span<T> dh0)
    {
        SequenceBatch batch = tape.Batch;
        int directions = Options.Bidirectional ? 2 : 1, hidden = Options.HiddenSize, width = directions * hidden;
        int rows = batch.Rows, layers = Options.NumLayers, perLayer = directions * batch.BatchSize * hidden;
        bool packed = tape.Kind != RnnTape<T>.InputKind.Dense;

        // dH: (S, D·H) d(loss)/d(this layer's output), canonical; starts as the caller's gradOutput
        Span<T> dH = RnnTape<T>.Ensure(ref tape.GradA, rows * width);
        if (gradOutput is null)
            dH.Clear();
        else if (tape.Kind == RnnTape<T>.InputKind.Lengths)
            TensorRows.RowMajor(PackedSequence.PackPadded(gradOutput, tape.Lengths!, Options.BatchFirst, enforceSorted: false).Data).CopyTo(dH);
        else if (packed)
            TensorRows.RowMajor(gradOutput).CopyTo(dH);
        else
        {
            T[]? rented = null;   // batch-first (N, L, D·H) → (L, N, D·H), as the forward's input went
            DenseLayout.ToTimeMajor(gradOutput, tape.Form, batch.Steps, batch.BatchSize, ref rented).CopyTo(dH);
            if (rented is not null)
                ArrayPool<T>.Shared.Return(rented);
        }
        // dhn: (NL·D, B, H) sorted order
        ReadOnlySpan<T> dhn;
        if (gradHn is null)
        {
            Span<T> zeros = RnnTape<T>.Ensure(ref tape.GradHn, layers * perLayer);
            zeros.Clear();
            dhn = zeros;
        }
        else if (packed && tape.SortedIndices is not null)
        {
            Span<T> sorted = RnnTape<T>.Ensure(ref tape.GradHn, layers * perLayer);
            PackedLayout.SortHidden<T>(TensorRows.RowMajor(gradHn), tape.SortedIndices, hidden, sorted);
            dhn = sorted;
        }
        else
            dhn = TensorRows.RowMajor(gradHn);

        DirectionGradients<T>[][] gradients = DirectionGradients();
        LayerWeights<T>[] weights = _layers;
        WorkerTeam? team = MaxDegreeOfParallelism > 1 && WorkerTeam.Shared.MaxParts > 1 && WorkerTeam.Shared.TryAcquire()
            ? WorkerTeam.Shared : null;
        try
        {
            for (int l = layers - 1; l >= 0; l--)
            {
                ReadOnlySpan<T> x;
                if (l == 0)
                    x = tape.Input.AsSpan(0, rows * Options.InputSize);
                else if (tape.Dropped)
                {
                    // layer l's input = h_(l-1) ⊙ mask
                    Span<T> dropped = RnnTape<T>.Ensure(ref tape.DroppedInput, rows * width);
                    TensorPrimitives.Multiply(tape.States[l - 1].AsSpan(0, rows * width), tape.MaskOf(l - 1), dropped);
                    x = dropped;
                }
                else
                    x = tape.States[l - 1].AsSpan(0, rows * width);
                Span<T> dx = l == 0 ? dInput : RnnTape<T>.Ensure(ref tape.GradB, rows * width);
                tape.LayerBackward.Run(team, MaxDegreeOfParallelism, weights[l], gradients[l], batch, x, tape.States[l].AsSpan(0, rows * width), dH,
                    dhn.Slice(l * perLayer, perLayer), tape.H0.AsSpan(l * perLayer, perLayer), dh0.IsEmpty ? [] : dh0.Slice(l * perLayer, perLayer),
                    dx, Options.Nonlinearity == Nonlinearity.Relu);
                if (l > 0)
                {
                    if (tape.Dropped)
                        TensorPrimitives.Multiply(dx, tape.MaskOf(l - 1), dx);
                    (tape.GradA, tape.GradB) = (tape.GradB, tape.GradA);
                    dH = tape.GradA.AsSpan(0, rows * width);
                }
            }
        }
        finally
        {
            team?.Release();
        }
    }

    // Where each (layer, direction)'s parameter gradients accumulate: the Grad storage of its parameters.
    private DirectionGradients<T>[][] DirectionGradients()
    {
        if (_directionGradients is { } cached)
            return cached;
        int directions = Options.Bidirectional ? 2 : 1;
        Parameter<T>[] parameters = Params;
        var gradients = new DirectionGradients<T>[Options.NumLayers][];
        for (int l = 0; l < Options.NumLayers; l++)
            gradients[l] = new DirectionGradients<T>[directions];
        for (int i = 0; i < _specs.Length; i += Options.Bias ? 4 : 2)
        {
            ParameterSpec spec = _specs[i];
            gradients[spec.Layer][spec.Direction] = new DirectionGradients<T>(parameters[i].Gradient,
                parameters[i + 1].Gradient, Options.Bias ? parameters[i + 2].Gradient : null,
                Options.Bias ? parameters[i + 3].Gradient : null);
        }
        return _directionGradients = gradients;
    }

    private DirectionGradients<T>[][]? _directionGradients;

    // The lengths overload's d/dinput: canonical packed rows (S, H_in) → the padded input's shape, zero past each length.
    private void PadInputGradient(RnnTape<T> tape, ReadOnlySpan<T> rows, Span<T> padded) =>
        PackedSequence.PadInto(rows, tape.BatchSizes, tape.SortedIndices, Options.InputSize, tape.PaddedSteps,
            tape.Lengths!.Length, Options.BatchFirst, T.Zero, padded);

    /// <summary>PyTorch's repr, e.g. <c>RNN(10, 20, num_layers=2, bidirectional=True)</c> (nonlinearity is not shown,
    /// as in PyTorch).</summary>
    public override string ToString()
    {
        var o = Options;
        var text = new System.Text.StringBuilder($"RNN({o.InputSize}, {o.HiddenSize}");
        if (o.NumLayers != 1) text.Append($", num_layers={o.NumLayers}");
        if (!o.Bias) text.Append(", bias=False");
        if (o.BatchFirst) text.Append(", batch_first=True");
        if (o.Dropout != 0) text.Append($", dropout={PythonFloat(o.Dropout)}");
        if (o.Bidirectional) text.Append(", bidirectional=True");
        return text.Append(')').ToString();
    }

    // Dense input → canonical rows → the stack → the caller's memory (output in its own layout, h_n as is).
    private void RunDense(Tensor<T> input, InputForm form, int steps, int batch, Tensor<T>? h0, Span<T> output, Span<T> hn,
        RnnTape<T>? tape = null)
    {
        T[]? rentedInput = null, rentedOutput = null;
        try
        {
            ReadOnlySpan<T> x = DenseLayout.ToTimeMajor(input, form, steps, batch, ref rentedInput);
            // rows: (L, N, D·H) canonical; batch-first output is filled from it afterwards
            Span<T> rows = output;
            if (form == InputForm.BatchFirst && batch > 1)
            {
                rentedOutput = ArrayPool<T>.Shared.Rent(output.Length);
                rows = rentedOutput.AsSpan(0, output.Length);
            }
            RunStack(SequenceBatch.Dense(steps, batch), x, DenseLayout.Hidden(h0), rows, hn, default, tape);
            if (rentedOutput is not null)
                DenseLayout.ToBatchFirst<T>(rows, output, steps, batch, output.Length / Math.Max(1, steps * batch));
        }
        finally
        {
            if (rentedInput is not null)
                ArrayPool<T>.Shared.Return(rentedInput);
            if (rentedOutput is not null)
                ArrayPool<T>.Shared.Return(rentedOutput);
        }
    }

    /// <summary>
    /// The layer stack over the canonical form: each layer's output feeds the next (through dropout in training);
    /// h_n collects every layer's final states before that dropout.
    /// </summary>
    /// <param name="batch">The canonical form: rows per step.</param>
    /// <param name="x">(S, H_in) time-major rows.</param>
    /// <param name="h0">(NL·D, B, H) in sorted order, or empty for zeros; may be <paramref name="hn"/>'s memory.</param>
    /// <param name="output">(S, D·H) receives the last layer's output.</param>
    /// <param name="hn">(NL·D, B, H) receives the final states.</param>
    /// <param name="scratch">(2, S, D·H) for the inner layers' outputs, owned by the caller (a streaming state), or
    /// empty to rent it from the shared pool for this call.</param>
    /// <param name="tape">When given, receives what Backward needs: x, every layer's output, the masks, h0.</param>
    private void RunStack(SequenceBatch batch, ReadOnlySpan<T> x, ReadOnlySpan<T> h0, Span<T> output, Span<T> hn,
        Span<T> scratch = default, RnnTape<T>? tape = null)
    {
        Sync();
        // A default h0 is zeros that PyTorch multiplies by W_hh like any state (a NaN there reaches the first step),
        // and a stream that starts from zeros must match a Forward without h0 bit for bit: so zeros are real here.
        T[]? zeros = null;
        if (h0.IsEmpty && hn.Length > 0)
        {
            zeros = ArrayPool<T>.Shared.Rent(hn.Length);
            Array.Clear(zeros, 0, hn.Length);
            h0 = zeros.AsSpan(0, hn.Length);
        }
        var activation = Options.Nonlinearity == Nonlinearity.Tanh ? Activation.Tanh : Activation.Relu;
        int directions = Options.Bidirectional ? 2 : 1, perLayer = directions * batch.BatchSize * Options.HiddenSize;
        int layerRows = batch.Rows * directions * Options.HiddenSize;
        LayerWeights<T>[] layers = _layers;
        // between: two (S, D·H) buffers the inner layers alternate between; the last layer writes output directly
        T[]? rented = layers.Length > 1 && scratch.Length < 2 * layerRows ? ArrayPool<T>.Shared.Rent(2 * layerRows) : null;
        Span<T> between = rented is null ? scratch : rented;
        // One scan object per thread, reused: it only holds pointers while a call runs.
        LayerScan<T> scan = t_scan ??= new LayerScan<T>();
        WorkerTeam? team = MaxDegreeOfParallelism > 1 && WorkerTeam.Shared.MaxParts > 1 && WorkerTeam.Shared.TryAcquire()
            ? WorkerTeam.Shared : null;
        try
        {
            ReadOnlySpan<T> layerInput = x;
            bool dropout = Training && Options.Dropout > 0;
            if (tape is not null)
                tape.Record(this, _generation, layers.Length, dropout, batch, x, h0, layerRows);
            for (int l = 0; l < layers.Length; l++)
            {
                Span<T> layerOutput = l == layers.Length - 1 ? output : between.Slice((l % 2) * layerRows, layerRows);
                scan.Run(team, MaxDegreeOfParallelism, layers[l], batch, layerInput, layerOutput,
                    h0.Slice(l * perLayer, perLayer), hn.Slice(l * perLayer, perLayer), activation);
                tape?.SaveStates(l, layerOutput);
                if (dropout && l < layers.Length - 1)
                    Dropout.Apply(layerOutput, Options.Dropout, _random, _randomGate, tape is null ? default : tape.MaskOf(l));
                layerInput = layerOutput;
            }
        }
        finally
        {
            team?.Release();
            if (rented is not null)
                ArrayPool<T>.Shared.Return(rented);
            if (zeros is not null)
                ArrayPool<T>.Shared.Return(zeros);
        }
    }

    // Sees writes made through Parameters() since the last pack: a byte compare (NaN payloads included) against the
    // values the kernels were packed from, and a repack when anything differs.
    private void Sync()
    {
        if (_parameters is null)
            return;
        T[][] snapshot = _snapshot;
        for (int i = 0; i < _values.Length; i++)
            if (!MemoryMarshal.AsBytes(_values[i].AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(snapshot[i].AsSpan())))
            {
                lock (_repackGate)
                    Repack();
                return;
            }
    }

    private void Repack()
    {
        int directions = Options.Bidirectional ? 2 : 1, hidden = Options.HiddenSize;
        // The kernels read copies, never _values: a write during a forward cannot tear its weights, and the copy is
        // what the next Sync compares with.
        var snapshot = new T[_values.Length][];
        for (int i = 0; i < snapshot.Length; i++)
            snapshot[i] = (T[])_values[i].Clone();
        // Per layer: W_ih of every direction stacked (D·H, H_in of the layer), b_ih + b_hh (D·H), W_hh per direction.
        var inputWeights = new T[Options.NumLayers][];
        var biases = new T[]?[Options.NumLayers];
        var hiddenWeights = new T[Options.NumLayers][][];
        for (int l = 0; l < Options.NumLayers; l++)
        {
            inputWeights[l] = new T[directions * hidden * InputWidth(l)];
            biases[l] = Options.Bias ? new T[directions * hidden] : null;
            hiddenWeights[l] = new T[directions][];
        }
        // One pass over the parameters (a pass per layer made construction quadratic in the number of layers).
        for (int i = 0; i < _specs.Length; i++)
        {
            ParameterSpec spec = _specs[i];
            T[] v = snapshot[i];
            switch (spec.Kind)
            {
                case ParameterKind.WeightIh: v.CopyTo(inputWeights[spec.Layer], spec.Direction * v.Length); break;
                case ParameterKind.WeightHh: hiddenWeights[spec.Layer][spec.Direction] = v; break;
                default:
                    T[] bias = biases[spec.Layer]!;
                    for (int j = 0; j < hidden; j++)
                        bias[spec.Direction * hidden + j] += v[j];
                    break;
            }
        }
        var layers = new LayerWeights<T>[Options.NumLayers];
        for (int l = 0; l < layers.Length; l++)
            layers[l] = new LayerWeights<T>(inputWeights[l], InputWidth(l), biases[l], hiddenWeights[l]);
        _snapshot = snapshot;
        _layers = layers;
        _generation++;
    }

    // NL·D: the leading dimension of h0 and h_n.
    private int LayersTimesDirections => Options.NumLayers * (Options.Bidirectional ? 2 : 1);

    private int InputWidth(int layer) => layer == 0 ? Options.InputSize : (Options.Bidirectional ? 2 : 1) * Options.HiddenSize;

    // Sizes in 64-bit before anything is allocated: every array the layer makes must fit one .NET array, and all of
    // them the memory this process may use — otherwise a typo like NumLayers = int.MaxValue fills memory for seconds
    // and dies, or H·H wraps around in int arithmetic.
    private static void CheckFits(RnnOptions o)
    {
        long directions = o.Bidirectional ? 2 : 1, hidden = o.HiddenSize, slack = 64;   // panel rounding and alignment
        long limit = Array.MaxLength - slack * Math.Max(o.InputSize, directions * hidden);
        (string Name, long Elements)[] largest =
        [
            ("weight_ih_l0 (both directions packed together)", directions * hidden * o.InputSize),
            ("weight_hh_l0", hidden * hidden),
            ("weight_ih_l1 (both directions packed together)", o.NumLayers > 1 ? directions * hidden * directions * hidden : 0),
        ];
        foreach (var (name, elements) in largest)
            if (elements > limit)
                throw new ArgumentOutOfRangeException(nameof(o), elements,
                    $"RNN({o.InputSize}, {o.HiddenSize}) is too large: {name} would hold {elements} values, more than one " +
                    $".NET array can ({limit} here).");
        // The values as PyTorch holds them, plus the packed copy the kernels read, plus per-tensor overhead.
        double firstLayer = directions * (hidden * (double)(o.InputSize + hidden) + 2 * hidden);
        double upperLayer = directions * (hidden * (double)(directions * hidden + hidden) + 2 * hidden);
        double values = firstLayer + (o.NumLayers - 1.0) * upperLayer;
        double bytes = 2 * values * Unsafe.SizeOf<T>() + o.NumLayers * directions * 2048.0;
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (bytes > available)
            throw new ArgumentOutOfRangeException(nameof(o), o.NumLayers,
                $"RNN({o.InputSize}, {o.HiddenSize}, num_layers={o.NumLayers}) is too large: its parameters would need " +
                $"{bytes:0.###e0} bytes ({values:0.###e0} values as PyTorch would hold them, plus the packed copy), and " +
                $"this process can use {available} bytes.");
    }

    // PyTorch's checks, in PyTorch's order (spec §1.2): nonlinearity, dropout, its warning, sizes.
    private static void Validate(RnnOptions o, List<string> warnings)
    {
        if (!Enum.IsDefined(o.Nonlinearity))
            throw new ArgumentOutOfRangeException(nameof(o.Nonlinearity), o.Nonlinearity,
                $"Unknown nonlinearity '{o.Nonlinearity}'. Select from 'Tanh' or 'Relu'.");
        if (double.IsNaN(o.Dropout) || o.Dropout < 0 || o.Dropout > 1)
            throw new ArgumentOutOfRangeException(nameof(o.Dropout), o.Dropout,
                "dropout should be a number in range [0, 1] representing the probability of an element being zeroed.");
        if (o.Dropout > 0 && o.NumLayers == 1)
        {
            string warning = "dropout option adds dropout after all but last recurrent layer, so non-zero dropout " +
                             $"expects num_layers greater than 1, but got dropout={PythonFloat(o.Dropout)} and num_layers={o.NumLayers}";
            warnings.Add(warning);
            Trace.TraceWarning(warning);
        }
        if (o.InputSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(o.InputSize), o.InputSize, "input_size must be greater than zero.");
        if (o.HiddenSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(o.HiddenSize), o.HiddenSize, "hidden_size must be greater than zero.");
        if (o.NumLayers <= 0)
            throw new ArgumentOutOfRangeException(nameof(o.NumLayers), o.NumLayers, "num_layers must be greater than zero.");
    }

    // Python's float repr: 0.5 → "0.5", 1 → "1.0", 1e-05 → "1e-05".
    private static string PythonFloat(double value)
    {
        string text = value.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e");
        return text.Contains('.') || text.Contains('e') ? text : text + ".0";
    }
}
