using System.Diagnostics;

namespace ElmanRnn.Threading;

/// <summary>
/// Waiting policy for the team's handoffs: spin briefly (a step of work is often only microseconds, far less than a
/// futex wake-up), then block. The spin is bounded in time because these vCPUs can be time-sliced away: a thread
/// spinning for a descheduled partner would otherwise burn the very core that partner needs.
/// </summary>
internal static class SpinThenBlock
{
    private static readonly long SpinTicks = Stopwatch.Frequency / 20_000;   // 50 µs

    /// <summary>Spins until <paramref name="location"/> differs from <paramref name="value"/> or the spin budget is
    /// spent; true when it changed.</summary>
    public static bool SpinWhileEqual(ref int location, int value)
    {
        long start = Stopwatch.GetTimestamp();
        while (Volatile.Read(ref location) == value)
        {
            if (Stopwatch.GetTimestamp() - start > SpinTicks)
                return false;
            Thread.SpinWait(8);
        }
        return true;
    }

    /// <summary>Waits until <paramref name="location"/> differs from <paramref name="value"/>: spin, then block on
    /// <paramref name="gate"/> (whoever changes the location must pulse it under the lock).</summary>
    public static void WaitWhileEqual(ref int location, int value, object gate)
    {
        if (SpinWhileEqual(ref location, value))
            return;
        lock (gate)
        {
            while (Volatile.Read(ref location) == value)
                Monitor.Wait(gate);
        }
    }
}

/// <summary>A reusable barrier for the parts of one job (e.g. after every time step), spin-then-block.</summary>
internal sealed class StepBarrier
{
    private readonly object _gate = new();
    private int _participants;
    private int _remaining;
    private int _generation;
    private volatile bool _broken;

    /// <summary>Prepares the barrier for a job of <paramref name="participants"/> parts.</summary>
    public void Reset(int participants)
    {
        _participants = participants;
        _remaining = participants;
        _broken = false;
    }

    /// <summary>Arrives and waits for every other part. Throws when another part failed (see <see cref="Break"/>),
    /// so no part waits forever for one that will never come.</summary>
    public void SignalAndWait()
    {
        if (_participants == 1)
            return;
        int generation = Volatile.Read(ref _generation);
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _remaining = _participants;
            lock (_gate)
            {
                Interlocked.Increment(ref _generation);
                Monitor.PulseAll(_gate);
            }
        }
        else
        {
            SpinThenBlock.WaitWhileEqual(ref _generation, generation, _gate);
        }
        if (_broken)
            throw new OperationCanceledException("Another part of this parallel job failed.");
    }

    /// <summary>Releases every waiting part with an exception; used when a part fails.</summary>
    public void Break()
    {
        _broken = true;
        lock (_gate)
        {
            Interlocked.Increment(ref _generation);
            Monitor.PulseAll(_gate);
        }
    }
}
