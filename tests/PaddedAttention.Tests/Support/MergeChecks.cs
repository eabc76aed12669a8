using PaddedAttention.Tests.Reference;
using static PaddedAttention.Tests.Reference.ElementConversions;

namespace PaddedAttention.Tests.Support;

/// <summary>MergeStates checks shared by the CPU and CUDA suites.</summary>
public static class MergeChecks
{
    /// <summary>
    /// attention over A ∪ B == merge(attention over A, attention over B): keys [0, split)
    /// and [split, kv_len) of one cache, attended separately through k/v views and merged,
    /// against the same attention over all keys (from the library and from the float64
    /// reference). Rows include one whose B part is empty (lse_B = -inf) and padding query
    /// rows (both -inf: o = 0, lse = -inf). With <paramref name="inPlace"/> the result
    /// overwrites (oA, lseA).
    /// </summary>
    public static void UnionIdentity<T>(Device device, int headDim, bool inPlace, CudaStream? stream = null) where T : unmanaged
    {
        ElementType type = TypeOf<T>();
        const int batch = 4, qLen = 5, kvLen = 97, split = 40, hq = 4, hkv = 2;
        int[] qLens = { 5, 5, 5, 2 };
        int[] kvLens = { 97, 30, 61, 97 };
        int[] kvLensA = kvLens.Select(x => Math.Min(x, split)).ToArray();
        int[] kvLensB = kvLens.Select(x => Math.Max(x - split, 0)).ToArray();
        var shape = new AttentionReference.Shape(batch, qLen, kvLen, hq, hkv, headDim);
        var rng = new Random(4242 + headDim);
        T[] qT = FromFloats<T>(PrefillScenario.RandomValues(rng, shape.QElements, 2f));
        T[] kT = FromFloats<T>(PrefillScenario.RandomValues(rng, shape.KvElements, 2f));
        T[] vT = FromFloats<T>(PrefillScenario.RandomValues(rng, shape.KvElements, 1f));
        var expected = AttentionReference.Prefill(shape, ToDoubles<T>(qT), ToDoubles<T>(kT), ToDoubles<T>(vT),
            qLens, kvLens, MaskMode.Padded);

        using var q = DeviceTensor<T>.Allocate(device, batch, qLen, hq, headDim);
        using var k = DeviceTensor<T>.Allocate(device, batch, kvLen, hkv, headDim);
        using var v = DeviceTensor<T>.Allocate(device, batch, kvLen, hkv, headDim);
        q.Buffer!.CopyFrom(qT);
        k.Buffer!.CopyFrom(kT);
        v.Buffer!.CopyFrom(vT);
        using var kA = k.Slice(1, 0, split);
        using var vA = v.Slice(1, 0, split);
        using var kB = k.Slice(1, split, kvLen - split);
        using var vB = v.Slice(1, split, kvLen - split);

        using var oFull = Poisoned(DeviceTensor<T>.Allocate(device, batch, qLen, hq, headDim));
        using var lseFull = Poisoned(DeviceTensor<float>.Allocate(device, batch, qLen, hq));
        using var oA = Poisoned(DeviceTensor<T>.Allocate(device, batch, qLen, hq, headDim));
        using var lseA = Poisoned(DeviceTensor<float>.Allocate(device, batch, qLen, hq));
        using var oB = Poisoned(DeviceTensor<T>.Allocate(device, batch, qLen, hq, headDim));
        using var lseB = Poisoned(DeviceTensor<float>.Allocate(device, batch, qLen, hq));
        Attention.SequencePrefill(q, k, v, oFull, qLens, kvLens, MaskMode.Padded, lseFull, null, stream);
        Attention.SequencePrefill(q, kA, vA, oA, qLens, kvLensA, MaskMode.Padded, lseA, null, stream);
        Attention.SequencePrefill(q, kB, vB, oB, qLens, kvLensB, MaskMode.Padded, lseB, null, stream);

        using var oOutOwned = inPlace ? null : Poisoned(DeviceTensor<T>.Allocate(device, batch, qLen, hq, headDim));
        using var lseOutOwned = inPlace ? null : Poisoned(DeviceTensor<float>.Allocate(device, batch, qLen, hq));
        var oOut = oOutOwned ?? oA;
        var lseOut = lseOutOwned ?? lseA;
        Attention.MergeStates(oA, lseA, oB, lseB, oOut, lseOut, stream);
        stream?.Synchronize();
        device.Synchronize();

        double[] merged = ToDoubles<T>(oOut.Buffer!.ToArray());
        float[] mergedLse = lseOut.Buffer!.ToArray();
        double rowTol = AttentionReference.RowTolerance(type);
        // Two roundings to T (the partial results, then the merge) instead of one.
        double err = AttentionReference.MaxRowRelativeError(merged, expected.O, headDim, out long worstRow);
        Assert.IsTrue(err <= 2 * rowTol, $"merge vs reference [{type}, d{headDim}, inPlace={inPlace}]: row {worstRow} error {err:G4}");
        double lseErr = AttentionReference.MaxLseErrorRatio(mergedLse, expected.Lse, type, out long worstLse);
        Assert.IsTrue(lseErr <= 1,
            $"merge lse vs reference [{type}, d{headDim}]: index {worstLse} error/bound {lseErr:G4}");

        double[] full = ToDoubles<T>(oFull.Buffer!.ToArray());
        double errFull = AttentionReference.MaxRowRelativeError(merged, full, headDim, out worstRow);
        Assert.IsTrue(errFull <= 2 * rowTol, $"merge vs single pass [{type}, d{headDim}]: row {worstRow} error {errFull:G4}");
    }

    /// <summary>
    /// Synthetic states (rank 3 [tokens, heads, d]) against the double merge formula:
    /// lse pairs with -inf on either or both sides, equal values, and differences far
    /// beyond exp's range (no overflow, no NaN).
    /// </summary>
    public static void SyntheticStates<T>(Device device, int headDim, CudaStream? stream = null) where T : unmanaged
    {
        ElementType type = TypeOf<T>();
        float ninf = float.NegativeInfinity;
        (float A, float B)[] pairs =
        {
            (0.5f, -1.25f), (ninf, 2f), (3f, ninf), (ninf, ninf), (7f, 7f),
            (80f, -80f), (-300f, 250f), (1e4f, 1e4f + 1f), (-2f, 0.75f),
        };
        int tokens = pairs.Length, heads = 3;
        var rng = new Random(77 + headDim);
        T[] oAT = FromFloats<T>(PrefillScenario.RandomValues(rng, (long)tokens * heads * headDim, 1f));
        T[] oBT = FromFloats<T>(PrefillScenario.RandomValues(rng, (long)tokens * heads * headDim, 1f));
        var lseAv = new float[tokens * heads];
        var lseBv = new float[tokens * heads];
        for (int t = 0; t < tokens; t++)
            for (int h = 0; h < heads; h++)
            {
                // Vary per head so heads are not copies of each other; keep -inf as is.
                lseAv[t * heads + h] = pairs[t].A + (float.IsInfinity(pairs[t].A) ? 0 : 0.1f * h);
                lseBv[t * heads + h] = pairs[t].B - (float.IsInfinity(pairs[t].B) ? 0 : 0.05f * h);
            }
        double[] oAd = ToDoubles<T>(oAT), oBd = ToDoubles<T>(oBT);
        var expectedO = new double[oAd.Length];
        var expectedLse = new double[lseAv.Length];
        for (int r = 0; r < lseAv.Length; r++)
        {
            double[] row = AttentionReference.MergeState(oAd.AsSpan(r * headDim, headDim), lseAv[r],
                oBd.AsSpan(r * headDim, headDim), lseBv[r], out expectedLse[r]);
            row.CopyTo(expectedO, r * headDim);
        }

        using var oA = DeviceTensor<T>.Allocate(device, tokens, heads, headDim);
        using var oB = DeviceTensor<T>.Allocate(device, tokens, heads, headDim);
        using var lseA = DeviceTensor<float>.Allocate(device, tokens, heads);
        using var lseB = DeviceTensor<float>.Allocate(device, tokens, heads);
        using var oOut = Poisoned(DeviceTensor<T>.Allocate(device, tokens, heads, headDim));
        using var lseOut = Poisoned(DeviceTensor<float>.Allocate(device, tokens, heads));
        oA.Buffer!.CopyFrom(oAT);
        oB.Buffer!.CopyFrom(oBT);
        lseA.Buffer!.CopyFrom(lseAv);
        lseB.Buffer!.CopyFrom(lseBv);
        Attention.MergeStates(oA, lseA, oB, lseB, oOut, lseOut, stream);
        stream?.Synchronize();
        device.Synchronize();

        double[] actual = ToDoubles<T>(oOut.Buffer!.ToArray());
        double err = AttentionReference.MaxRowRelativeError(actual, expectedO, headDim, out long worstRow);
        Assert.IsTrue(err <= AttentionReference.RowTolerance(type),
            $"synthetic merge [{type}, d{headDim}]: row {worstRow} (pair {pairs[worstRow / heads]}) error {err:G4}");
        float[] lseActual = lseOut.Buffer!.ToArray();
        // lse values up to 1e4 carry f32 rounding of about 1e-3 on their own: compare relative to magnitude there.
        for (int r = 0; r < lseActual.Length; r++)
        {
            double e = expectedLse[r], a = lseActual[r];
            if (double.IsNegativeInfinity(e)) { Assert.IsTrue(double.IsNegativeInfinity(a), $"lse[{r}] = {a}, expected -inf"); continue; }
            double tol = AttentionReference.LseTolerance(type, e);
            Assert.IsTrue(Math.Abs(a - e) <= tol, $"synthetic merge lse[{r}] = {a}, expected {e} (pair {pairs[r / heads]})");
        }
    }

    static DeviceTensor<TElement> Poisoned<TElement>(DeviceTensor<TElement> tensor) where TElement : unmanaged
    {
        tensor.Buffer!.FillBytes(0xFF);
        return tensor;
    }
}
