namespace ElmanRnn.Serialization;

/// <summary>The on-disk element types both formats can hand us; every one converts to float or double.</summary>
internal enum ElementType { F64, F32, F16, BF16, I64, I32, I16, I8, U8 }
