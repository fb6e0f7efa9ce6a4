using ElmanRnn.Benchmarks.Cases;
using ElmanRnn.Benchmarks.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace ElmanRnn.Benchmarks.Contenders;

/// <summary>
/// ONNX Runtime's CPU <c>RNN</c> kernel on the model <see cref="OnnxRnnModel"/> builds: intra-op threads = threads,
/// one inter-op thread, sequential execution, all graph optimisations. Inputs are bound once as
/// <see cref="OrtValue"/>s over the case's arrays; the output is allocated by the runtime on every run (as ours and
/// libtorch's are). Float32 only: ONNX Runtime registers no float64 RNN kernel.
/// </summary>
internal sealed class OnnxContender : IContender
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly OrtValue[] _inputValues;
    private readonly string[] _outputNames = [OnnxRnnModel.Output];

    public OnnxContender(CaseData<float> data, int threads)
    {
        var c = data.Case;
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        // By default the intra-op workers go on spinning after Run returns, holding the second core for tens of
        // milliseconds; the contender timed next would lose it (measured: ours and libtorch ~2× slower at 2 threads,
        // even 30 ms later). Stopping the spin at the end of Run leaves ONNX Runtime's own time unchanged.
        options.AddSessionConfigEntry("session.force_spinning_stop", "1");
        _session = new InferenceSession(OnnxRnnModel.Build(data), options);
        var x = OrtValue.CreateTensorValueFromMemory(data.Input, [c.SeqLen, c.Batch, c.Size]);
        if (data.Lengths is { } lengths)
        {
            _inputNames = [OnnxRnnModel.Input, OnnxRnnModel.SequenceLengths];
            _inputValues = [x, OrtValue.CreateTensorValueFromMemory(lengths.ToArray(), [c.Batch])];
        }
        else
        {
            _inputNames = [OnnxRnnModel.Input];
            _inputValues = [x];
        }
    }

    public string Name => Names.OnnxRuntime;

    public void Run()
    {
        using var outputs = _session.Run(_runOptions, _inputNames, _inputValues, _outputNames);
    }

    public double[] Output()
    {
        using var outputs = _session.Run(_runOptions, _inputNames, _inputValues, _outputNames);
        var values = outputs[0].GetTensorDataAsSpan<float>();
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = values[i];
        return result;
    }

    public void Dispose()
    {
        foreach (var value in _inputValues)
            value.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }
}
