using System.Numerics.Tensors;
using PaddedAttention.Tests.Reference;
using static PaddedAttention.Tests.Reference.AttentionReference;

namespace PaddedAttention.Tests.Api;

/// <summary>
/// CPU tensors over managed memory (arrays, Memory&lt;T&gt; slices) and the
/// TensorSpan overload: the results match the float64 reference, the arrays are
/// read and written in place, and nothing stays pinned after the call.
/// </summary>
[TestClass]
public sealed class HostViewTests
{
    private static (float[] Q, float[] K, float[] V) RandomInputs(Shape s, int seed)
    {
        var rng = new Random(seed);
        float[] Fill(long n) { var a = new float[n]; for (long i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1); return a; }
        return (Fill(s.QElements), Fill(s.KvElements), Fill(s.KvElements));
    }

    private static double[] D(float[] a) => Array.ConvertAll(a, x => (double)x);

    private static void AssertMatchesReference(Shape s, float[] q, float[] k, float[] v, int[] lens, float[] o, MaskMode mode)
    {
        var expected = Prefill(s, D(q), D(k), D(v), lens, null, mode);
        double error = MaxRowRelativeError(D(o), expected.O, s.HeadDim, out long row);
        Assert.IsTrue(error < RowTolerance(ElementType.Float32), $"row {row}: relative error {error:E3}");
    }

    [TestMethod]
    public void ArrayViews_PrefillInPlace_MatchesReference()
    {
        var s = new Shape(3, 37, 37, 4, 2, 64);
        var (q, k, v) = RandomInputs(s, 101);
        int[] lens = { 37, 0, 19 };
        // Padding keys hold NaN: they must not leak.
        for (int h = 0; h < s.NumKvHeads * s.HeadDim; h++) k[(2L * 37 + 36) * s.NumKvHeads * s.HeadDim + h] = float.NaN;
        var o = new float[s.QElements];
        Array.Fill(o, float.NaN);
        using (var qt = DeviceTensor<float>.FromArray(q, 3, 37, 4, 64))
        using (var kt = DeviceTensor<float>.FromArray(k, 3, 37, 2, 64))
        using (var vt = DeviceTensor<float>.FromArray(v, 3, 37, 2, 64))
        using (var ot = DeviceTensor<float>.FromArray(o, 3, 37, 4, 64))
        {
            Assert.AreEqual(Device.Cpu, qt.Device);
            Attention.SequencePrefill(qt, kt, vt, ot, lens, MaskMode.CausalPaddedRight);
            Assert.ThrowsExactly<InvalidOperationException>(() => _ = ot.Buffer.Pointer);
        }
        AssertMatchesReference(s, q, k, v, lens, o, MaskMode.CausalPaddedRight);
    }

    [TestMethod]
    public void MemorySlice_WithOffsetAndStrides_ReadsAndWritesOnlyTheView()
    {
        // q, k, v packed in one array as [batch, seq, 3, heads, d]; the output goes into the middle of a larger array.
        var s = new Shape(2, 9, 9, 2, 2, 64);
        var (q, k, v) = RandomInputs(s, 202);
        long rowElements = 2 * 64;
        var packed = new float[2 * 9 * 3 * rowElements];
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 9; t++)
                for (int e = 0; e < rowElements; e++)
                {
                    long src = ((long)b * 9 + t) * rowElements + e;
                    long dst = (((long)b * 9 + t) * 3) * rowElements + e;
                    packed[dst] = q[src];
                    packed[dst + rowElements] = k[src];
                    packed[dst + 2 * rowElements] = v[src];
                }
        long[] strides = { 9 * 3 * rowElements, 3 * rowElements, 64, 1 };
        var outer = new float[s.QElements + 100];
        Array.Fill(outer, -7f);
        Memory<float> outputMemory = outer.AsMemory(50, (int)s.QElements);
        int[] lens = { 4, 9 };
        using (var qt = DeviceTensor<float>.FromMemory(packed, new long[] { 2, 9, 2, 64 }, strides))
        using (var kt = DeviceTensor<float>.FromMemory(packed, new long[] { 2, 9, 2, 64 }, strides, rowElements))
        using (var vt = DeviceTensor<float>.FromMemory(packed, new long[] { 2, 9, 2, 64 }, strides, 2 * rowElements))
        using (var ot = DeviceTensor<float>.FromMemory(outputMemory, new long[] { 2, 9, 2, 64 }))
        {
            Attention.SequencePrefill(qt, kt, vt, ot, lens, MaskMode.PaddedLeft);
        }
        for (int i = 0; i < 50; i++)
        {
            Assert.AreEqual(-7f, outer[i]);
            Assert.AreEqual(-7f, outer[outer.Length - 1 - i]);
        }
        AssertMatchesReference(s, q, k, v, lens, outer[50..^50], MaskMode.PaddedLeft);
    }

    [TestMethod]
    public void MemoryView_OutsideTheMemory_IsRejected()
    {
        var data = new float[100];
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DeviceTensor<float>.FromMemory(data, new long[] { 2, 51 }));
        Assert.AreEqual("shape", error.ParamName);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DeviceTensor<float>.FromMemory(data, new long[] { 10, 10 }, null, 1));
        Assert.ThrowsExactly<ArgumentNullException>(() => DeviceTensor<float>.FromArray(null!, 1));
    }

    [TestMethod]
    public void BufferOverArray_CopiesAndFills_InPlace()
    {
        var data = new int[] { 1, 2, 3, 4 };
        using var buffer = DeviceBuffer<int>.FromMemory(data);
        Assert.IsFalse(buffer.IsOwner);
        buffer.CopyFrom(new[] { 9, 8 }, 1);
        CollectionAssert.AreEqual(new[] { 1, 9, 8, 4 }, data);
        CollectionAssert.AreEqual(new[] { 1, 9, 8, 4 }, buffer.ToArray());
        buffer.FillBytes(0);
        CollectionAssert.AreEqual(new[] { 0, 0, 0, 0 }, data);
    }

    [TestMethod]
    public void LengthsBufferOverArray_IsCheckedAndUsed()
    {
        var s = new Shape(2, 5, 5, 1, 1, 64);
        var (q, k, v) = RandomInputs(s, 303);
        var o = new float[s.QElements];
        int[] lens = { 5, 2 };
        using var qt = DeviceTensor<float>.FromArray(q, 2, 5, 1, 64);
        using var kt = DeviceTensor<float>.FromArray(k, 2, 5, 1, 64);
        using var vt = DeviceTensor<float>.FromArray(v, 2, 5, 1, 64);
        using var ot = DeviceTensor<float>.FromArray(o, 2, 5, 1, 64);
        using var lensBuffer = DeviceBuffer<int>.FromMemory(lens);
        Attention.SequencePrefill(qt, kt, vt, ot, lensBuffer, null, MaskMode.Padded);
        AssertMatchesReference(s, q, k, v, lens, o, MaskMode.Padded);
        lens[1] = 6;
        var error = Assert.ThrowsExactly<PaddedAttentionArgumentException>(() => Attention.SequencePrefill(qt, kt, vt, ot, lensBuffer, null, MaskMode.Padded));
        Assert.AreEqual("qValidLens", error.ParamName);
    }

    [TestMethod]
    public void TensorSpans_PrefillWithSeparateKvLengthsAndStridedLse_MatchesReference()
    {
        var s = new Shape(2, 6, 11, 4, 1, 64);
        var (q, k, v) = RandomInputs(s, 404);
        int[] qLens = { 6, 3 }, kvLens = { 11, 5 };
        var o = new float[s.QElements];
        Array.Fill(o, float.NaN);
        // lse stored [batch, heads, q_len] and viewed as [batch, q_len, heads]: non-unit last stride.
        var lseStore = new float[2 * 4 * 6];
        Array.Fill(lseStore, float.NaN);
        var qs = new ReadOnlyTensorSpan<float>(q, new nint[] { 2, 6, 4, 64 });
        var ks = new ReadOnlyTensorSpan<float>(k, new nint[] { 2, 11, 1, 64 });
        var vs = new ReadOnlyTensorSpan<float>(v, new nint[] { 2, 11, 1, 64 });
        var os = new TensorSpan<float>(o, new nint[] { 2, 6, 4, 64 });
        var lse = new TensorSpan<float>(lseStore, new nint[] { 2, 6, 4 }, new nint[] { 24, 1, 6 });
        Attention.SequencePrefill(qs, ks, vs, os, qLens, kvLens, MaskMode.CausalPaddedLeft, lse);

        var expected = Prefill(s, D(q), D(k), D(v), qLens, kvLens, MaskMode.CausalPaddedLeft);
        double error = MaxRowRelativeError(D(o), expected.O, s.HeadDim, out long row);
        Assert.IsTrue(error < RowTolerance(ElementType.Float32), $"row {row}: {error:E3}");
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 6; t++)
                for (int h = 0; h < 4; h++)
                {
                    double want = expected.Lse[(b * 6 + t) * 4 + h];
                    float got = lseStore[b * 24 + h * 6 + t];
                    if (double.IsNegativeInfinity(want)) Assert.AreEqual(float.NegativeInfinity, got);
                    else Assert.AreEqual(want, got, LseTolerance(ElementType.Float32, want), $"lse[{b},{t},{h}]");
                }
    }

    [TestMethod]
    public void TensorSpans_WithoutLengths_AndBadRank_NameTheParameter()
    {
        var s = new Shape(1, 4, 4, 1, 1, 64);
        var (q, k, v) = RandomInputs(s, 505);
        var o = new float[s.QElements];
        Attention.SequencePrefill(new ReadOnlyTensorSpan<float>(q, new nint[] { 1, 4, 1, 64 }), new ReadOnlyTensorSpan<float>(k, new nint[] { 1, 4, 1, 64 }),
            new ReadOnlyTensorSpan<float>(v, new nint[] { 1, 4, 1, 64 }), new TensorSpan<float>(o, new nint[] { 1, 4, 1, 64 }),
            default, default, MaskMode.Padded);
        AssertMatchesReference(s, q, k, v, new[] { 4 }, o, MaskMode.Padded);

        var error = Assert.ThrowsExactly<ArgumentException>(() => Attention.SequencePrefill(
            new ReadOnlyTensorSpan<float>(q, new nint[] { 1, 1, 4, 1, 64 }), new ReadOnlyTensorSpan<float>(k, new nint[] { 1, 4, 1, 64 }),
            new ReadOnlyTensorSpan<float>(v, new nint[] { 1, 4, 1, 64 }), new TensorSpan<float>(o, new nint[] { 1, 4, 1, 64 }),
            default, default, MaskMode.Padded));
        Assert.AreEqual("q", error.ParamName);
    }
}
