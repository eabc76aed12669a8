using System;
using System.Globalization;

namespace PaddedAttention;

/// <summary>
/// bfloat16: the upper 16 bits of an IEEE float (8 exponent bits, 7 mantissa
/// bits). Conversions from float, double and Half round to nearest, ties to
/// even (from double in one rounding, not through float); NaN stays NaN.
/// Conversions to float and double are exact. Comparison operators follow IEEE
/// (NaN is unordered); <see cref="CompareTo(BFloat16)"/> and
/// <see cref="Equals(BFloat16)"/> follow <see cref="float"/> (NaN first, NaN equals NaN).
/// </summary>
public readonly struct BFloat16 : IEquatable<BFloat16>, IComparable<BFloat16>, IComparable, ISpanFormattable
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

    /// <summary>Rounds a double to bfloat16 in one step (ties to even).</summary>
    /// <param name="value">The value to convert.</param>
    public static explicit operator BFloat16(double value) => FromDouble(value);

    /// <summary>Widens a bfloat16 to double (exact).</summary>
    /// <param name="value">The value to convert.</param>
    public static explicit operator double(BFloat16 value) => (float)value;

    /// <summary>Rounds a Half to bfloat16 (ties to even; Half's subnormals and range fit, its extra mantissa bits are rounded).</summary>
    /// <param name="value">The value to convert.</param>
    public static explicit operator BFloat16(Half value) => new((float)value);

    /// <summary>Rounds a bfloat16 to Half (ties to even; beyond 65504 gives infinity).</summary>
    /// <param name="value">The value to convert.</param>
    public static explicit operator Half(BFloat16 value) => (Half)(float)value;

    /// <summary>Rounds a float to bfloat16 (the named form of the conversion operator).</summary>
    /// <param name="value">The value to convert.</param>
    /// <returns>The nearest bfloat16.</returns>
    public static BFloat16 FromSingle(float value) => new(value);

    /// <summary>Rounds a double to bfloat16 in one step: round to float with the sticky bit kept ("round to odd"), then to bfloat16.</summary>
    /// <param name="value">The value to convert.</param>
    /// <returns>The nearest bfloat16 (ties to even).</returns>
    public static BFloat16 FromDouble(double value)
    {
        float rounded = (float)value;
        if (double.IsNaN(value) || float.IsInfinity(rounded) || rounded == value)
        {
            return new BFloat16(rounded);
        }
        // Inexact: take the float truncated toward zero and set its lowest bit,
        // so that the second rounding sees "more than the truncation" and
        // cannot round a value that was not a tie as if it were one.
        uint bits = BitConverter.SingleToUInt32Bits(rounded);
        if (Math.Abs((double)rounded) > Math.Abs(value))
        {
            bits -= 1; // one step toward zero (same sign, magnitude bits)
        }
        return new BFloat16(BitConverter.UInt32BitsToSingle(bits | 1));
    }

    /// <summary>Rounds a Half to bfloat16 (the named form of the conversion operator).</summary>
    /// <param name="value">The value to convert.</param>
    /// <returns>The nearest bfloat16.</returns>
    public static BFloat16 FromHalf(Half value) => (BFloat16)value;

    /// <summary>The value as a float (exact).</summary>
    /// <returns>The float.</returns>
    public float ToSingle() => (float)this;

    /// <summary>The value as a double (exact).</summary>
    /// <returns>The double.</returns>
    public double ToDouble() => (float)this;

    /// <summary>The value rounded to Half.</summary>
    /// <returns>The nearest Half.</returns>
    public Half ToHalf() => (Half)this;

    /// <summary>IEEE less-than: false when either is NaN.</summary>
    /// <param name="left">First value.</param>
    /// <param name="right">Second value.</param>
    public static bool operator <(BFloat16 left, BFloat16 right) => (float)left < (float)right;

    /// <summary>IEEE greater-than: false when either is NaN.</summary>
    /// <param name="left">First value.</param>
    /// <param name="right">Second value.</param>
    public static bool operator >(BFloat16 left, BFloat16 right) => (float)left > (float)right;

    /// <summary>IEEE less-or-equal: false when either is NaN.</summary>
    /// <param name="left">First value.</param>
    /// <param name="right">Second value.</param>
    public static bool operator <=(BFloat16 left, BFloat16 right) => (float)left <= (float)right;

    /// <summary>IEEE greater-or-equal: false when either is NaN.</summary>
    /// <param name="left">First value.</param>
    /// <param name="right">Second value.</param>
    public static bool operator >=(BFloat16 left, BFloat16 right) => (float)left >= (float)right;

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

    /// <summary>Orders as <see cref="CompareTo(BFloat16)"/>; null sorts first.</summary>
    /// <param name="obj">A <see cref="BFloat16"/> or null.</param>
    /// <returns>Negative, zero or positive.</returns>
    /// <exception cref="ArgumentException"><paramref name="obj"/> is not a <see cref="BFloat16"/>.</exception>
    public int CompareTo(object? obj) => obj switch
    {
        null => 1,
        BFloat16 other => CompareTo(other),
        _ => throw new ArgumentException("The object is not a BFloat16.", nameof(obj)),
    };

    /// <summary>The value as a float, in the invariant culture (the shortest text that reads back as the same float).</summary>
    /// <returns>The text.</returns>
    public override string ToString() => ((float)this).ToString(CultureInfo.InvariantCulture);

    /// <summary>The value formatted as a float.</summary>
    /// <param name="format">A float format string ("G", "F3", "E2", ...), or null.</param>
    /// <param name="formatProvider">The culture; null for the current one.</param>
    /// <returns>The text.</returns>
    public string ToString(string? format, IFormatProvider? formatProvider) => ((float)this).ToString(format, formatProvider);

    /// <summary>Formats the value as a float into <paramref name="destination"/>.</summary>
    /// <param name="destination">Where to write.</param>
    /// <param name="charsWritten">Characters written.</param>
    /// <param name="format">A float format string, or empty.</param>
    /// <param name="provider">The culture; null for the current one.</param>
    /// <returns>False when <paramref name="destination"/> is too short.</returns>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        ((float)this).TryFormat(destination, out charsWritten, format, provider);

    /// <summary>Parses a number (as <see cref="double.Parse(string, IFormatProvider)"/>) and rounds it to bfloat16.</summary>
    /// <param name="s">The text, e.g. "1.5", "-inf", "NaN".</param>
    /// <param name="provider">The culture; null for the current one.</param>
    /// <returns>The nearest bfloat16.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="s"/> is null.</exception>
    /// <exception cref="FormatException"><paramref name="s"/> is not a number.</exception>
    public static BFloat16 Parse(string s, IFormatProvider? provider = null)
    {
        ArgumentNullException.ThrowIfNull(s);
        return FromDouble(double.Parse(s, NumberStyles.Float | NumberStyles.AllowThousands, provider));
    }

    /// <summary>Parses a number and rounds it to bfloat16; false (and zero) when the text is not a number.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">The culture; null for the current one.</param>
    /// <param name="result">The nearest bfloat16.</param>
    /// <returns>Whether <paramref name="s"/> was a number.</returns>
    public static bool TryParse(ReadOnlySpan<char> s, IFormatProvider? provider, out BFloat16 result)
    {
        bool parsed = double.TryParse(s, NumberStyles.Float | NumberStyles.AllowThousands, provider, out double value);
        result = parsed ? FromDouble(value) : default;
        return parsed;
    }

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
