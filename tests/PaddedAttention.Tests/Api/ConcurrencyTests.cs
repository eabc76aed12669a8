using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Api;

/// <summary>
/// Several threads run prefill at once with different inputs: on the CPU backend, and on
/// CUDA with one stream per thread. Every result must match the reference, and each
/// thread's native error message must be its own.
/// </summary>
[TestClass]
public sealed class ConcurrencyTests
{
    static PrefillScenario ScenarioFor(int thread, int iteration) => new(
        $"thread{thread}-iteration{iteration}", 3, 33 + 2 * thread, 33 + 2 * thread, 4, 2, 64,
        thread % 2 == 0 ? MaskMode.CausalPaddedLeft : MaskMode.Padded, LengthsKind.HostEqual,
        new[] { 0, 5 + thread, 33 + 2 * thread }, null, Layout.Contiguous, true, null, 100 * thread + iteration);

    static void RunThreads(int threads, Action<int> body)
    {
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        using var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                body(t);
            }
            catch (Exception e) { errors.Enqueue(e); }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        if (!errors.IsEmpty) throw new AggregateException(errors);
    }

    [TestMethod]
    public void CpuThreads_RunPrefillConcurrently_AllResultsCorrect()
    {
        RunThreads(4, t =>
        {
            for (int i = 0; i < 3; i++) ScenarioFor(t, i).Run<Half>(Device.Cpu);
        });
    }

    [TestMethod]
    public void NativeErrorMessages_AreThreadLocal()
    {
        // Thread t passes head_dim 513 + t, beyond the CPU backend's limit (the native layer
        // refuses it, C# does not pre-check it); each thread must read its own value back.
        RunThreads(4, t =>
        {
            int headDim = 513 + t;
            for (int i = 0; i < 20; i++)
            {
                using var q = DeviceTensor<float>.Allocate(Device.Cpu, 1, 2, 1, headDim);
                using var o = DeviceTensor<float>.Allocate(Device.Cpu, 1, 2, 1, headDim);
                var e = Assert.Throws<PaddedAttentionException>(() => Attention.SequencePrefill(q, q, q, o, MaskMode.Padded));
                Assert.AreEqual(AttentionStatus.Unsupported, e.Status);
                StringAssert.Contains(e.NativeMessage, $"= {headDim} ", $"thread {t} read: {e.NativeMessage}");
            }
        });
    }

    [TestMethod]
    [TestCategory("GPU")]
    public void CudaThreads_EachWithItsOwnStream_AllResultsCorrect()
    {
        var device = TestDevices.RequireCuda();
        RunThreads(4, t =>
        {
            using var stream = new CudaStream(device);
            Assert.IsTrue(stream.IsOwner);
            for (int i = 0; i < 3; i++)
            {
                ScenarioFor(t, i).Run<BFloat16>(device, stream);
                ScenarioFor(t, i + 10).Run<Half>(device, stream);
            }
        });
    }
}
