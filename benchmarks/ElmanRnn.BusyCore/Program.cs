// Forward of RNN(H, H) fp32 tanh with bias, eval mode, over (L, N, H) in a loop for SECONDS; prints the median time
// per call over the last three quarters of the calls (the first quarter is warm-up). --into: Forward into output and
// h_n tensors made once, instead of the overload that returns new ones.
// usage: dotnet run -c Release -- THREADS [SECONDS] [L N H] [--into]     (defaults: 5 s, case c: L = 100, N = 32, H = 256)
using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using ElmanRnn;

bool into = args.Contains("--into");
args = args.Where(a => a != "--into").ToArray();
var inv = CultureInfo.InvariantCulture;
if (args.Length is not (1 or 2 or 5) || !int.TryParse(args[0], inv, out int threads) || threads < 1)
{
    Console.Error.WriteLine("usage: ElmanRnn.BusyCore THREADS [SECONDS] [L N H] [--into]");
    return 2;
}
double seconds = args.Length > 1 ? double.Parse(args[1], inv) : 5;
int steps = args.Length > 2 ? int.Parse(args[2], inv) : 100;
int batch = args.Length > 2 ? int.Parse(args[3], inv) : 32;
int size = args.Length > 2 ? int.Parse(args[4], inv) : 256;

var random = new Random(2);
var input = Tensor.Create(
    Enumerable.Range(0, steps * batch * size).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(), [steps, batch, size]);
var layer = new RnnLayer<float>(new RnnOptions { InputSize = size, HiddenSize = size }, new Random(1))
{
    MaxDegreeOfParallelism = threads, Training = false,
};
var output = Tensor.Create(new float[steps * batch * size], [steps, batch, size]);   // (L, N, H), with --into
var hn = Tensor.Create(new float[batch * size], [1, batch, size]);                      // (1, N, H)
var times = new List<double>();
var total = Stopwatch.StartNew();
while (total.Elapsed.TotalSeconds < seconds || times.Count < 8)
{
    long start = Stopwatch.GetTimestamp();
    if (into)
        layer.Forward(input, null, output, hn);
    else
        layer.Forward(input);
    times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
}
double[] kept = times.Skip(times.Count / 4).Order().ToArray();
Console.WriteLine(string.Create(inv,
    $"L={steps} N={batch} H={size}{(into ? " into" : "")} threads {threads}: median {kept[kept.Length / 2]:0.00} ms over {kept.Length} calls"));
return 0;
