using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ElmanRnn.Kernels;

/// <summary>
/// The handful of vector operations the kernels need, implemented once per width. Kernels are written once,
/// generic over an implementation of this interface; the JIT specialises every instantiation (all of them are
/// structs), so there is no dispatch cost in the inner loops.
/// </summary>
internal interface IVectorOps<TVector, T>
    where TVector : struct
    where T : unmanaged
{
    static abstract int Count { get; }
    static abstract TVector Load(ref T source);
    static abstract void Store(TVector value, ref T destination);
    static abstract TVector Broadcast(T value);

    /// <summary>a·b + addend: with a single rounding where the hardware fuses it (<see cref="Simd.HasFma"/>), else as a
    /// multiply and an add at full vector speed — never a software FMA, which is ~100× slower. Either way one fixed
    /// operation per path, so results stay bitwise independent of tiles, threads and batch composition.</summary>
    static abstract TVector MultiplyAdd(TVector a, TVector b, TVector addend);

    /// <summary>IEEE 754:2019 maximum: NaN in either operand gives NaN, as torch.relu does.</summary>
    static abstract TVector Max(TVector a, TVector b);

    static abstract TVector Add(TVector a, TVector b);

    static abstract TVector Subtract(TVector a, TVector b);

    static abstract TVector Multiply(TVector a, TVector b);

    static abstract TVector Divide(TVector a, TVector b);

    static abstract TVector Abs(TVector x);

    static abstract TVector CopySign(TVector magnitude, TVector sign);

    /// <summary>Per lane: the bits of x, read as an unsigned integer of the same width, shifted left by count (zeros
    /// shifted in) — how a float kernel builds 2ⁿ from an integer it holds in the low bits.</summary>
    static abstract TVector ShiftBitsLeft(TVector x, int count);

    /// <summary>Per lane: x &lt; limit ? below : otherwise.</summary>
    static abstract TVector SelectBelow(TVector x, TVector limit, TVector below, TVector otherwise);

    /// <summary>Per lane: x &lt;= limit ? atMost : otherwise (a NaN x takes otherwise).</summary>
    static abstract TVector SelectAtMost(TVector x, TVector limit, TVector atMost, TVector otherwise);
}

internal readonly struct Vector512Ops<T> : IVectorOps<Vector512<T>, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector512<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Load(ref T source) => Vector512.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<T> value, ref T destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Broadcast(T value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> MultiplyAdd(Vector512<T> a, Vector512<T> b, Vector512<T> addend)
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException($"Element type {typeof(T)} is not supported; use float or double.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Max(Vector512<T> a, Vector512<T> b) => Vector512.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Add(Vector512<T> a, Vector512<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Subtract(Vector512<T> a, Vector512<T> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Multiply(Vector512<T> a, Vector512<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Divide(Vector512<T> a, Vector512<T> b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Abs(Vector512<T> x) => Vector512.Abs(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> CopySign(Vector512<T> magnitude, Vector512<T> sign) => Vector512.CopySign(magnitude, sign);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> ShiftBitsLeft(Vector512<T> x, int count)
    {
        if (typeof(T) == typeof(float))
            return Vector512.ShiftLeft(x.AsUInt32(), count).As<uint, T>();
        if (typeof(T) == typeof(double))
            return Vector512.ShiftLeft(x.AsUInt64(), count).As<ulong, T>();
        throw new NotSupportedException($"Element type {typeof(T)} is not supported; use float or double.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> SelectBelow(Vector512<T> x, Vector512<T> limit, Vector512<T> below, Vector512<T> otherwise) =>
        Vector512.ConditionalSelect(Vector512.LessThan(x, limit), below, otherwise);

    public static Vector512<T> SelectAtMost(Vector512<T> x, Vector512<T> limit, Vector512<T> atMost, Vector512<T> otherwise) =>
        Vector512.ConditionalSelect(Vector512.LessThanOrEqual(x, limit), atMost, otherwise);
}

internal readonly struct Vector256Ops<T> : IVectorOps<Vector256<T>, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector256<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load(ref T source) => Vector256.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<T> value, ref T destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Broadcast(T value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MultiplyAdd(Vector256<T> a, Vector256<T> b, Vector256<T> addend)
    {
        if (!Fma.IsSupported)
            return a * b + addend;
        if (typeof(T) == typeof(float))
            return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException($"Element type {typeof(T)} is not supported; use float or double.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Max(Vector256<T> a, Vector256<T> b) => Vector256.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Add(Vector256<T> a, Vector256<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Subtract(Vector256<T> a, Vector256<T> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Multiply(Vector256<T> a, Vector256<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Divide(Vector256<T> a, Vector256<T> b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Abs(Vector256<T> x) => Vector256.Abs(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> CopySign(Vector256<T> magnitude, Vector256<T> sign) => Vector256.CopySign(magnitude, sign);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> ShiftBitsLeft(Vector256<T> x, int count)
    {
        if (typeof(T) == typeof(float))
            return Vector256.ShiftLeft(x.AsUInt32(), count).As<uint, T>();
        if (typeof(T) == typeof(double))
            return Vector256.ShiftLeft(x.AsUInt64(), count).As<ulong, T>();
        throw new NotSupportedException($"Element type {typeof(T)} is not supported; use float or double.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> SelectBelow(Vector256<T> x, Vector256<T> limit, Vector256<T> below, Vector256<T> otherwise) =>
        Vector256.ConditionalSelect(Vector256.LessThan(x, limit), below, otherwise);

    public static Vector256<T> SelectAtMost(Vector256<T> x, Vector256<T> limit, Vector256<T> atMost, Vector256<T> otherwise) =>
        Vector256.ConditionalSelect(Vector256.LessThanOrEqual(x, limit), atMost, otherwise);
}

internal readonly struct Vector128Ops<T> : IVectorOps<Vector128<T>, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector128<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Load(ref T source) => Vector128.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<T> value, ref T destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Broadcast(T value) => Vector128.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> MultiplyAdd(Vector128<T> a, Vector128<T> b, Vector128<T> addend)
    {
        if (!Fma.IsSupported && !AdvSimd.IsSupported)
            return a * b + addend;
        if (typeof(T) == typeof(float))
            return Vector128.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector128.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException($"Element type {typeof(T)} is not supported; use float or double.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Max(Vector128<T> a, Vector128<T> b) => Vector128.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Add(Vector128<T> a, Vector128<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Subtract(Vector128<T> a, Vector128<T> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Multiply(Vector128<T> a, Vector128<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Divide(Vector128<T> a, Vector128<T> b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Abs(Vector128<T> x) => Vector128.Abs(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> CopySign(Vector128<T> magnitude, Vector128<T> sign) => Vector128.CopySign(magnitude, sign);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> ShiftBitsLeft(Vector128<T> x, int count)
    {
        if (typeof(T) == typeof(float))
            return Vector128.ShiftLeft(x.AsUInt32(), count).As<uint, T>();
        if (typeof(T) == typeof(double))
            return Vector128.ShiftLeft(x.AsUInt64(), count).As<ulong, T>();
        throw new NotSupportedException($"Element type {typeof(T)} is not supported; use float or double.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> SelectBelow(Vector128<T> x, Vector128<T> limit, Vector128<T> below, Vector128<T> otherwise) =>
        Vector128.ConditionalSelect(Vector128.LessThan(x, limit), below, otherwise);

    public static Vector128<T> SelectAtMost(Vector128<T> x, Vector128<T> limit, Vector128<T> atMost, Vector128<T> otherwise) =>
        Vector128.ConditionalSelect(Vector128.LessThanOrEqual(x, limit), atMost, otherwise);
}

/// <summary>Width-1 fallback for machines (or runs with DOTNET_EnableHWIntrinsic=0) without SIMD.</summary>
internal readonly struct ScalarOps<T> : IVectorOps<T, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Load(ref T source) => source;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T value, ref T destination) => destination = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Broadcast(T value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T MultiplyAdd(T a, T b, T addend) =>
        Fma.IsSupported || AdvSimd.IsSupported ? T.FusedMultiplyAdd(a, b, addend) : a * b + addend;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Max(T a, T b) => T.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Add(T a, T b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Subtract(T a, T b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Multiply(T a, T b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Divide(T a, T b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Abs(T x) => T.Abs(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T CopySign(T magnitude, T sign) => T.CopySign(magnitude, sign);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T ShiftBitsLeft(T x, int count)
    {
        if (typeof(T) == typeof(float))
            return Unsafe.BitCast<uint, T>(Unsafe.BitCast<T, uint>(x) << count);
        if (typeof(T) == typeof(double))
            return Unsafe.BitCast<ulong, T>(Unsafe.BitCast<T, ulong>(x) << count);
        throw new NotSupportedException($"Element type {typeof(T)} is not supported; use float or double.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T SelectBelow(T x, T limit, T below, T otherwise) => x < limit ? below : otherwise;

    public static T SelectAtMost(T x, T limit, T atMost, T otherwise) => x <= limit ? atMost : otherwise;
}

/// <summary>Two registers of one path side by side, treated as one value by <see cref="PairOps{T, TV, TOps}"/>.</summary>
internal struct VectorPair<TV>(TV low, TV high) where TV : struct
{
    public TV Low = low, High = high;
}

/// <summary>
/// Every operation of <typeparamref name="TOps"/> applied to both halves of a <see cref="VectorPair{TV}"/>: a kernel
/// written once over <see cref="IVectorOps{TVector, T}"/> and instantiated with this runs two independent dependency
/// chains interleaved instruction by instruction, which the out-of-order core overlaps. Used for tanh, whose one
/// long chain per register left the FMA units idle half the time (on Zen 1, 38 → 33 cycles per 8 floats). Each lane
/// still meets exactly the same operations, so results are bitwise those of <typeparamref name="TOps"/> alone.
/// </summary>
internal readonly struct PairOps<T, TV, TOps> : IVectorOps<VectorPair<TV>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TV : struct
    where TOps : IVectorOps<TV, T>
{
    public static int Count => 2 * TOps.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VectorPair<TV> Load(ref T source) => new(TOps.Load(ref source), TOps.Load(ref Unsafe.Add(ref source, TOps.Count)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(VectorPair<TV> value, ref T destination)
    {
        TOps.Store(value.Low, ref destination);
        TOps.Store(value.High, ref Unsafe.Add(ref destination, TOps.Count));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VectorPair<TV> Broadcast(T value)
    {
        TV v = TOps.Broadcast(value);
        return new(v, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VectorPair<TV> MultiplyAdd(VectorPair<TV> a, VectorPair<TV> b, VectorPair<TV> addend) =>
        new(TOps.MultiplyAdd(a.Low, b.Low, addend.Low), TOps.MultiplyAdd(a.High, b.High, addend.High));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VectorPair<TV> Max(VectorPair<TV> a, VectorPair<TV> b) => new(TOps.Max(a.Low, b.Low), TOps.Max(a.High, b.High));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VectorPair<TV> Add(VectorPair<TV> a, VectorPair<TV> b) => new(TOps.Add(a.Low, b.Low), TOps.Add(a.High, b.High));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VectorPair<TV> Subtract(VectorPair<TV> a, VectorPair<TV> b) =>
        new(TOps.Subtract(a.Low, b.Low), TOps.Subtract(a.High, b.High));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VectorPair<TV> Multiply(VectorPair<TV> a, VectorPair<TV> b) =>
        new(TOps.Multiply(a.Low, b.Low), TOps.Multiply(a.High, b.High));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VectorPair<TV> Divide(VectorPair<TV> a, VectorPair<TV> b) => new(TOps.Divide(a.Low, b.Low), TOps.Divide(a.High, b.High));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VectorPair<TV> Abs(VectorPair<TV> x) => new(TOps.Abs(x.Low), TOps.Abs(x.High));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VectorPair<TV> CopySign(VectorPair<TV> magnitude, VectorPair<TV> sign) =>
        new(TOps.CopySign(magnitude.Low, sign.Low), TOps.CopySign(magnitude.High, sign.High));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VectorPair<TV> ShiftBitsLeft(VectorPair<TV> x, int count) =>
        new(TOps.ShiftBitsLeft(x.Low, count), TOps.ShiftBitsLeft(x.High, count));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VectorPair<TV> SelectBelow(VectorPair<TV> x, VectorPair<TV> limit, VectorPair<TV> below, VectorPair<TV> otherwise) =>
        new(TOps.SelectBelow(x.Low, limit.Low, below.Low, otherwise.Low), TOps.SelectBelow(x.High, limit.High, below.High, otherwise.High));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VectorPair<TV> SelectAtMost(VectorPair<TV> x, VectorPair<TV> limit, VectorPair<TV> atMost, VectorPair<TV> otherwise) =>
        new(TOps.SelectAtMost(x.Low, limit.Low, atMost.Low, otherwise.Low), TOps.SelectAtMost(x.High, limit.High, atMost.High, otherwise.High));
}
