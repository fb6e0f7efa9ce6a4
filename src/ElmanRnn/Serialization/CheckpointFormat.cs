namespace ElmanRnn.Serialization;

/// <summary>What a checkpoint's first bytes say it is (<see cref="RnnCheckpoint.DetectFormat"/>).</summary>
internal enum CheckpointFormat
{
    /// <summary>A zip archive: torch.save's format since PyTorch 1.6.</summary>
    TorchSave,

    /// <summary>torch.save's pre-1.6 pickle stream (or <c>_use_new_zipfile_serialization=False</c>); not supported.</summary>
    LegacyTorchSave,

    /// <summary>Anything else, which can only be safetensors (whose first bytes are a length, not a magic number).</summary>
    SafeTensors,
}
