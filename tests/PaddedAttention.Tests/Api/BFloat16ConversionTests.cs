using System.Globalization;
using PaddedAttention.Tests.Reference;

namespace PaddedAttention.Tests.Api;

/// <summary>BFloat16 from/to double and Half, comparison operators, parsing and formatting.</summary>
[TestClass]
public sealed class BFloat16ConversionTests
{
    // Independent reference: the nearest bfloat16 to x by exhaustive comparison
    // of the two neighbours (exact in double: every bfloat16 is a double).
    private static ushort NearestBits(double x)
    {
        if (double.IsNaN(x)) return 0x7FC0;
        float f = (float)x; // only to find the neighbourhood
        ushort truncated = (ushort)(BitConverter.SingleToUInt32Bits(f) >> 16);
        ushort best = truncated;
        double bestError = double.PositiveInfinity;
        for (int delta = -2; delta <= 2; delta++)
        {
            int bits = truncated + delta;
            if (bits < 0 || bits > 0xFFFF) continue;
            double candidate = ElementConversions.BFloat16BitsToFloat((ushort)bits);
            if (double.IsNaN(candidate)) continue;
            if (Math.Sign(candidate) != Math.Sign(x) && candidate != 0) continue;
            double error = Math.Abs(candidate - x);
            if (double.IsInfinity(candidate) && !double.IsInfinity(x))
                error = Math.Abs(x) >= 3.3961775292304408e38 ? 0 : double.PositiveInfinity; // halfway past the largest finite
            if (error < bestError || (error == bestError && (bits & 1) == 0)) { best = (ushort)bits; bestError = error; }
        }
        return best;
    }

    [TestMethod]
    public void FromDouble_RoundsOnce_ToTheNearestEven()
    {
        var rng = new Random(77);
        for (int i = 0; i < 100_000; i++)
        {
            double x = (rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-130, 128));
            Assert.AreEqual(NearestBits(x), ((BFloat16)x).ToBits(), $"{x:R}");
        }
        // Just above a bfloat16 tie, but rounding to float first lands exactly on the tie (double rounding would go to even, down).
        double justAboveTie = 1.00390625 + Math.Pow(2, -40);
        Assert.AreEqual((ushort)0x3F81, ((BFloat16)justAboveTie).ToBits());
        Assert.AreEqual((ushort)0x3F80, ((BFloat16)1.00390625).ToBits());
        Assert.AreEqual((ushort)0x8000, ((BFloat16)(-0.0)).ToBits());
        Assert.IsTrue(((BFloat16)double.NaN).IsNaN);
        Assert.AreEqual(BFloat16.PositiveInfinity.ToBits(), ((BFloat16)1e300).ToBits());
        double oneAndAHalf = 1.5;
        double back = (double)(BFloat16)oneAndAHalf;
        Assert.AreEqual(oneAndAHalf, back);
        Assert.AreEqual(oneAndAHalf, BFloat16.FromDouble(oneAndAHalf).ToDouble());
    }

    [TestMethod]
    public void Half_RoundTripsThroughBFloat16WhereItFits()
    {
        Half twoAndAHalf = (Half)2.5f;
        Half roundTripped = (Half)(BFloat16)twoAndAHalf;
        Assert.AreEqual(twoAndAHalf, roundTripped);
        Assert.AreEqual((ushort)0x3F80, ((BFloat16)(Half)1.0f).ToBits());
        Assert.AreEqual(Half.PositiveInfinity, (Half)(BFloat16)70000f);
        // Half has 10 mantissa bits, bfloat16 7: 1 + 2^-8 + 2^-10 rounds to 1 + 2^-7.
        Assert.AreEqual(1.0078125f, (float)BFloat16.FromHalf((Half)(1f + 1f / 256 + 1f / 1024)));
        Assert.AreEqual((Half)0.5f, BFloat16.FromSingle(0.5f).ToHalf());
    }

    [TestMethod]
    public void ComparisonOperators_FollowIeee_CompareToOrdersNaNFirst()
    {
        var one = (BFloat16)1f;
        var two = (BFloat16)2f;
        var alsoOne = BFloat16.FromBits(one.ToBits());
        Assert.IsTrue(one < two && two > one && one <= alsoOne && one >= alsoOne && two >= one);
        Assert.IsFalse(one > two || two < one);
        Assert.IsFalse(BFloat16.NaN < one || BFloat16.NaN > one || BFloat16.NaN <= one || BFloat16.NaN >= one);
        var sorted = new[] { two, BFloat16.NaN, one, BFloat16.NegativeInfinity }.Order().ToArray();
        Assert.IsTrue(sorted[0].IsNaN);
        Assert.AreEqual(BFloat16.NegativeInfinity, sorted[1]);
        Assert.AreEqual(1, one.CompareTo((object?)null));
        Assert.AreEqual(0, one.CompareTo((object)one));
        Assert.ThrowsExactly<ArgumentException>(() => one.CompareTo((object)1f));
    }

    [TestMethod]
    public void ParseAndFormat_UseTheCulture()
    {
        Assert.AreEqual((ushort)0x3FC0, BFloat16.Parse("1.5", CultureInfo.InvariantCulture).ToBits());
        Assert.AreEqual((ushort)0x3FC0, BFloat16.Parse("1,5", new NumberFormatInfo { NumberDecimalSeparator = ",", NumberGroupSeparator = "." }).ToBits());
        Assert.IsTrue(BFloat16.TryParse("-3.140625", CultureInfo.InvariantCulture, out var pi));
        Assert.AreEqual(-3.140625f, (float)pi);
        Assert.IsFalse(BFloat16.TryParse("pi", CultureInfo.InvariantCulture, out var none));
        Assert.AreEqual(default, none);
        Assert.ThrowsExactly<FormatException>(() => BFloat16.Parse("x"));
        Assert.AreEqual("1.50", ((BFloat16)1.5f).ToString("F2", CultureInfo.InvariantCulture));
        Assert.AreEqual("1.5", $"{(BFloat16)1.5f}".Replace(',', '.'));
        Span<char> text = stackalloc char[8];
        Assert.IsTrue(((BFloat16)0.25f).TryFormat(text, out int written, "G", CultureInfo.InvariantCulture));
        Assert.AreEqual("0.25", text[..written].ToString());
    }
}
