namespace ElmanRnn.Threading;

/// <summary>One part of a fork-join job; the parts together do the whole job.</summary>
internal interface ITeamJob
{
    /// <summary>Does part <paramref name="part"/> of <paramref name="parts"/>.</summary>
    void Execute(int part, int parts);

    /// <summary>Called when some part threw, so parts waiting on it are released (e.g. a barrier broken).</summary>
    void Abort();
}
