using PaddedAttention.Tests.Support;
using static PaddedAttention.Tests.Reference.ElementConversions;

namespace PaddedAttention.Tests.MultiDevice;

/// <summary>
/// Two CUDA devices in one process (inconclusive with fewer than two): concurrent calls on both,
/// each on its own stream, bit-identical to single-device runs; mixed placement refused before any
/// native work; allocation and stream churn on one device while the other computes.
/// </summary>
[TestClass]
[TestCategory("GPU")]
[TestCategory("MultiGPU")]
public sealed class MultiGpuTests
{
    private const int Batch = 5, QLen = 257, Heads = 16, KvHeads = 4, HeadDim = 128, Cache = 1500, NewTokens = 2;
    private static readonly int[] Lengths = { 257, 0, 1, 130, 77 };
    private static readonly int[] CacheLengths = { 1500, 2, 700, 1499, 64 };

    /// <summary>Inputs of one prefill and one decode, uploaded to one device.</summary>
    private sealed class Work : IDisposable
    {
        public required DeviceTensor<BFloat16> Q, K, V, O, DecQ, DecK, DecV, DecO;
        public required DeviceTensor<float> Lse;
        public required CudaStream Stream;

        public static Work Create(Device device, BFloat16[] q, BFloat16[] k, BFloat16[] decQ, BFloat16[] cache) => new()
        {
            Q = Upload(device, q, Batch, QLen, Heads), K = Upload(device, k, Batch, QLen, KvHeads), V = Upload(device, k, Batch, QLen, KvHeads),
            O = DeviceTensor<BFloat16>.Allocate(device, Batch, QLen, Heads, HeadDim),
            Lse = DeviceTensor<float>.Allocate(device, Batch, QLen, Heads),
            DecQ = Upload(device, decQ, Batch, NewTokens, Heads), DecK = Upload(device, cache, Batch, Cache, KvHeads),
            DecV = Upload(device, cache, Batch, Cache, KvHeads),
            DecO = DeviceTensor<BFloat16>.Allocate(device, Batch, NewTokens, Heads, HeadDim),
            Stream = new CudaStream(device),
        };

        /// <summary>Poisons the outputs, runs prefill then decode on the stream, returns (o, lse, decode o).</summary>
        public (BFloat16[] O, float[] Lse, BFloat16[] DecO) Run()
        {
            O.Buffer!.FillBytes(0xFF);
            DecO.Buffer!.FillBytes(0xFF);
            Attention.SequencePrefill(Q, K, V, O, Lengths, MaskMode.CausalPaddedLeft, Lse, null, Stream);
            Attention.Decode(DecQ, DecK, DecV, DecO, CacheLengths, PaddingSide.Left, null, new DecodeOptions { NumSplits = 3 }, Stream);
            Stream.Synchronize();
            return (O.Buffer!.ToArray(), Lse.Buffer!.ToArray(), DecO.Buffer!.ToArray());
        }

        public void Dispose()
        {
            foreach (var t in new IDisposable[] { Q, K, V, O, Lse, DecQ, DecK, DecV, DecO, Stream }) t.Dispose();
        }

        private static DeviceTensor<BFloat16> Upload(Device device, BFloat16[] data, int batch, int len, int heads)
        {
            var t = DeviceTensor<BFloat16>.Allocate(device, batch, len, heads, HeadDim);
            t.Buffer!.CopyFrom(data);
            return t;
        }
    }

    private static (BFloat16[] Q, BFloat16[] K, BFloat16[] DecQ, BFloat16[] Cache) Inputs()
    {
        var rng = new Random(20261203);
        return (FromFloats<BFloat16>(PrefillScenario.RandomValues(rng, (long)Batch * QLen * Heads * HeadDim, 3f)),
                FromFloats<BFloat16>(PrefillScenario.RandomValues(rng, (long)Batch * QLen * KvHeads * HeadDim, 1f)),
                FromFloats<BFloat16>(PrefillScenario.RandomValues(rng, (long)Batch * NewTokens * Heads * HeadDim, 3f)),
                FromFloats<BFloat16>(PrefillScenario.RandomValues(rng, (long)Batch * Cache * KvHeads * HeadDim, 1f)));
    }

    [TestMethod]
    public void ConcurrentCallsOnTwoDevices_AreBitIdenticalToSingleDeviceRuns()
    {
        var (d0, d1) = TestDevices.RequireTwoCuda();
        var (q, k, decQ, cache) = Inputs();
        using var w0 = Work.Create(d0, q, k, decQ, cache);
        using var w1 = Work.Create(d1, q, k, decQ, cache);
        var expected0 = w0.Run();
        var expected1 = w1.Run();
        CollectionAssert.AreEqual(expected0.O, expected1.O, "device 0 and device 1 differ (prefill o)");
        CollectionAssert.AreEqual(expected0.DecO, expected1.DecO, "device 0 and device 1 differ (decode o)");

        int mismatches = 0;
        using var stop = new CancellationTokenSource();
        // Allocation, free and stream churn on each device while the other one computes.
        Task[] churn = new[] { d0, d1 }.Select(d => Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var buffer = DeviceBuffer<float>.Allocate(d, 1 << 20);
                using var s = new CudaStream(d);
                buffer.FillBytes(1);
                s.Synchronize();
            }
        })).ToArray();
        Task[] work = new[] { (w0, expected0), (w1, expected1) }.Select(p => Task.Run(() =>
        {
            for (int i = 0; i < 30; i++)
            {
                var got = p.Item1.Run();
                if (!got.O.AsSpan().SequenceEqual(p.Item2.O) || !got.Lse.AsSpan().SequenceEqual(p.Item2.Lse)
                    || !got.DecO.AsSpan().SequenceEqual(p.Item2.DecO))
                {
                    Interlocked.Increment(ref mismatches);
                }
            }
        })).ToArray();
        Task.WaitAll(work);
        stop.Cancel();
        Task.WaitAll(churn);
        Assert.AreEqual(0, mismatches, "concurrent results differ from single-device runs");
    }

    [TestMethod]
    public void MixedPlacement_IsRefusedNamingTheArgument()
    {
        var (d0, d1) = TestDevices.RequireTwoCuda();
        var (q, k, decQ, cache) = Inputs();
        using var w0 = Work.Create(d0, q, k, decQ, cache);
        using var w1 = Work.Create(d1, q, k, decQ, cache);
        w1.O.Buffer!.FillBytes(0xFF);

        var e = Assert.ThrowsExactly<ArgumentException>(() =>
            Attention.SequencePrefill(w1.Q, w0.K, w1.V, w1.O, Lengths, MaskMode.CausalPaddedLeft, w1.Lse, null, w1.Stream));
        Assert.AreEqual("k", e.ParamName);
        e = Assert.ThrowsExactly<ArgumentException>(() =>
            Attention.SequencePrefill(w1.Q, w1.K, w1.V, w1.O, Lengths, MaskMode.CausalPaddedLeft, w1.Lse, null, w0.Stream));
        Assert.AreEqual("stream", e.ParamName);
        e = Assert.ThrowsExactly<ArgumentException>(() =>
            Attention.Decode(w1.DecQ, w1.DecK, w1.DecV, w1.DecO, CacheLengths, PaddingSide.Left, null, null, w0.Stream));
        Assert.AreEqual("stream", e.ParamName);
        d1.Synchronize();
        Assert.IsTrue(w1.O.Buffer!.ToArray().All(x => float.IsNaN((float)x)), "a refused call wrote the output");
    }
}
