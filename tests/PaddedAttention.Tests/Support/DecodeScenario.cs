using PaddedAttention.Tests.Reference;
using static PaddedAttention.Tests.Reference.ElementConversions;

namespace PaddedAttention.Tests.Support;

/// <summary>
/// One randomized decode problem: q_len new queries per row against a padded KV cache
/// whose padding (NaN/Inf) must not leak, with poisoned outputs.
/// <paramref name="KvLens"/> null = full cache; on a device, <paramref name="DeviceLengths"/>
/// passes them as a DeviceBuffer&lt;int&gt;.
/// </summary>
public sealed record DecodeScenario(int Batch, int QLen, int CacheLen, int NumQoHeads, int NumKvHeads, int HeadDim,
    PaddingSide Side, int[]? KvLens, bool DeviceLengths, bool WithLse, int NumSplits, float? Scale, int Seed)
{
    public override string ToString() =>
        $"decode b{Batch} q{QLen} cache{CacheLen} h{NumQoHeads}/{NumKvHeads} d{HeadDim} {Side} " +
        $"kvlens=[{(KvLens is null ? "-" : string.Join(",", KvLens))}] deviceLens={DeviceLengths} lse={WithLse} splits={NumSplits} seed={Seed}";

    /// <summary>Runs on <paramref name="device"/> and asserts the accuracy bound of docs/semantics.md (Results); returns the worst row error.</summary>
    public double Run<T>(Device device, CudaStream? stream = null) where T : unmanaged
    {
        ElementType type = TypeOf<T>();
        var shape = new AttentionReference.Shape(Batch, QLen, CacheLen, NumQoHeads, NumKvHeads, HeadDim);
        int[]? lensEff = KvLens?.Select(x => Math.Clamp(x, 0, CacheLen)).ToArray();
        var rng = new Random(Seed);
        float[] qf = PrefillScenario.RandomValues(rng, shape.QElements, 2f);
        float[] kf = PrefillScenario.RandomValues(rng, shape.KvElements, 2f);
        float[] vf = PrefillScenario.RandomValues(rng, shape.KvElements, 1f);
        if (lensEff is not null)
        {
            int rowKv = NumKvHeads * HeadDim;
            for (int b = 0; b < Batch; b++)
                for (int s = 0; s < CacheLen; s++)
                {
                    bool real = Side == PaddingSide.Left ? s >= CacheLen - lensEff[b] : s < lensEff[b];
                    if (real) continue;
                    Array.Fill(kf, (s & 1) == 0 ? float.NaN : float.NegativeInfinity, (b * CacheLen + s) * rowKv, rowKv);
                    Array.Fill(vf, (s & 1) == 0 ? float.PositiveInfinity : float.NaN, (b * CacheLen + s) * rowKv, rowKv);
                }
        }
        T[] qT = FromFloats<T>(qf), kT = FromFloats<T>(kf), vT = FromFloats<T>(vf);
        var expected = AttentionReference.Decode(shape, ToDoubles<T>(qT), ToDoubles<T>(kT), ToDoubles<T>(vT), lensEff, Side, Scale);

        using var q = DeviceTensor<T>.Allocate(device, Batch, QLen, NumQoHeads, HeadDim);
        using var k = DeviceTensor<T>.Allocate(device, Batch, CacheLen, NumKvHeads, HeadDim);
        using var v = DeviceTensor<T>.Allocate(device, Batch, CacheLen, NumKvHeads, HeadDim);
        using var o = DeviceTensor<T>.Allocate(device, Batch, QLen, NumQoHeads, HeadDim);
        using var lse = WithLse ? DeviceTensor<float>.Allocate(device, Batch, QLen, NumQoHeads) : null;
        q.Buffer!.CopyFrom(qT);
        k.Buffer!.CopyFrom(kT);
        v.Buffer!.CopyFrom(vT);
        o.Buffer!.FillBytes(0xFF);
        lse?.Buffer!.FillBytes(0xFF);
        var options = new DecodeOptions { SoftmaxScale = Scale, NumSplits = NumSplits };
        if (DeviceLengths)
        {
            using var lens = KvLens is null ? null : DeviceBuffer<int>.Create(device, KvLens);
            Attention.Decode(q, k, v, o, lens, Side, lse, options, stream);
            stream?.Synchronize();
            device.Synchronize();
        }
        else
        {
            Attention.Decode(q, k, v, o, KvLens ?? Array.Empty<int>(), Side, lse, options, stream);
        }
        stream?.Synchronize();
        device.Synchronize();

        return AssertMatchesReference(ToString(), type, HeadDim, o, lse, expected);
    }

    /// <summary>
    /// A decode output (and lse, when given) against the float64 reference: row relative error within the
    /// dtype's tolerance, lse within its bound. Shared by the contiguous and the paged decode scenarios.
    /// Returns the largest row error.
    /// </summary>
    internal static double AssertMatchesReference<T>(string label, ElementType type, int headDim, DeviceTensor<T> o,
        DeviceTensor<float>? lse, AttentionReference.Result expected) where T : unmanaged
    {
        double[] actual = ToDoubles<T>(o.Buffer!.ToArray());
        double err = AttentionReference.MaxRowRelativeError(actual, expected.O, headDim, out long worstRow);
        double tol = AttentionReference.RowTolerance(type);
        Assert.IsTrue(err <= tol, $"{label} [{type}]: row {worstRow} relative error {err:G4} > {tol:G4}");
        if (lse is not null)
        {
            float[] lseActual = lse.Buffer!.ToArray();
            double lseErr = AttentionReference.MaxLseErrorRatio(lseActual, expected.Lse, type, out long worst);
            const double lseTol = 1.0; // error / bound
            Assert.IsTrue(lseErr <= lseTol,
                $"{label} [{type}]: lse[{worst}] = {(worst >= 0 ? lseActual[worst] : 0)} vs {(worst >= 0 ? expected.Lse[worst] : 0)}, error/bound {lseErr:G4} > 1");
        }
        return err;
    }

    /// <summary>Decode scenarios for a (dtype, head_dim, heads) row: q_len 1, 3 and 16, both padding sides.</summary>
    public static List<DecodeScenario> ForRow(string dtype, int headDim, string heads, bool cuda)
    {
        var (hq, hkv) = PrefillMatrix.Heads(heads);
        int seed = dtype.Length * 1000 + headDim * 10 + hq; // stable across processes (no string hashing)
        var rng = new Random(seed);
        int cache = headDim == 256 ? 127 : 333;
        var list = new List<DecodeScenario>();
        // q_len 1, left padding: kv lengths 0, 1, full, random; several KV splits.
        list.Add(new DecodeScenario(4, 1, cache, hq, hkv, headDim, PaddingSide.Left,
            new[] { 0, 1, cache, rng.Next(2, cache) }, false, true, 3, null, seed));
        // q_len 3 (speculative), right padding: a row with kv < q_len sees nothing on its first queries.
        list.Add(new DecodeScenario(3, 3, 65, hq, hkv, headDim, PaddingSide.Right,
            new[] { 2, 65, rng.Next(3, 65) }, cuda, true, 0, 0.25f, seed + 1));
        // q_len 16 against a full cache (no lengths), one split.
        list.Add(new DecodeScenario(2, 16, 63, hq, hkv, headDim, PaddingSide.Left, null, false, true, 1, null, seed + 2));
        // q_len 7, left padding, lengths on the device on CUDA, out-of-range there (clamped).
        list.Add(new DecodeScenario(3, 7, 127, hq, hkv, headDim, PaddingSide.Left,
            cuda ? new[] { 127 + 50, 6, -4 } : new[] { 127, 6, 0 }, cuda, headDim != 128, 0, null, seed + 3));
        return list;
    }

    /// <summary>Runs every decode scenario of a row.</summary>
    public static void RunRow(Device device, string dtype, int headDim, string heads, CudaStream? stream = null)
    {
        foreach (var scenario in ForRow(dtype, headDim, heads, device.IsCuda))
        {
            switch (dtype)
            {
                case "f32": scenario.Run<float>(device, stream); break;
                case "f16": scenario.Run<Half>(device, stream); break;
                case "bf16": scenario.Run<BFloat16>(device, stream); break;
                default: throw new ArgumentOutOfRangeException(nameof(dtype));
            }
        }
    }
}
