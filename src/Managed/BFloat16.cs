using System;
using System.Globalization;

namespace PaddedAttention;

/// <summary>
/// bfloat16: the upper 16 bits of an IEEE float (8 exponent bits, 7 mantissa
/// bits). Conversions from float round to nearest, ties to even; NaN stays NaN.
/// </summary>
public readonly struct BFloat16 : IEquatable<BFloat16>, IComparable<BFloat16>
{
    private readonly ushort _bits;

    private BFloat16(ushort bits, bool _) => _bits = bits;

    /// <summary>Rounds <paramref name="value"/> to the nearest bfloat16 (ties to even; NaN stays a quiet NaN of the same sign).</summary>
    /// <param name="value">The value to convert.</param>
    public BFloat16(float value) => _bits = RoundToBits(value);

    /// <summary>A quiet NaN.</summary>
    public static BFloat16 NaN { get; } = FromBits(0x7FC0);

    /// <summary>Positive infinity.</summary>
    public static BFloat16 PositiveInfinity { get; } = FromBits(0x7F80);

    /// <summary>Negative infinity.</summary>
    public static BFloat16 NegativeInfinity { get; } = FromBits(0xFF80);

    /// <summary>True for any NaN bit pattern.</summary>
    public bool IsNaN => (_bits & 0x7F80) == 0x7F80 && (_bits & 0x007F) != 0;

    /// <summary>The value with the given bit pattern.</summary>
    /// <param name="bits">The 16-bit pattern.</param>
    /// <returns>The bfloat16 with those bits.</returns>
    public static BFloat16 FromBits(ushort bits) => new(bits, false);

    /// <summary>The 16-bit pattern.</summary>
    /// <returns>The bits of this value.</returns>
    public ushort ToBits() => _bits;

    /// <summary>Rounds a float to bfloat16 (ties to even).</summary>
    /// <param name="value">The value to convert.</param>
    public static explicit operator BFloat16(float value) => new(value);

    /// <summary>Widens a bfloat16 to float (exact).</summary>
    /// <param name="value">The value to convert.</param>
    public static explicit operator float(BFloat16 value) => BitConverter.UInt32BitsToSingle((uint)value._bits << 16);

    /// <summary>IEEE equality: NaN equals nothing, +0 equals -0.</summary>
    /// <param name="left">First value.</param>
    /// <param name="right">Second value.</param>
    public static bool operator ==(BFloat16 left, BFloat16 right) => (float)left == (float)right;

    /// <summary>IEEE inequality: NaN differs from everything.</summary>
    /// <param name="left">First value.</param>
    /// <param name="right">Second value.</param>
    public static bool operator !=(BFloat16 left, BFloat16 right) => !(left == right);

    /// <summary>Value equality as <see cref="float.Equals(float)"/>: NaN equals NaN, +0 equals -0.</summary>
    /// <param name="other">The value to compare with.</param>
    /// <returns>Whether the values are equal.</returns>
    public bool Equals(BFloat16 other) => ((float)this).Equals((float)other);

    /// <summary>Value equality with a boxed <see cref="BFloat16"/>.</summary>
    /// <param name="obj">The object to compare with.</param>
    /// <returns>Whether <paramref name="obj"/> is an equal <see cref="BFloat16"/>.</returns>
    public override bool Equals(object? obj) => obj is BFloat16 other && Equals(other);

    /// <summary>A hash consistent with <see cref="Equals(BFloat16)"/>.</summary>
    /// <returns>The hash code.</returns>
    public override int GetHashCode() => ((float)this).GetHashCode();

    /// <summary>Orders as <see cref="float.CompareTo(float)"/> (NaN first).</summary>
    /// <param name="other">The value to compare with.</param>
    /// <returns>Negative, zero or positive.</returns>
    public int CompareTo(BFloat16 other) => ((float)this).CompareTo((float)other);

    /// <summary>The value as a float, in the invariant culture.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => ((float)this).ToString(CultureInfo.InvariantCulture);

    private static ushort RoundToBits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            // Keep sign and NaN-ness; truncation alone could give infinity.
            return (ushort)((bits >> 16) | 0x0040);
        }
        uint lsb = (bits >> 16) & 1;
        bits += 0x7FFFu + lsb; // overflow into the exponent rounds up to infinity, as it should
        return (ushort)(bits >> 16);
    }
}
