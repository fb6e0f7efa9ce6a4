using System.Runtime.CompilerServices;

// The kernels' stack scratch buffers are cleared where their contents matter; zeroing every one on every call
// (each GEMM call, i.e. every time step) is measurable overhead at batch 1.
[module: SkipLocalsInit]
