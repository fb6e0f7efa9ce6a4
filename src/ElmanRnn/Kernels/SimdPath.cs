namespace ElmanRnn.Kernels;

/// <summary>Which width this process runs at: decided once, from what the JIT reports as accelerated.</summary>
internal enum SimdPath { Scalar, Vector128, Vector256, Vector512 }
