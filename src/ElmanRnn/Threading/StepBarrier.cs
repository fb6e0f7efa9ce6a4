namespace ElmanRnn.Threading;

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
