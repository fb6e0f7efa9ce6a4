namespace ElmanRnn.Tests.Serialization;

/// <summary>One tensor as torch pickles it: a view (offset, size, stride, in elements) of storage <c>Key</c>.</summary>
internal sealed record PickledTensor(string Name, string StorageClass, string Key, long StorageLength, long Offset, long[] Size, long[] Stride);
