namespace ElmanRnn.Cli;

/// <summary>
/// The adding problem (Hochreiter &amp; Schmidhuber 1997, in the form of Le, Jaitly &amp; Hinton 2015): each sequence
/// has L steps of two channels. Channel 0 holds values drawn from U[0, 1); channel 1 is 1 at exactly two steps and 0
/// elsewhere: one step uniform in the first half [0, ⌊L/2⌋), the other uniform in the second half [⌊L/2⌋, L). The
/// target is the sum of the two marked values. It is in [0, 2) with mean 1 and variance 2/12, so always predicting 1
/// scores a mean squared error of 1/6 ≈ 0.167.
/// </summary>
internal static class AddingProblem
{
    /// <summary>Input channels: the value and the marker.</summary>
    public const int InputSize = 2;

    /// <summary>The mean squared error of always predicting the mean target 1: the variance of a sum of two U[0, 1).</summary>
    public const double TrivialMse = 1.0 / 6;

    /// <summary>
    /// Fills <paramref name="x"/> and <paramref name="y"/> with <paramref name="batch"/> fresh sequences. Each sequence
    /// draws, in this order, its L values, its first marked step, then its second.
    /// </summary>
    /// <param name="random">The source; the same seed gives the same sequences.</param>
    /// <param name="steps">L, at least 2 (one step per half).</param>
    /// <param name="batch">N, at least 1.</param>
    /// <param name="x">x: (L, N, 2) time-major, every element overwritten.</param>
    /// <param name="y">y: (N) targets.</param>
    public static void Fill(Random random, int steps, int batch, Span<float> x, Span<float> y)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (x.Length != steps * batch * InputSize)
            throw new ArgumentException($"Expected x of {steps} × {batch} × {InputSize} = {steps * batch * InputSize} elements, got {x.Length}.", nameof(x));
        if (y.Length != batch)
            throw new ArgumentException($"Expected y of {batch} elements, got {y.Length}.", nameof(y));

        int half = steps / 2;
        for (int n = 0; n < batch; n++)
        {
            for (int t = 0; t < steps; t++)
            {
                int at = (t * batch + n) * InputSize;
                x[at] = random.NextSingle();
                x[at + 1] = 0;
            }
            int first = random.Next(0, half), second = random.Next(half, steps);
            x[(first * batch + n) * InputSize + 1] = 1;
            x[(second * batch + n) * InputSize + 1] = 1;
            y[n] = x[(first * batch + n) * InputSize] + x[(second * batch + n) * InputSize];
        }
    }
}
