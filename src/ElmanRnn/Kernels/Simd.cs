using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ElmanRnn.Kernels;

/// <summary>What this machine offers the kernels, decided once per process: the vector width and whether FMA is real.</summary>
internal static class Simd
{
    public static readonly SimdPath Path =
        Vector512.IsHardwareAccelerated ? SimdPath.Vector512 :
        Vector256.IsHardwareAccelerated ? SimdPath.Vector256 :
        Vector128.IsHardwareAccelerated ? SimdPath.Vector128 :
        SimdPath.Scalar;

    /// <summary>
    /// Whether multiply-add is fused in hardware (x64 FMA3, ARM64 AdvSimd). Where it is not — x64 without FMA, or a
    /// NativeAOT app published for the default x64 target — the kernels multiply and add separately.
    /// </summary>
    public static bool HasFma => Fma.IsSupported || AdvSimd.IsSupported;

    /// <summary>Elements of T in one vector of the active path.</summary>
    public static int Width<T>() where T : unmanaged, IFloatingPointIeee754<T> => Path switch
    {
        SimdPath.Vector512 => Vector512<T>.Count,
        SimdPath.Vector256 => Vector256<T>.Count,
        SimdPath.Vector128 => Vector128<T>.Count,
        _ => 1,
    };
}
