namespace ElmanRnn.Layout;

/// <summary>Where <see cref="PackedSequence.Pad"/> puts the padding of sequences shorter than the longest one
/// (PyTorch's <c>padding_side</c>).</summary>
public enum PaddingSide
{
    /// <summary>Sequences start at time step 0; padding follows them. PyTorch's <c>'right'</c>, the default.</summary>
    Right,

    /// <summary>Sequences end at the last time step; padding precedes them. PyTorch's <c>'left'</c>.</summary>
    Left,
}
