using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ElmanRnn.Kernels;

/// <summary>
/// φ on one register, used by the GEMM's epilogue and for rows that need φ alone. Every element of a run goes through
/// this same function whatever its position, tile or thread, which keeps results bitwise independent of batch size
/// and thread count.
/// </summary>
internal static class Activations
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<T, TV, TOps>(TV x, Activation activation)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T> => activation switch
        {
            Activation.Tanh => Tanh<T, TV, TOps>(x),
            Activation.Relu => TOps.Max(x, TOps.Broadcast(T.Zero)),
            _ => x,
        };

    /// <summary>
    /// tanh after Cephes (Moshier): for |x| &lt; 0.625 the odd rational (double) / polynomial (float) approximation
    /// x + x·z·R(z), z = x², which keeps full relative accuracy near 0; beyond, sign(x)·(1 − 2/(e^{2|x|} + 1)), which
    /// saturates to ±1 as e^{2|x|} overflows. NaN propagates through both branches.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Tanh<T, TV, TOps>(TV x)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        TV one = TOps.Broadcast(T.One);
        TV ax = TOps.Abs(x);
        TV e = TOps.Exp(TOps.Add(ax, ax));
        TV large = TOps.CopySign(TOps.Subtract(one, TOps.Divide(TOps.Broadcast(T.CreateTruncating(2.0)), TOps.Add(e, one))), x);

        TV z = TOps.Multiply(x, x), small;
        if (typeof(T) == typeof(float))
        {
            TV poly = TOps.MultiplyAdd(TOps.Broadcast(T.CreateTruncating(-5.70498872745E-3)), z, TOps.Broadcast(T.CreateTruncating(2.06390887954E-2)));
            poly = TOps.MultiplyAdd(poly, z, TOps.Broadcast(T.CreateTruncating(-5.37397155531E-2)));
            poly = TOps.MultiplyAdd(poly, z, TOps.Broadcast(T.CreateTruncating(1.33314422036E-1)));
            poly = TOps.MultiplyAdd(poly, z, TOps.Broadcast(T.CreateTruncating(-3.33332819422E-1)));
            small = TOps.MultiplyAdd(TOps.Multiply(poly, z), x, x);
        }
        else
        {
            TV p = TOps.MultiplyAdd(TOps.Broadcast(T.CreateTruncating(-9.64399179425052238628E-1)), z, TOps.Broadcast(T.CreateTruncating(-9.92877231001918586564E1)));
            p = TOps.MultiplyAdd(p, z, TOps.Broadcast(T.CreateTruncating(-1.61468768441708447952E3)));
            TV q = TOps.Add(z, TOps.Broadcast(T.CreateTruncating(1.12811678491632931402E2)));
            q = TOps.MultiplyAdd(q, z, TOps.Broadcast(T.CreateTruncating(2.23548839060100448583E3)));
            q = TOps.MultiplyAdd(q, z, TOps.Broadcast(T.CreateTruncating(4.84406305325125486048E3)));
            small = TOps.MultiplyAdd(TOps.Divide(TOps.Multiply(z, p), q), x, x);
        }
        return TOps.SelectBelow(ax, TOps.Broadcast(T.CreateTruncating(0.625)), small, large);
    }

    /// <summary>x ← φ(x) in place, for rows whose pre-activation needs no GEMM (a zero initial state).</summary>
    public static void Apply<T>(Span<T> x, Activation activation) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (activation == Activation.Identity)
            return;
        switch (Simd.Path)
        {
            case SimdPath.Vector512: Apply<T, Vector512<T>, Vector512Ops<T>>(x, activation); break;
            case SimdPath.Vector256: Apply<T, Vector256<T>, Vector256Ops<T>>(x, activation); break;
            case SimdPath.Vector128: Apply<T, Vector128<T>, Vector128Ops<T>>(x, activation); break;
            default: Apply<T, T, ScalarOps<T>>(x, activation); break;
        }
    }

    private static void Apply<T, TV, TOps>(Span<T> x, Activation activation)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        int w = TOps.Count, i = 0;
        ref T r = ref MemoryMarshal.GetReference(x);
        for (; i + w <= x.Length; i += w)
            TOps.Store(Apply<T, TV, TOps>(TOps.Load(ref Unsafe.Add(ref r, i)), activation), ref Unsafe.Add(ref r, i));
        if (i == x.Length)
            return;
        // Tail through a whole-vector buffer, so these elements meet exactly the same function as all others.
        Span<T> tail = stackalloc T[w];
        tail.Clear();
        x[i..].CopyTo(tail);
        ref T t = ref MemoryMarshal.GetReference(tail);
        TOps.Store(Apply<T, TV, TOps>(TOps.Load(ref t), activation), ref t);
        tail[..(x.Length - i)].CopyTo(x[i..]);
    }
    /// <summary>
    /// The backward of φ from its output y alone: grad ← grad ⊙ φ′, with ATen's formulas and order of operations —
    /// tanh_backward grad·(1 − y·y) (a multiply, a subtract, a multiply: never fused), threshold_backward
    /// (y ≤ 0 ? 0 : grad, so a NaN y passes grad through).
    /// </summary>
    /// <param name="grad">(n) d(loss)/d(y) in, d(loss)/d(pre-activation) out.</param>
    /// <param name="y">(n) φ's outputs.</param>
    /// <param name="activation">φ: Tanh or Relu.</param>
    public static void MultiplyByDerivative<T>(Span<T> grad, ReadOnlySpan<T> y, Activation activation)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (y.Length != grad.Length)
            throw new InvalidOperationException($"Derivative operands differ in length: {grad.Length} and {y.Length}.");
        if (activation == Activation.Identity)
            return;
        switch (Simd.Path)
        {
            case SimdPath.Vector512: MultiplyByDerivative<T, Vector512<T>, Vector512Ops<T>>(grad, y, activation); break;
            case SimdPath.Vector256: MultiplyByDerivative<T, Vector256<T>, Vector256Ops<T>>(grad, y, activation); break;
            case SimdPath.Vector128: MultiplyByDerivative<T, Vector128<T>, Vector128Ops<T>>(grad, y, activation); break;
            default: MultiplyByDerivative<T, T, ScalarOps<T>>(grad, y, activation); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyByDerivative<T, TV, TOps>(Span<T> grad, ReadOnlySpan<T> y, Activation activation)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        int w = TOps.Count, i = 0, n = grad.Length;
        ref T g = ref MemoryMarshal.GetReference(grad);
        ref T s = ref MemoryMarshal.GetReference(y);
        TV one = TOps.Broadcast(T.One), zero = TOps.Broadcast(T.Zero);
        bool relu = activation == Activation.Relu;
        for (; i + w <= n; i += w)
        {
            TV gv = TOps.Load(ref Unsafe.Add(ref g, i)), yv = TOps.Load(ref Unsafe.Add(ref s, i));
            gv = relu ? TOps.SelectAtMost(yv, zero, zero, gv) : TOps.Multiply(gv, TOps.Subtract(one, TOps.Multiply(yv, yv)));
            TOps.Store(gv, ref Unsafe.Add(ref g, i));
        }
        // The tail element by element: the same operations, one lane at a time.
        for (; i < n; i++)
        {
            T yi = Unsafe.Add(ref s, i);
            ref T gi = ref Unsafe.Add(ref g, i);
            gi = relu ? (yi <= T.Zero ? T.Zero : gi) : gi * (T.One - yi * yi);
        }
    }
}
