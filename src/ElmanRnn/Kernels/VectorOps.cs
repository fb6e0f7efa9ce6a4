using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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

    /// <summary>a·b + addend with a single rounding, so every path computes the same chain per element.</summary>
    static abstract TVector MultiplyAdd(TVector a, TVector b, TVector addend);
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
        if (typeof(T) == typeof(float))
            return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException($"Element type {typeof(T)} is not supported; use float or double.");
    }
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
        if (typeof(T) == typeof(float))
            return Vector128.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector128.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException($"Element type {typeof(T)} is not supported; use float or double.");
    }
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
    public static T MultiplyAdd(T a, T b, T addend) => T.FusedMultiplyAdd(a, b, addend);
}

/// <summary>Which width this process runs at: decided once, from what the JIT reports as accelerated.</summary>
internal enum SimdPath { Scalar, Vector128, Vector256, Vector512 }

internal static class Simd
{
    public static readonly SimdPath Path =
        Vector512.IsHardwareAccelerated ? SimdPath.Vector512 :
        Vector256.IsHardwareAccelerated ? SimdPath.Vector256 :
        Vector128.IsHardwareAccelerated ? SimdPath.Vector128 :
        SimdPath.Scalar;

    /// <summary>Elements of T in one vector of the active path.</summary>
    public static int Width<T>() where T : unmanaged, IFloatingPointIeee754<T> => Path switch
    {
        SimdPath.Vector512 => Vector512<T>.Count,
        SimdPath.Vector256 => Vector256<T>.Count,
        SimdPath.Vector128 => Vector128<T>.Count,
        _ => 1,
    };
}
