using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace ElmanRnn.Threading;

/// <summary>One step-by-step job whose steps are split by columns across parts (see <see cref="StepTakeBack"/>).</summary>
internal interface ISteppedJob
{
    /// <summary>Computes <paramref name="part"/>'s columns of step <paramref name="g"/>: straight into the result when
    /// <paramref name="direct"/> (part 0 computing its own, or a partner's it took back), else into that part's
    /// scratch, leaving the result untouched.</summary>
    void ComputeStep(int g, int part, bool direct);

    /// <summary>Moves <paramref name="part"/>'s scratch results of step <paramref name="g"/> into the result.</summary>
    void PublishStep(int g, int part);

    /// <summary>Part 0, once every column of step <paramref name="g"/> is in the result.</summary>
    void StepDone(int g);
}

/// <summary>
/// A step-by-step scan split by columns across threads that never waits long for a late partner. A per-step barrier
/// would wait for a partner whose vCPU was taken away (another process on its core, the hypervisor) for
/// milliseconds, step after step, making two threads far slower than one. Here the calling thread (part 0) computes
/// its own columns of each step straight into the result; each partner computes its columns into scratch and
/// publishes them only if a compare-and-swap on its gate finds the step still its own. Part 0 waits for a partner
/// about as long as its own columns took, then takes the step back (the same compare-and-swap) and computes those
/// columns itself. A partner that lost a step sits out 1, 2, 4 … 64 steps, so a descheduled partner costs about one
/// wait per back-off period; the back-off carries over to the next job, since a descheduled partner stays so for longer
/// than many short scans. Whoever computes a column does the same arithmetic, so taking back never changes a bit.
/// <para>
/// Gate of part p: 2g = step g offered to p, 2g + 1 = p is publishing it, 2g + 2 = published, -1 = not offered or
/// taken back. <c>_ready</c>: every column of the steps before it is in the result, so that step may start.
/// </para>
/// </summary>
internal sealed class StepTakeBack
{
    private const int MaxBackOff = 64;
    private static readonly long MinPatienceTicks = Stopwatch.Frequency / 200_000;   // 5 µs

    private int[] _gates = [];
    private int _ready;
    // Per partner, kept from one job to the next (a descheduled partner stays so for milliseconds, longer than many
    // short scans): steps it sits out after its next loss, and steps it still sits out.
    private int[] _backOff = [], _sitOut = [];
    private readonly object _readyGate = new();

    // Tests: a partner sleeps this long before every step g with g % 7 == 3, as if its vCPU were taken away; and how
    // many steps part 0 has taken back so far in this process.
    internal static int TestPartnerStallMs;
    private static long s_stepsTakenBack;
    internal static long StepsTakenBack => Interlocked.Read(ref s_stepsTakenBack);

    /// <summary>Parts of the job being prepared or run.</summary>
    public int Parts { get; private set; }

    /// <summary>Part <paramref name="part"/>'s share [First, End) of <paramref name="count"/> column panels.</summary>
    public (int First, int End) Share(int part, int count) => (count * part / Parts, count * (part + 1) / Parts);

    /// <summary>Before the job's fork: step 0 offered to every partner, to start once <see cref="Lead{TJob}"/> does;
    /// each partner's scratch (the job's, indexed by part) grown to <paramref name="scratchElements"/>.</summary>
    public void Prepare<T>(int parts, ref T[][] scratch, int scratchElements)
    {
        Parts = parts;
        if (scratch.Length < parts)
            Array.Resize(ref scratch, parts);
        for (int p = 1; p < parts; p++)
            if ((scratch[p]?.Length ?? 0) < scratchElements)
                scratch[p] = new T[scratchElements];
        if (_gates.Length < parts)
        {
            int known = _gates.Length;
            _gates = new int[parts];
            Array.Resize(ref _backOff, parts);
            Array.Resize(ref _sitOut, parts);
            _backOff.AsSpan(known).Fill(1);
        }
        for (int p = 1; p < parts; p++)
            _gates[p] = _sitOut[p] > 0 ? -1 : 0;   // step 0 offered unless the partner still sits out
        _ready = -1;   // until Lead starts: part 0 may have work to do before step 0
    }

    /// <summary>Part 0: steps 0 … <paramref name="total"/> - 1, its own columns and every late partner's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Lead<TJob>(TJob job, int total, int parts) where TJob : ISteppedJob
    {
        int[] backOff = _backOff, sitOut = _sitOut;
        lock (_readyGate)
        {
            Volatile.Write(ref _ready, 0);
            Monitor.PulseAll(_readyGate);
        }
        for (int g = 0; g < total; g++)
        {
            long start = Stopwatch.GetTimestamp();
            job.ComputeStep(g, 0, direct: true);
            // A partner as fast as this thread is done by about now; wait that long again before taking its step.
            long patience = Math.Max(Stopwatch.GetTimestamp() - start, MinPatienceTicks);
            for (int p = 1; p < parts; p++)
            {
                bool offered = Volatile.Read(ref _gates[p]) != -1;
                if (offered && Collect(p, g, patience))
                {
                    backOff[p] = 1;
                    continue;
                }
                job.ComputeStep(g, p, direct: true);
                if (offered)
                {
                    Interlocked.Increment(ref s_stepsTakenBack);
                    sitOut[p] = backOff[p];
                    backOff[p] = Math.Min(2 * backOff[p], MaxBackOff);
                }
            }
            job.StepDone(g);
            // Offer the next step, then let it start.
            for (int p = 1; p < parts; p++)
            {
                if (sitOut[p] > 0)
                {
                    sitOut[p]--;
                    Volatile.Write(ref _gates[p], -1);
                }
                else
                    Volatile.Write(ref _gates[p], 2 * (g + 1));
            }
            lock (_readyGate)
            {
                Volatile.Write(ref _ready, g + 1);
                Monitor.PulseAll(_readyGate);
            }
        }
    }

    /// <summary>A partner: every step offered to it, into its scratch, published if still its own.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Follow<TJob>(TJob job, int part, int total) where TJob : ISteppedJob
    {
        int seen = -1;
        while (true)
        {
            int g = Volatile.Read(ref _ready);
            if (g == seen)
            {
                SpinThenBlock.WaitWhileEqual(ref _ready, seen, _readyGate);
                g = Volatile.Read(ref _ready);
            }
            seen = g;
            if (g >= total)
                return;
            if (Volatile.Read(ref _gates[part]) != 2 * g)
                continue;   // sitting out this step
            if (TestPartnerStallMs > 0 && g % 7 == 3)
                Thread.Sleep(TestPartnerStallMs);
            job.ComputeStep(g, part, direct: false);
            if (Interlocked.CompareExchange(ref _gates[part], 2 * g + 1, 2 * g) != 2 * g)
                continue;   // taken back meanwhile: part 0 wrote these columns itself
            job.PublishStep(g, part);
            Volatile.Write(ref _gates[part], 2 * g + 2);
        }
    }

    /// <summary>A part failed: partners waiting for a step leave.</summary>
    public void Abort()
    {
        lock (_readyGate)
        {
            Volatile.Write(ref _ready, int.MaxValue);
            Monitor.PulseAll(_readyGate);
        }
    }

    // Waits for partner p to publish step g; false when it took the step back instead (p's gate is then -1).
    private bool Collect(int p, int g, long patience)
    {
        long start = Stopwatch.GetTimestamp();
        while (Volatile.Read(ref _gates[p]) != 2 * g + 2)
        {
            if (Stopwatch.GetTimestamp() - start <= patience)
            {
                Thread.SpinWait(4);
                continue;
            }
            if (Interlocked.CompareExchange(ref _gates[p], -1, 2 * g) == 2 * g)
                return false;
            // Publishing (2g + 1): a copy of one step's columns, about to finish; wait it out.
            while (Volatile.Read(ref _gates[p]) != 2 * g + 2)
                Thread.SpinWait(4);
        }
        return true;
    }
}
