using System;
using PaddedAttention.Interop;

namespace PaddedAttention.Internal;

/// <summary>The element type of T, decided once per T.</summary>
internal static class ElementTypeOf<T> where T : unmanaged
{
    private static readonly ElementType? s_value =
        typeof(T) == typeof(float) ? ElementType.Float32
        : typeof(T) == typeof(Half) ? ElementType.Float16
        : typeof(T) == typeof(BFloat16) ? ElementType.BFloat16
        : typeof(T) == typeof(int) ? ElementType.Int32
        : null;

    /// <summary>The element type; NotSupportedException for any T but float, Half, BFloat16 and int.</summary>
    public static ElementType Value =>
        s_value ?? throw new NotSupportedException(
            $"Element type {typeof(T).FullName} is not supported; use float, System.Half, PaddedAttention.BFloat16 or int.");

    public static PattnDtype Dtype => (PattnDtype)(int)Value;
}
