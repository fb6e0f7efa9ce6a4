using System.Runtime.ExceptionServices;

namespace ElmanRnn.Threading;

/// <summary>
/// A fixed team of background threads for fork-join inside one Forward call: part 0 runs on the caller, parts 1..n-1
/// on the workers. One job at a time: a caller that finds the team busy runs single-threaded instead (results are
/// identical either way). Threads are created on first use and block (after a bounded spin) while idle.
/// </summary>
internal sealed class WorkerTeam
{
    public static readonly WorkerTeam Shared = new(Environment.ProcessorCount - 1);

    private readonly object _gate = new();       // pulsed when a job is published and when the last part finishes
    private readonly Thread?[] _threads;
    private int _busy;                           // 1 while a caller owns the team
    private int _jobGeneration;
    private int _pending;                        // worker parts of the current job still running
    private ITeamJob? _job;
    private int _parts;
    private Exception? _failure;

    private WorkerTeam(int workers) => _threads = new Thread?[Math.Max(0, workers)];

    /// <summary>Most parts a job can have (workers + the caller).</summary>
    public int MaxParts => _threads.Length + 1;

    /// <summary>Claims the team for the calling Forward; false when another call holds it.</summary>
    public bool TryAcquire() => Interlocked.CompareExchange(ref _busy, 1, 0) == 0;

    public void Release() => Volatile.Write(ref _busy, 0);

    /// <summary>Runs <paramref name="parts"/> parts of <paramref name="job"/> and returns when all are done; the first
    /// exception of any part is rethrown here. The caller must hold the team (<see cref="TryAcquire"/>).</summary>
    public void Run(ITeamJob job, int parts)
    {
        parts = Math.Clamp(parts, 1, MaxParts);
        if (parts == 1)
        {
            job.Execute(0, 1);
            return;
        }
        int previous = Volatile.Read(ref _jobGeneration);
        for (int i = 1; i < parts; i++)
            EnsureStarted(i, previous);

        _job = job;
        _parts = parts;
        _failure = null;
        Volatile.Write(ref _pending, parts - 1);
        lock (_gate)
        {
            Interlocked.Increment(ref _jobGeneration);
            Monitor.PulseAll(_gate);
        }

        try
        {
            job.Execute(0, parts);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, e, null);
            job.Abort();
        }

        // Every worker part must have left the job before its pinned buffers go away.
        int pending;
        while ((pending = Volatile.Read(ref _pending)) != 0)
            SpinThenBlock.WaitWhileEqual(ref _pending, pending, _gate);
        _job = null;
        // The first failure is the real one: a part that fails records itself before it breaks the others' barrier.
        if (_failure is { } failure)
            ExceptionDispatchInfo.Capture(failure).Throw();
    }

    // A new worker waits for the first generation after `previous`, the one about to be published.
    private void EnsureStarted(int part, int previous)
    {
        if (_threads[part - 1] is null)
            StartWorker(part, previous);
    }

    // Apart from EnsureStarted because the lambda's closure is allocated on entry to the method that captures it:
    // here that happens once per worker, not on every Run.
    private void StartWorker(int part, int previous)
    {
        var thread = new Thread(() => WorkerLoop(part, previous)) { IsBackground = true, Name = $"ElmanRnn worker {part}" };
        _threads[part - 1] = thread;
        thread.Start();
    }

    private void WorkerLoop(int part, int seen)
    {
        while (true)
        {
            SpinThenBlock.WaitWhileEqual(ref _jobGeneration, seen, _gate);
            // No new job is published before this part has finished the current one, so this is exactly its generation.
            seen = Volatile.Read(ref _jobGeneration);
            ITeamJob? job = _job;
            int parts = _parts;
            if (job is null || part >= parts)
                continue;
            try
            {
                job.Execute(part, parts);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
                job.Abort();
            }
            if (Interlocked.Decrement(ref _pending) == 0)
                lock (_gate)
                    Monitor.PulseAll(_gate);
        }
    }
}
