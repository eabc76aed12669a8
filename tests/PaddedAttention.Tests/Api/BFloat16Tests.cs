using PaddedAttention.Tests.Reference;

namespace PaddedAttention.Tests.Api;

/// <summary>The library's BFloat16 against the tests' own conversion and hand-picked values.</summary>
[TestClass]
public sealed class BFloat16Tests
{
    [TestMethod]
    public void RoundsToNearestEven_LikeTheReferenceConversion()
    {
        var rng = new Random(11);
        for (int i = 0; i < 200_000; i++)
        {
            float f = BitConverter.Int32BitsToSingle(rng.Next(int.MinValue, int.MaxValue));
            ushort expected = ElementConversions.FloatToBFloat16Bits(f);
            ushort actual = new BFloat16(f).ToBits();
            if (float.IsNaN(f))
                Assert.IsTrue(float.IsNaN((float)BFloat16.FromBits(actual)), $"NaN {f:R} became {actual:X4}");
            else
                Assert.AreEqual(expected, actual, $"{f:R} (bits {BitConverter.SingleToUInt32Bits(f):X8})");
        }
    }

    [TestMethod]
    [DataRow(1.0f, (ushort)0x3F80)]
    [DataRow(-2.0f, (ushort)0xC000)]
    [DataRow(0.0f, (ushort)0x0000)]
    [DataRow(-0.0f, (ushort)0x8000)]
    [DataRow(1.00390625f, (ushort)0x3F80)]   // halfway between 0x3F80 and 0x3F81: ties to even (down)
    [DataRow(1.01171875f, (ushort)0x3F82)]   // halfway between 0x3F81 and 0x3F82: ties to even (up)
    [DataRow(1.0039064f, (ushort)0x3F81)]    // just above halfway: up
    [DataRow(float.PositiveInfinity, (ushort)0x7F80)]
    [DataRow(float.NegativeInfinity, (ushort)0xFF80)]
    [DataRow(3.4028235e38f, (ushort)0x7F80)] // float.MaxValue rounds to +inf
    [DataRow(1e-40f, (ushort)0x0001)]        // subnormal: 1e-40 / 2^-133 = 1.09 → 1
    public void KnownValues(float value, ushort bits)
    {
        Assert.AreEqual(bits, ((BFloat16)value).ToBits());
    }

    [TestMethod]
    public void Specials_RoundTrip_AndCompare()
    {
        Assert.IsTrue(float.IsNaN((float)BFloat16.NaN));
        Assert.IsTrue(float.IsNaN((float)(BFloat16)float.NaN));
        Assert.AreEqual(float.PositiveInfinity, (float)BFloat16.PositiveInfinity);
        Assert.AreEqual(float.NegativeInfinity, (float)BFloat16.NegativeInfinity);
        Assert.IsTrue((BFloat16)1.5f == (BFloat16)1.5f);
        Assert.IsTrue((BFloat16)1.5f != (BFloat16)2.5f);
        Assert.IsTrue(((BFloat16)1.5f).CompareTo((BFloat16)2.5f) < 0);
        Assert.AreEqual("1.5", ((BFloat16)1.5f).ToString());
        for (int bits = 0; bits < 0x10000; bits++)
        {
            var b = BFloat16.FromBits((ushort)bits);
            float f = (float)b;
            if (!float.IsNaN(f)) Assert.AreEqual((ushort)bits, new BFloat16(f).ToBits(), "every bf16 value is exact in float");
        }
    }
}
