using PaddedAttention.Tests.Reference;
using static PaddedAttention.Tests.Reference.ElementConversions;

namespace PaddedAttention.Tests.Support;

/// <summary>
/// One randomized prefill of new tokens after a cached prefix, against a paged KV cache. Row b has
/// <c>NewQ[b]</c> new queries (right-padded in q, NaN in the padding rows) and <c>Prefix[b] + NewQ[b]</c>
/// keys. The reference sees each row's keys in logical order (a right-padded cache [batch, capacity]);
/// the library sees them through a block table over shuffled pages (<see cref="PagedCache"/>), rows 1..
/// sharing row 0's first <paramref name="SharedPages"/> full pages.
/// </summary>
public sealed record PagedPrefillScenario(int QLen, int NumQoHeads, int NumKvHeads, int HeadDim, int PageSize,
    int[] NewQ, int[] Prefix, MaskMode Mask, int SharedPages, bool DeviceLengths, SlidingWindow? Window, float SoftCap, int Seed)
{
    public override string ToString() =>
        $"paged prefill {Mask} q{QLen} h{NumQoHeads}/{NumKvHeads} d{HeadDim} page{PageSize} new=[{string.Join(",", NewQ)}] " +
        $"prefix=[{string.Join(",", Prefix)}] shared={SharedPages} deviceLens={DeviceLengths} window={Window} cap={SoftCap} seed={Seed}";

    public void Run<T>(Device device, CudaStream? stream = null) where T : unmanaged
    {
        ElementType type = TypeOf<T>();
        int batch = NewQ.Length, ps = PageSize, rowElems = NumKvHeads * HeadDim, qRowElems = NumQoHeads * HeadDim;
        int[] kvLens = NewQ.Select((n, b) => Prefix[b] + n).ToArray();
        int maxPages = kvLens.Max(kv => (kv + ps - 1) / ps) + 1; // one spare column of -1
        int capacity = maxPages * ps;
        int share = Math.Min(SharedPages, kvLens[0] / ps);     // full pages of row 0 only
        var rng = new Random(Seed);

        var shape = new AttentionReference.Shape(batch, QLen, capacity, NumQoHeads, NumKvHeads, HeadDim);
        float[] qf = PrefillScenario.RandomValues(rng, shape.QElements, 2f);
        float[] kf = PrefillScenario.RandomValues(rng, shape.KvElements, 2f);
        float[] vf = PrefillScenario.RandomValues(rng, shape.KvElements, 1f);
        for (int b = 0; b < batch; b++)
        {
            // Padding query rows hold NaN: they must not reach any output.
            Array.Fill(qf, float.NaN, ((b * QLen) + NewQ[b]) * qRowElems, (QLen - NewQ[b]) * qRowElems);
            if (b > 0)
            {
                int keys = Math.Min(share * ps, kvLens[b]);
                Array.Copy(kf, 0, kf, (long)b * capacity * rowElems, (long)keys * rowElems);
                Array.Copy(vf, 0, vf, (long)b * capacity * rowElems, (long)keys * rowElems);
            }
        }
        T[] qT = FromFloats<T>(qf), kT = FromFloats<T>(kf), vT = FromFloats<T>(vf);
        var expected = AttentionReference.Prefill(shape, ToDoubles<T>(qT), ToDoubles<T>(kT), ToDoubles<T>(vT), NewQ, kvLens, Mask,
            window: Window is SlidingWindow w ? (w.Left, w.Right) : null, softCap: SoftCap);
        var (table, kp, vp, pages) = PagedCache.Scatter(kT, vT, kvLens, capacity, maxPages, ps, rowElems, share, rng);

        using var q = DeviceTensor<T>.Allocate(device, batch, QLen, NumQoHeads, HeadDim);
        using var k = DeviceTensor<T>.Allocate(device, pages, ps, NumKvHeads, HeadDim);
        using var v = DeviceTensor<T>.Allocate(device, pages, ps, NumKvHeads, HeadDim);
        using var pageTable = DeviceTensor<int>.Allocate(device, batch, maxPages);
        using var o = DeviceTensor<T>.Allocate(device, batch, QLen, NumQoHeads, HeadDim);
        using var lse = DeviceTensor<float>.Allocate(device, batch, QLen, NumQoHeads);
        q.Buffer!.CopyFrom(qT);
        k.Buffer!.CopyFrom(kp);
        v.Buffer!.CopyFrom(vp);
        pageTable.Buffer!.CopyFrom(table);
        o.Buffer!.FillBytes(0xFF);
        lse.Buffer!.FillBytes(0xFF);
        var options = new PrefillOptions { Window = Window, LogitsSoftCap = SoftCap };
        if (DeviceLengths)
        {
            using var qLens = DeviceBuffer<int>.Create(device, NewQ);
            using var kvLensBuffer = DeviceBuffer<int>.Create(device, kvLens);
            Attention.PrefillPaged(q, k, v, o, pageTable, qLens, kvLensBuffer, Mask, lse, options, stream);
            stream?.Synchronize();
            device.Synchronize();
        }
        else
        {
            Attention.PrefillPaged(q, k, v, o, pageTable, NewQ, kvLens, Mask, lse, options, stream);
        }
        stream?.Synchronize();
        device.Synchronize();

        DecodeScenario.AssertMatchesReference(ToString(), type, HeadDim, o, lse, expected);
    }

    /// <summary>
    /// Page sizes 1, 16 and 64; q_len &lt; kv_len (a prefix) and q_len == kv_len (none); a row with no new
    /// query, one with no key, one new token after exactly one page; shared prefixes; GQA 4 and 3, MHA, MQA;
    /// causal and bidirectional; a window and a soft cap.
    /// </summary>
    public static IEnumerable<PagedPrefillScenario> All(bool cuda)
    {
        int n = 0;
        foreach (int ps in new[] { 1, 16, 64 })
        {
            yield return new PagedPrefillScenario(37, 8, 2, 128, ps, new[] { 37, 0, 0, 37, 1, 20 },
                new[] { 3 * ps + 5, 40, 0, 0, ps, 101 }, MaskMode.CausalPaddedRight, 2, false, null, 0, 200 + n++);
            yield return new PagedPrefillScenario(70, 4, 4, 64, ps, new[] { 70, 33, 9 },
                new[] { 2 * ps + 7, 0, 300 }, MaskMode.Padded, 1, cuda, null, 0, 200 + n++);
            yield return new PagedPrefillScenario(129, 6, 2, 64, ps, new[] { 129, 64, 1 },
                new[] { 4 * ps, 17, 16 }, MaskMode.CausalPaddedRight, 4, cuda, new SlidingWindow(90, -1), 20f, 200 + n++);
            yield return new PagedPrefillScenario(16, 8, 1, 128, ps, new[] { 16, 5 },
                new[] { ps + 1, 0 }, MaskMode.CausalPaddedRight, 1, false, null, 0, 200 + n++);
        }
    }

    public static void RunAll(Device device, string dtype, CudaStream? stream = null)
    {
        foreach (var scenario in All(device.IsCuda))
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
