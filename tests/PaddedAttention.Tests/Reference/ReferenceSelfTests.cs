namespace PaddedAttention.Tests.Reference;

/// <summary>
/// The reference itself, checked on cases small enough to work out by hand, so that a
/// wrong mask rule in the reference cannot agree with the same mistake in the library.
/// </summary>
[TestClass]
public sealed class ReferenceSelfTests
{
    static readonly AttentionReference.Shape OneHeadD2 = new(1, 3, 3, 1, 1, 2);

    // Keys are scaled so that scores are easy: q = (1, 0), keys k_j = (j, 0) for real keys,
    // values v_j = (10 j, 1).
    static (double[] q, double[] k, double[] v) Simple(AttentionReference.Shape s)
    {
        var q = new double[s.QElements];
        var k = new double[s.KvElements];
        var v = new double[s.KvElements];
        for (int r = 0; r < s.QLen; r++) q[r * 2] = 1;
        for (int c = 0; c < s.KvLen; c++) { k[c * 2] = c; v[c * 2] = 10 * c; v[c * 2 + 1] = 1; }
        return (q, k, v);
    }

    static double Softmax1D(double[] scores, double[] values)
    {
        double max = scores.Max(), sum = scores.Sum(x => Math.Exp(x - max));
        return scores.Select((x, i) => Math.Exp(x - max) / sum * values[i]).Sum();
    }

    [TestMethod]
    public void SingleVisibleKey_GivesItsValue_AndLseIsTheScore()
    {
        var s = OneHeadD2;
        var (q, k, v) = Simple(s);
        // Causal, full lengths: query 0 sees key 0 only.
        var r = AttentionReference.Prefill(s, q, k, v, null, null, MaskMode.CausalPaddedRight, scale: 1.0);
        Assert.AreEqual(0.0, r.O[0], 1e-12);
        Assert.AreEqual(1.0, r.O[1], 1e-12);
        Assert.AreEqual(0.0, r.Lse[0], 1e-12); // ln(exp(1 * 0))
    }

    [TestMethod]
    public void CausalIsBottomRightAligned_WhenKvExceedsQ()
    {
        // q_len 2, kv_len 3, full rows: query 0 sees keys 0..1, query 1 sees keys 0..2.
        var s = new AttentionReference.Shape(1, 2, 3, 1, 1, 2);
        var (q, k, v) = Simple(s);
        var r = AttentionReference.Prefill(s, q, k, v, new[] { 2 }, new[] { 3 }, MaskMode.CausalPaddedRight, scale: 1.0);
        Assert.AreEqual(Softmax1D(new double[] { 0, 1 }, new double[] { 0, 10 }), r.O[0], 1e-12);
        Assert.AreEqual(Softmax1D(new double[] { 0, 1, 2 }, new double[] { 0, 10, 20 }), r.O[2], 1e-12);
        Assert.AreEqual(Math.Log(1 + Math.E), r.Lse[0], 1e-12);
    }

    [TestMethod]
    public void CausalRowThatSeesNoKey_IsZeroWithMinusInfinityLse()
    {
        // qv = 3, kv = 1, right padding: query i sees j <= i - 2, so queries 0 and 1 see nothing.
        var s = OneHeadD2;
        var (q, k, v) = Simple(s);
        var r = AttentionReference.Prefill(s, q, k, v, new[] { 3 }, new[] { 1 }, MaskMode.CausalPaddedRight, scale: 1.0);
        Assert.IsTrue(double.IsNegativeInfinity(r.Lse[0]));
        Assert.IsTrue(double.IsNegativeInfinity(r.Lse[1]));
        Assert.AreEqual(0.0, r.O[0]);
        Assert.AreEqual(0.0, r.O[2]);
        Assert.AreEqual(0.0, r.O[4]); // key 0 has value (0, 1)
        Assert.AreEqual(1.0, r.O[5]);
    }

    [TestMethod]
    public void LeftPadding_PutsRealRowsAtTheEnd()
    {
        // qv = kv = 2 of 3, left padded, causal: row 0 is padding; row 1 (i = 0) sees key row 1 only,
        // row 2 (i = 1) sees key rows 1 and 2. Key row 0 is padding and never seen.
        var s = OneHeadD2;
        var (q, k, v) = Simple(s);
        var r = AttentionReference.Prefill(s, q, k, v, new[] { 2 }, null, MaskMode.CausalPaddedLeft, scale: 1.0);
        Assert.IsTrue(double.IsNegativeInfinity(r.Lse[0]));
        Assert.AreEqual(0.0, r.O[0]);
        Assert.AreEqual(10.0, r.O[2], 1e-12);
        Assert.AreEqual(Softmax1D(new double[] { 1, 2 }, new double[] { 10, 20 }), r.O[4], 1e-12);

        // Bidirectional left padding: every real row sees key rows 1 and 2.
        var b = AttentionReference.Prefill(s, q, k, v, new[] { 2 }, null, MaskMode.PaddedLeft, scale: 1.0);
        Assert.AreEqual(Softmax1D(new double[] { 1, 2 }, new double[] { 10, 20 }), b.O[2], 1e-12);
        Assert.IsTrue(double.IsNegativeInfinity(b.Lse[0]));
    }

    [TestMethod]
    public void GroupedQueryHeads_ReadTheirSharedKvHead()
    {
        // 4 query heads, 2 KV heads: heads 0,1 read KV head 0 and heads 2,3 read KV head 1.
        var s = new AttentionReference.Shape(1, 1, 1, 4, 2, 1);
        var q = new double[] { 1, 1, 1, 1 };
        var k = new double[] { 1, 1 };
        var v = new double[] { 5, -7 };
        var r = AttentionReference.Prefill(s, q, k, v, null, null, MaskMode.Padded);
        CollectionAssert.AreEqual(new double[] { 5, 5, -7, -7 }, r.O);
    }

    [TestMethod]
    public void DefaultScaleIsOneOverSqrtHeadDim()
    {
        var s = new AttentionReference.Shape(1, 1, 2, 1, 1, 4);
        var q = new double[] { 1, 1, 1, 1 };
        var k = new double[] { 1, 0, 0, 0, 0, 0, 0, 0 };
        var v = new double[] { 1, 0, 0, 0, 0, 1, 0, 0 };
        var r = AttentionReference.Prefill(s, q, k, v, null, null, MaskMode.Padded);
        // scores 0.5 and 0: weights e^0.5 / (e^0.5 + 1) and 1 / (e^0.5 + 1).
        double w0 = Math.Exp(0.5) / (Math.Exp(0.5) + 1);
        Assert.AreEqual(w0, r.O[0], 1e-12);
        Assert.AreEqual(1 - w0, r.O[1], 1e-12);
        Assert.AreEqual(Math.Log(Math.Exp(0.5) + 1), r.Lse[0], 1e-12);
    }

    [TestMethod]
    public void Decode_LeftPaddedCache_SeesTheLastKvKeys_Causally()
    {
        // cache 4, kv = 3, left padding: real keys at rows 1..3; q_len 2: query 0 sees j <= 0 + 3 - 2 = 1
        // (rows 1, 2), query 1 sees all three.
        var s = new AttentionReference.Shape(1, 2, 4, 1, 1, 2);
        var q = new double[] { 1, 0, 1, 0 };
        var k = new double[] { double.NaN, double.NaN, 1, 0, 2, 0, 3, 0 };
        var v = new double[] { double.NaN, double.NaN, 10, 1, 20, 1, 30, 1 };
        var r = AttentionReference.Decode(s, q, k, v, new[] { 3 }, PaddingSide.Left, scale: 1.0);
        Assert.AreEqual(Softmax1D(new double[] { 1, 2 }, new double[] { 10, 20 }), r.O[0], 1e-12);
        Assert.AreEqual(Softmax1D(new double[] { 1, 2, 3 }, new double[] { 10, 20, 30 }), r.O[2], 1e-12);
    }

    [TestMethod]
    public void MergeState_IsTheUnion_AndHandlesMinusInfinity()
    {
        double[] a = { 1, 2 }, b = { 3, -4 };
        double[] o = AttentionReference.MergeState(a, Math.Log(1), b, Math.Log(3), out double lse);
        Assert.AreEqual(Math.Log(4), lse, 1e-12);
        Assert.AreEqual((1 * 1 + 3 * 3) / 4.0, o[0], 1e-12);
        o = AttentionReference.MergeState(a, double.NegativeInfinity, b, 0.5, out lse);
        Assert.AreEqual(0.5, lse, 1e-12);
        CollectionAssert.AreEqual(b, o);
        o = AttentionReference.MergeState(a, double.NegativeInfinity, b, double.NegativeInfinity, out lse);
        Assert.IsTrue(double.IsNegativeInfinity(lse));
        CollectionAssert.AreEqual(new double[] { 0, 0 }, o);
    }

    [TestMethod]
    public void ErrorHelpers_FlagNaN_UnwrittenPadding_AndInfiniteLseMismatch()
    {
        Assert.IsTrue(double.IsNaN(AttentionReference.RowRelativeError(new[] { double.NaN, 0 }, new[] { 1.0, 0 }, 0, 2)));
        Assert.IsTrue(double.IsPositiveInfinity(AttentionReference.RowRelativeError(new[] { 1e-30, 0 }, new[] { 0.0, 0 }, 0, 2)));
        Assert.AreEqual(0.0, AttentionReference.RowRelativeError(new[] { 0.0, 0 }, new[] { 0.0, 0 }, 0, 2));
        Assert.IsTrue(AttentionReference.MaxLseError(new[] { 0f }, new[] { double.NegativeInfinity }, out _) > 1);
        Assert.IsTrue(double.IsNaN(AttentionReference.MaxLseError(new[] { float.NaN }, new[] { 1.0 }, out _)));
    }
}
