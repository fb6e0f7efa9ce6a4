namespace ElmanRnn.Serialization;

/// <summary>A storage record of a torch.save archive: <c>data/{Key}</c> holds <see cref="Length"/> elements of <see cref="Type"/>.</summary>
internal sealed record StorageRef(string Key, ElementType Type, long Length);
