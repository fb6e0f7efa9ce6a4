namespace ElmanRnn.Kernels;

/// <summary>The elementwise function applied to each tile of C once its last K block is done.</summary>
internal enum Activation { Identity, Tanh, Relu }
