using PaddedAttention.Tests.Reference;
using static PaddedAttention.Tests.Reference.ElementConversions;

namespace PaddedAttention.Tests.Support;

/// <summary>
/// One randomized decode problem against a paged KV cache. The reference sees each
/// row's keys in logical order (a right-padded cache [batch, capacity]); the library
/// sees them scattered over pages in a shuffled order through a block table, with rows
/// 1.. sharing row 0's first <paramref name="SharedPages"/> full pages, NaN in every
/// unused page and slot, and -1 in the unused table entries.
/// </summary>
public sealed record PagedDecodeScenario(int QLen, int NumQoHeads, int NumKvHeads, int HeadDim, int PageSize,
    int[] KvLens, int SharedPages, bool DeviceLengths, int NumSplits, int Seed)
{
    public override string ToString() =>
        $"paged decode q{QLen} h{NumQoHeads}/{NumKvHeads} d{HeadDim} page{PageSize} kvlens=[{string.Join(",", KvLens)}] " +
        $"shared={SharedPages} deviceLens={DeviceLengths} splits={NumSplits} seed={Seed}";

    public void Run<T>(Device device, CudaStream? stream = null) where T : unmanaged
    {
        ElementType type = TypeOf<T>();
        int batch = KvLens.Length, ps = PageSize, rowElems = NumKvHeads * HeadDim;
        int[] used = KvLens.Select(kv => (kv + ps - 1) / ps).ToArray();
        int maxPages = used.Max() + 1;                     // one spare column of -1
        int capacity = maxPages * ps;
        int share = Math.Min(SharedPages, KvLens[0] / ps); // full pages of row 0 only
        var rng = new Random(Seed);

        // Logical right-padded cache for the reference; shared prefixes copy row 0.
        var shape = new AttentionReference.Shape(batch, QLen, capacity, NumQoHeads, NumKvHeads, HeadDim);
        float[] qf = PrefillScenario.RandomValues(rng, shape.QElements, 2f);
        float[] kf = PrefillScenario.RandomValues(rng, shape.KvElements, 2f);
        float[] vf = PrefillScenario.RandomValues(rng, shape.KvElements, 1f);
        for (int b = 1; b < batch; b++)
        {
            int keys = Math.Min(share * ps, KvLens[b]);
            Array.Copy(kf, 0, kf, (long)b * capacity * rowElems, (long)keys * rowElems);
            Array.Copy(vf, 0, vf, (long)b * capacity * rowElems, (long)keys * rowElems);
        }
        T[] qT = FromFloats<T>(qf), kT = FromFloats<T>(kf), vT = FromFloats<T>(vf);
        var expected = AttentionReference.Decode(shape, ToDoubles<T>(qT), ToDoubles<T>(kT), ToDoubles<T>(vT), KvLens, PaddingSide.Right);

        var (table, kp, vp, pages) = PagedCache.Scatter(kT, vT, KvLens, capacity, maxPages, ps, rowElems, share, rng);

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
        var options = new DecodeOptions { NumSplits = NumSplits };
        if (DeviceLengths)
        {
            using var lens = DeviceBuffer<int>.Create(device, KvLens);
            Attention.DecodePaged(q, k, v, o, pageTable, lens, lse, options, stream);
            stream?.Synchronize();
            device.Synchronize();
        }
        else
        {
            Attention.DecodePaged(q, k, v, o, pageTable, KvLens, lse, options, stream);
        }
        stream?.Synchronize();
        device.Synchronize();

        DecodeScenario.AssertMatchesReference(ToString(), type, HeadDim, o, lse, expected);
    }

    /// <summary>Page sizes 1, 7, 16 and 64; an empty row, one key, a page plus one key; shared prefixes; forced splits;
    /// head_dim 32, 64, 80, 96, 128.</summary>
    public static IEnumerable<PagedDecodeScenario> All(bool cuda)
    {
        int n = 0;
        foreach (int ps in new[] { 1, 16, 64 })
        {
            yield return new PagedDecodeScenario(1, 8, 2, 128, ps, new[] { 3 * ps + 5, 0, 1, ps + 1 }, 2, false, 0, 100 + n++);
            yield return new PagedDecodeScenario(3, 4, 4, 64, ps, new[] { 2 * ps + 7, 2, 300 }, 1, cuda, 3, 100 + n++);
            yield return new PagedDecodeScenario(16, 8, 1, 64, ps, new[] { 4 * ps, 40, 16 }, 4, cuda, 1, 100 + n++);
        }
        // head_dim 32, 80 and 96 (on CUDA: 4 lanes per key; 16 lanes per key, some idle), GQA 5, page size 7
        // (not a power of two) and 16, automatic and forced splits.
        foreach (int d in new[] { 32, 80, 96 })
            yield return new PagedDecodeScenario(d == 80 ? 3 : 1, 10, 2, d, d == 80 ? 7 : 16, new[] { 41, 0, 1, 333 }, 2, cuda,
                d == 32 ? 0 : 5, 100 + n++);
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
