using System.Runtime.CompilerServices;

namespace PaddedAttention.Tests.Reference;

/// <summary>
/// Conversions between the element types the tests feed the library and double,
/// written independently of the library's BFloat16 (only its bit constructor is
/// used), so that a rounding bug there cannot hide in the reference.
/// </summary>
public static class ElementConversions
{
    /// <summary>float → bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN.</summary>
    public static ushort FloatToBFloat16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        uint lsb = (bits >> 16) & 1;
        uint rounded = bits + 0x7FFFu + lsb;
        return (ushort)(rounded >> 16);
    }

    /// <summary>bfloat16 bits → float (exact).</summary>
    public static float BFloat16BitsToFloat(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>The element type tag of T, as the library names it.</summary>
    public static ElementType TypeOf<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return ElementType.Float32;
        if (typeof(T) == typeof(Half)) return ElementType.Float16;
        if (typeof(T) == typeof(BFloat16)) return ElementType.BFloat16;
        if (typeof(T) == typeof(int)) return ElementType.Int32;
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>Rounds a float to T.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T FromFloat<T>(float value) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Unsafe.As<float, T>(ref value);
        if (typeof(T) == typeof(Half)) { Half h = (Half)value; return Unsafe.As<Half, T>(ref h); }
        if (typeof(T) == typeof(BFloat16)) { BFloat16 b = BFloat16.FromBits(FloatToBFloat16Bits(value)); return Unsafe.As<BFloat16, T>(ref b); }
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>T → double (exact for every element type).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToDouble<T>(T value) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Unsafe.As<T, float>(ref value);
        if (typeof(T) == typeof(Half)) return (double)Unsafe.As<T, Half>(ref value);
        if (typeof(T) == typeof(BFloat16)) return BFloat16BitsToFloat(Unsafe.As<T, BFloat16>(ref value).ToBits());
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>Rounds every value to T.</summary>
    public static T[] FromFloats<T>(ReadOnlySpan<float> values) where T : unmanaged
    {
        var result = new T[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = FromFloat<T>(values[i]);
        return result;
    }

    /// <summary>Every value as double.</summary>
    public static double[] ToDoubles<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = ToDouble(values[i]);
        return result;
    }

    /// <summary>A NaN of T (used to poison outputs and to fill padding).</summary>
    public static T NaN<T>() where T : unmanaged => FromFloat<T>(float.NaN);

    /// <summary>+Inf of T.</summary>
    public static T PositiveInfinity<T>() where T : unmanaged => FromFloat<T>(float.PositiveInfinity);
}
