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
    /// tanh|x| = −u / (2 + u) with u = expm1(−2|x|), then the sign of x: one exponential, one division and no branch
    /// between formulas. expm1 keeps full relative accuracy as |x| → 0 (u ≈ −2|x| carries no cancellation), and every
    /// step after u is a correctly rounded operation that is monotonic in u, so tanh is monotonic as long as u is
    /// (checked on every float; the tests sweep a dense subset and every float near the points where n changes).
    /// expm1(v) = 2ⁿ·expm1(r) + (2ⁿ − 1) with v = n·ln 2 + r, |r| ≤ ln 2 / 2 (Cody–Waite reduction with ln 2 split in
    /// two, so n·ln2Hi is exact), expm1(r) by its Taylor series to r⁷ (float) / r¹³ (double), whose truncation error is
    /// 2e-8 / 1e-17 relative. |x| is clamped where tanh already rounds to 1 (9.5 float, 20 double), which keeps 2ⁿ a
    /// normal number; ±∞ gives ±1, ±0 gives ±0 and NaN propagates. Measured against Math.Tanh, with and without FMA: ≤
    /// 1.8e-7 relative over every float; ≤ 5e-16 in double on a dense random sample.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Tanh<T, TV, TOps>(TV x)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        bool isFloat = typeof(T) == typeof(float);
        TV one = TOps.Broadcast(T.One);
        TV limit = Constant<T, TV, TOps>(isFloat ? 9.5 : 20.0);
        TV ax = TOps.Abs(x);
        // limit < |x| ? limit : |x|, so that a NaN (every comparison false) passes through.
        TV v = TOps.Multiply(TOps.SelectBelow(limit, ax, limit, ax), Constant<T, TV, TOps>(-2.0));

        // n = round(v / ln 2): adding 1.5·2^mantissaBits rounds v·log2(e) to an integer in the low bits, which already
        // hold n + exponentBias; shifting them into the exponent field makes 2ⁿ.
        int mantissaBits = isFloat ? 23 : 52;
        TV shifter = Constant<T, TV, TOps>(isFloat ? 1.5 * (1 << 23) + 127 : 1.5 * (1L << 52) + 1023);
        TV shifted = TOps.MultiplyAdd(v, Constant<T, TV, TOps>(1.4426950408889634), shifter);
        TV n = TOps.Subtract(shifted, shifter);
        TV r = TOps.MultiplyAdd(n, Constant<T, TV, TOps>(isFloat ? -0.693359375 : -6.93147180369123816490e-01), v);
        r = TOps.MultiplyAdd(n, Constant<T, TV, TOps>(isFloat ? 2.12194440054690583e-4 : -1.90821492927058770002e-10), r);

        // expm1(r) = r + r²·(1/2! + r/3! + r²/4! + …)
        TV q;
        if (isFloat)
        {
            q = TOps.MultiplyAdd(Constant<T, TV, TOps>(1.0 / 5040), r, Constant<T, TV, TOps>(1.0 / 720));
            q = TOps.MultiplyAdd(q, r, Constant<T, TV, TOps>(1.0 / 120));
        }
        else
        {
            q = TOps.MultiplyAdd(Constant<T, TV, TOps>(1.0 / 6227020800), r, Constant<T, TV, TOps>(1.0 / 479001600));
            q = TOps.MultiplyAdd(q, r, Constant<T, TV, TOps>(1.0 / 39916800));
            q = TOps.MultiplyAdd(q, r, Constant<T, TV, TOps>(1.0 / 3628800));
            q = TOps.MultiplyAdd(q, r, Constant<T, TV, TOps>(1.0 / 362880));
            q = TOps.MultiplyAdd(q, r, Constant<T, TV, TOps>(1.0 / 40320));
            q = TOps.MultiplyAdd(q, r, Constant<T, TV, TOps>(1.0 / 5040));
            q = TOps.MultiplyAdd(q, r, Constant<T, TV, TOps>(1.0 / 720));
            q = TOps.MultiplyAdd(q, r, Constant<T, TV, TOps>(1.0 / 120));
        }
        q = TOps.MultiplyAdd(q, r, Constant<T, TV, TOps>(1.0 / 24));
        q = TOps.MultiplyAdd(q, r, Constant<T, TV, TOps>(1.0 / 6));
        q = TOps.MultiplyAdd(q, r, Constant<T, TV, TOps>(0.5));
        TV expm1R = TOps.MultiplyAdd(TOps.Multiply(r, r), q, r);

        TV pow2N = TOps.ShiftBitsLeft(shifted, mantissaBits);
        TV u = TOps.MultiplyAdd(pow2N, expm1R, TOps.Subtract(pow2N, one));
        return TOps.CopySign(TOps.Divide(u, TOps.Subtract(Constant<T, TV, TOps>(-2.0), u)), x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Constant<T, TV, TOps>(double value)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T> => TOps.Broadcast(T.CreateTruncating(value));

    /// <summary>x ← φ(x) in place: the GEMM epilogue's function over a whole span, vector pairs first as there. The
    /// kernel tests sweep φ through it (every float, for tanh); the library itself applies φ in <see cref="Gemm"/>.</summary>
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
        // Vector pairs (two interleaved chains, PairOps), then one vector: the same function on every lane either way.
        for (; i + 2 * w <= x.Length; i += 2 * w)
        {
            ref T pair = ref Unsafe.Add(ref r, i);
            PairOps<T, TV, TOps>.Store(
                Apply<T, VectorPair<TV>, PairOps<T, TV, TOps>>(PairOps<T, TV, TOps>.Load(ref pair), activation), ref pair);
        }
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
    /// <param name="sum">Empty, or (n) the result is added to (sum += grad), in the same pass: the backward's
    /// per-step bias sum over a step's rows, taken while the row is in registers.</param>
    public static void MultiplyByDerivative<T>(Span<T> grad, ReadOnlySpan<T> y, Activation activation, Span<T> sum = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (y.Length != grad.Length || !sum.IsEmpty && sum.Length != grad.Length)
            throw new InvalidOperationException(
                $"Derivative operands differ in length: {grad.Length}, {y.Length} and (sum) {sum.Length}.");
        switch (Simd.Path)
        {
            case SimdPath.Vector512: MultiplyByDerivative<T, Vector512<T>, Vector512Ops<T>>(grad, y, activation, sum); break;
            case SimdPath.Vector256: MultiplyByDerivative<T, Vector256<T>, Vector256Ops<T>>(grad, y, activation, sum); break;
            case SimdPath.Vector128: MultiplyByDerivative<T, Vector128<T>, Vector128Ops<T>>(grad, y, activation, sum); break;
            default: MultiplyByDerivative<T, T, ScalarOps<T>>(grad, y, activation, sum); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyByDerivative<T, TV, TOps>(Span<T> grad, ReadOnlySpan<T> y, Activation activation, Span<T> sum)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TOps : IVectorOps<TV, T>
    {
        int w = TOps.Count, i = 0, n = grad.Length;
        ref T g = ref MemoryMarshal.GetReference(grad);
        ref T s = ref MemoryMarshal.GetReference(y);
        ref T total = ref MemoryMarshal.GetReference(sum);
        TV one = TOps.Broadcast(T.One), zero = TOps.Broadcast(T.Zero);
        bool relu = activation == Activation.Relu, identity = activation == Activation.Identity, add = !sum.IsEmpty;
        for (; i + w <= n; i += w)
        {
            TV gv = TOps.Load(ref Unsafe.Add(ref g, i)), yv = TOps.Load(ref Unsafe.Add(ref s, i));
            if (!identity)
            {
                gv = relu ? TOps.SelectAtMost(yv, zero, zero, gv) : TOps.Multiply(gv, TOps.Subtract(one, TOps.Multiply(yv, yv)));
                TOps.Store(gv, ref Unsafe.Add(ref g, i));
            }
            if (add)
                TOps.Store(TOps.Add(TOps.Load(ref Unsafe.Add(ref total, i)), gv), ref Unsafe.Add(ref total, i));
        }
        // The tail element by element: the same operations, one lane at a time.
        for (; i < n; i++)
        {
            T yi = Unsafe.Add(ref s, i);
            ref T gi = ref Unsafe.Add(ref g, i);
            if (!identity)
                gi = relu ? (yi <= T.Zero ? T.Zero : gi) : gi * (T.One - yi * yi);
            if (add)
                Unsafe.Add(ref total, i) += gi;
        }
    }
}
