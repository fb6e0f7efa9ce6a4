namespace ElmanRnn.Serialization;

/// <summary>
/// What <c>torch._utils._rebuild_tensor_v2</c> would build: a view of <see cref="Storage"/> starting at element
/// <see cref="Offset"/> with the given size and stride (in elements). Validated to lie inside the storage.
/// </summary>
internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride)
{
    public long ElementCount => Size.Aggregate(1L, (count, length) => count * length);
}
