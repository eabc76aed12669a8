using PaddedAttention.Tests.Reference;
using static PaddedAttention.Tests.Reference.ElementConversions;

namespace PaddedAttention.Tests.Support;

/// <summary>
/// Sliding window, soft cap and packed prefill through the public API, against the float64
/// reference (AttentionReference, which decides visibility from the rule text, not from the
/// library): fresh random inputs, NaN in padding and between/after packed sequences, poisoned
/// outputs, GQA, odd lengths, empty and one-token sequences.
/// </summary>
public static class VariantChecks
{
    static void AssertClose<T>(string what, double[] actualO, double[] expectedO, float[]? actualLse, double[] expectedLse, int headDim)
        where T : unmanaged
    {
        ElementType type = TypeOf<T>();
        double err = AttentionReference.MaxRowRelativeError(actualO, expectedO, headDim, out long worst);
        Assert.IsTrue(err <= AttentionReference.RowTolerance(type), $"{what} [{type}]: row {worst} relative error {err:G4}");
        if (actualLse is not null)
        {
            double lseErr = AttentionReference.MaxLseErrorRatio(actualLse, expectedLse, type, out long worstLse);
            Assert.IsTrue(lseErr <= 1.0, $"{what} [{type}]: lse {worstLse} error/bound {lseErr:G4}");
        }
    }

    /// <summary>Padded prefill with host lengths, a window and/or a soft cap.</summary>
    public static void Padded<T>(Device device, MaskMode mask, SlidingWindow? window, float softCap, int headDim, int seed,
        CudaStream? stream = null) where T : unmanaged
    {
        const int batch = 3, qLen = 70, kvLen = 97, hq = 4, hkv = 2;
        var shape = new AttentionReference.Shape(batch, qLen, kvLen, hq, hkv, headDim);
        var rng = new Random(seed);
        int[] qLens = { qLen, 1, 41 };
        int[] kvLens = { kvLen, 0, 60 };
        float[] qf = PrefillScenario.RandomValues(rng, shape.QElements, softCap > 0 ? 8f : 2f);
        float[] kf = PrefillScenario.RandomValues(rng, shape.KvElements, 2f);
        float[] vf = PrefillScenario.RandomValues(rng, shape.KvElements, 1f);
        bool left = mask is MaskMode.CausalPaddedLeft or MaskMode.PaddedLeft;
        // NaN in every padding row of k and v.
        for (int b = 0; b < batch; b++)
            for (int s = 0; s < kvLen; s++)
            {
                bool real = left ? s >= kvLen - kvLens[b] : s < kvLens[b];
                if (real) continue;
                for (int x = 0; x < hkv * headDim; x++)
                {
                    long at = ((long)b * kvLen + s) * hkv * headDim + x;
                    kf[at] = float.NaN;
                    vf[at] = float.NaN;
                }
            }
        T[] qT = FromFloats<T>(qf), kT = FromFloats<T>(kf), vT = FromFloats<T>(vf);
        (int, int)? refWindow = window is SlidingWindow w ? (w.Left, w.Right) : null;
        var expected = AttentionReference.Prefill(shape, ToDoubles<T>(qT), ToDoubles<T>(kT), ToDoubles<T>(vT),
            qLens, kvLens, mask, null, refWindow, softCap);

        using var q = Upload(device, qT, batch, qLen, hq, headDim);
        using var k = Upload(device, kT, batch, kvLen, hkv, headDim);
        using var v = Upload(device, vT, batch, kvLen, hkv, headDim);
        using var o = DeviceTensor<T>.Allocate(device, batch, qLen, hq, headDim);
        using var lse = DeviceTensor<float>.Allocate(device, batch, qLen, hq);
        o.Buffer!.FillBytes(0xFF);
        lse.Buffer!.FillBytes(0xFF);
        var options = new PrefillOptions { Window = window, LogitsSoftCap = softCap };
        Attention.SequencePrefill(q, k, v, o, qLens, kvLens, mask, lse, options, stream);
        stream?.Synchronize();
        device.Synchronize();
        AssertClose<T>($"padded {mask} window={window} cap={softCap} d{headDim}", ToDoubles<T>(TensorIO.Read(o)), expected.O,
            TensorIO.Read(lse), expected.Lse, headDim);
    }

    /// <summary>Decode with a left window and a soft cap against a left- or right-padded cache.</summary>
    public static void Decode<T>(Device device, PaddingSide side, int windowLeft, float softCap, int headDim, int seed,
        CudaStream? stream = null) where T : unmanaged
    {
        const int batch = 3, qLen = 2, cacheLen = 300, hq = 8, hkv = 2;
        var shape = new AttentionReference.Shape(batch, qLen, cacheLen, hq, hkv, headDim);
        var rng = new Random(seed);
        int[] kvLens = { cacheLen, qLen, 157 };
        T[] qT = FromFloats<T>(PrefillScenario.RandomValues(rng, shape.QElements, 2f));
        T[] kT = FromFloats<T>(PrefillScenario.RandomValues(rng, shape.KvElements, 2f));
        T[] vT = FromFloats<T>(PrefillScenario.RandomValues(rng, shape.KvElements, 1f));
        var expected = AttentionReference.Decode(shape, ToDoubles<T>(qT), ToDoubles<T>(kT), ToDoubles<T>(vT), kvLens, side,
            null, (windowLeft, -1), softCap);
        using var q = Upload(device, qT, batch, qLen, hq, headDim);
        using var k = Upload(device, kT, batch, cacheLen, hkv, headDim);
        using var v = Upload(device, vT, batch, cacheLen, hkv, headDim);
        using var o = DeviceTensor<T>.Allocate(device, batch, qLen, hq, headDim);
        using var lse = DeviceTensor<float>.Allocate(device, batch, qLen, hq);
        o.Buffer!.FillBytes(0xFF);
        var options = new DecodeOptions { Window = new SlidingWindow(windowLeft, -1), LogitsSoftCap = softCap };
        Attention.Decode(q, k, v, o, kvLens, side, lse, options, stream);
        stream?.Synchronize();
        device.Synchronize();
        AssertClose<T>($"decode {side} window_left={windowLeft} cap={softCap} d{headDim}", ToDoubles<T>(TensorIO.Read(o)),
            expected.O, TensorIO.Read(lse), expected.Lse, headDim);
    }

    /// <summary>
    /// Packed prefill: sequences of 5, 0, 1, 33 and 70 queries (keys: 9, 4, 1, 33, 70) after 3 unused
    /// tokens and before 2 more, all unused tokens NaN; each sequence against the reference of a batch
    /// of one; rows outside the sequences stay poisoned.
    /// </summary>
    public static void Packed<T>(Device device, bool causal, SlidingWindow? window, float softCap, int headDim, bool deviceOffsets,
        int seed, CudaStream? stream = null) where T : unmanaged
    {
        int[] qSeq = { 5, 0, 1, 33, 70 };
        int[] kvSeq = { 9, 4, 1, 33, 70 };
        const int hq = 6, hkv = 2, lead = 3, tail = 2;
        int n = qSeq.Length;
        int[] cuQ = new int[n + 1], cuKv = new int[n + 1];
        cuQ[0] = cuKv[0] = lead;
        for (int b = 0; b < n; b++) { cuQ[b + 1] = cuQ[b] + qSeq[b]; cuKv[b + 1] = cuKv[b] + kvSeq[b]; }
        int totalQ = cuQ[n] + tail, totalKv = cuKv[n] + tail;
        var rng = new Random(seed);
        float[] qf = PrefillScenario.RandomValues(rng, (long)totalQ * hq * headDim, 2f);
        float[] kf = PrefillScenario.RandomValues(rng, (long)totalKv * hkv * headDim, 2f);
        float[] vf = PrefillScenario.RandomValues(rng, (long)totalKv * hkv * headDim, 1f);
        for (int t = 0; t < totalQ; t++)
            if (t < cuQ[0] || t >= cuQ[n]) Array.Fill(qf, float.NaN, t * hq * headDim, hq * headDim);
        for (int t = 0; t < totalKv; t++)
            if (t < cuKv[0] || t >= cuKv[n]) { Array.Fill(kf, float.NaN, t * hkv * headDim, hkv * headDim); Array.Fill(vf, float.NaN, t * hkv * headDim, hkv * headDim); }
        T[] qT = FromFloats<T>(qf), kT = FromFloats<T>(kf), vT = FromFloats<T>(vf);

        using var q = DeviceTensor<T>.Allocate(device, totalQ, hq, headDim);
        using var k = DeviceTensor<T>.Allocate(device, totalKv, hkv, headDim);
        using var v = DeviceTensor<T>.Allocate(device, totalKv, hkv, headDim);
        using var o = DeviceTensor<T>.Allocate(device, totalQ, hq, headDim);
        using var lse = DeviceTensor<float>.Allocate(device, totalQ, hq);
        q.Buffer!.CopyFrom(qT);
        k.Buffer!.CopyFrom(kT);
        v.Buffer!.CopyFrom(vT);
        o.Buffer!.FillBytes(0xFF);
        lse.Buffer!.FillBytes(0xFF);
        var options = new PrefillOptions { Window = window, LogitsSoftCap = softCap };
        if (deviceOffsets)
        {
            using var cuQBuffer = DeviceBuffer<int>.Create(device, cuQ);
            using var cuKvBuffer = DeviceBuffer<int>.Create(device, cuKv);
            Attention.PackedPrefill(q, k, v, o, cuQBuffer, cuKvBuffer, causal, lse, options, stream);
            stream?.Synchronize();
            device.Synchronize();
        }
        else
        {
            Attention.PackedPrefill(q, k, v, o, cuQ, cuKv, causal, lse, options, stream);
            stream?.Synchronize();
            device.Synchronize();
        }
        double[] got = ToDoubles<T>(o.Buffer!.ToArray());
        float[] gotLse = lse.Buffer!.ToArray();
        (int, int)? refWindow = window is SlidingWindow w ? (w.Left, w.Right) : null;
        int rowQ = hq * headDim, rowKv = hkv * headDim;
        double[] qd = ToDoubles<T>(qT), kd = ToDoubles<T>(kT), vd = ToDoubles<T>(vT);
        for (int b = 0; b < n; b++)
        {
            if (qSeq[b] == 0) continue;
            var shape = new AttentionReference.Shape(1, qSeq[b], kvSeq[b], hq, hkv, headDim);
            var expected = AttentionReference.Prefill(shape, qd[(cuQ[b] * rowQ)..(cuQ[b + 1] * rowQ)],
                kd[(cuKv[b] * rowKv)..(cuKv[b + 1] * rowKv)], vd[(cuKv[b] * rowKv)..(cuKv[b + 1] * rowKv)], null, null,
                causal ? MaskMode.CausalPaddedRight : MaskMode.Padded, null, refWindow, softCap);
            AssertClose<T>($"packed seq {b} causal={causal} window={window} cap={softCap} d{headDim} device offsets={deviceOffsets}",
                got[(cuQ[b] * rowQ)..(cuQ[b + 1] * rowQ)], expected.O, gotLse[(cuQ[b] * hq)..(cuQ[b + 1] * hq)], expected.Lse, headDim);
        }
        for (int t = 0; t < totalQ; t++)
        {
            if (t >= cuQ[0] && t < cuQ[n]) continue;
            for (int x = 0; x < rowQ; x++)
                Assert.IsTrue(double.IsNaN(got[t * rowQ + x]), $"packed: output token {t} outside the sequences was written");
            for (int h = 0; h < hq; h++)
                Assert.IsTrue(float.IsNaN(gotLse[t * hq + h]), $"packed: lse of token {t} outside the sequences was written");
        }
    }

    static DeviceTensor<T> Upload<T>(Device device, T[] data, int b, int s, int h, int d) where T : unmanaged
    {
        var tensor = DeviceTensor<T>.Allocate(device, b, s, h, d);
        tensor.Buffer!.CopyFrom(data);
        return tensor;
    }
}
