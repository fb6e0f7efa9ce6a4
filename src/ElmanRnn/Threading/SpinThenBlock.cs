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
