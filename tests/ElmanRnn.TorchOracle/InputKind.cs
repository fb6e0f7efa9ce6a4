namespace ElmanRnn.TorchOracle;

/// <summary>The four ways torch.nn.RNN receives its input.</summary>
internal enum InputKind
{
    /// <summary>Batched <c>(N, L, I)</c> with <c>batch_first=True</c>.</summary>
    BatchFirst,
    /// <summary>Batched <c>(L, N, I)</c> with <c>batch_first=False</c>.</summary>
    TimeMajor,
    /// <summary>Unbatched <c>(L, I)</c>.</summary>
    Unbatched,
    /// <summary>A PackedSequence built from a padded time-major <c>(T, N, I)</c> tensor and unsorted lengths
    /// (<c>pack_padded_sequence(..., enforce_sorted=False)</c>).</summary>
    Packed,
}
