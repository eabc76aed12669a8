using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Api;

/// <summary>
/// CUDA events and the asynchronous stream wait. GPU tests end inconclusive
/// without a device; on any machine the CPU-side refusals are checked.
/// </summary>
[TestClass]
public sealed class CudaEventTests
{
    [TestMethod]
    public void EventOnTheCpu_IsArgumentException()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => new CudaEvent(Device.Cpu));
        Assert.AreEqual("device", error.ParamName);
    }

    [TestMethod]
    public void WithoutAGpu_EventCreationFailsWithTheNativeStatus()
    {
        if (Device.CudaDeviceCount > 0) Assert.Inconclusive("a CUDA device is present");
        var error = Assert.ThrowsExactly<PaddedAttentionException>(() => new CudaEvent(Device.Cuda(0)));
        var expected = PaddedAttentionLibrary.Capabilities.CudaBuilt ? AttentionStatus.NoDevice : AttentionStatus.CudaNotBuilt;
        Assert.AreEqual(expected, error.Status);
    }

    [TestMethod]
    [TestCategory("GPU")]
    public void RecordedWork_IsTimed_AndOrdersAnotherStream()
    {
        var device = TestDevices.RequireCuda();
        const int n = 16 << 20;
        using var producer = new CudaStream(device);
        using var consumer = new CudaStream(device);
        using var start = new CudaEvent(device);
        using var done = new CudaEvent(device);
        using var a = DeviceBuffer<int>.Allocate(device, n);
        using var b = DeviceBuffer<int>.Allocate(device, n);
        Assert.IsTrue(done.IsCompleted, "an event never recorded is complete");
        var host = new int[n];
        for (int round = 1; round <= 3; round++)
        {
            start.Record(producer);
            // Queue a fill of a on the producer, then make the consumer copy a into b after it.
            unsafe
            {
                Assert.AreEqual(0, (int)PaddedAttention.Interop.NativeMethods.pattn_memset_async((void*)a.Pointer, round, (ulong)n * 4, (void*)producer.Handle));
            }
            done.Record(producer);
            consumer.Wait(done);
            unsafe
            {
                Assert.AreEqual(0, (int)PaddedAttention.Interop.NativeMethods.pattn_memcpy_async((void*)b.Pointer, (void*)a.Pointer, (ulong)n * 4, (void*)consumer.Handle));
            }
            consumer.SynchronizeAsync().GetAwaiter().GetResult();
            Assert.IsTrue(done.IsCompleted);
            b.CopyTo(host);
            Assert.AreEqual(n, host.Count(x => x == round * 0x01010101), $"round {round}");
            TimeSpan elapsed = CudaEvent.Elapsed(start, done);
            Assert.IsTrue(elapsed > TimeSpan.Zero && elapsed < TimeSpan.FromSeconds(10), $"{elapsed}");
        }
    }

    [TestMethod]
    [TestCategory("GPU")]
    public async Task SynchronizeAsync_DoesNotHoldAThreadPoolThread()
    {
        var device = TestDevices.RequireCuda();
        using var stream = new CudaStream(device);
        using var buffer = DeviceBuffer<int>.Allocate(device, 64 << 20);
        ThreadPool.GetAvailableThreads(out int workersBefore, out _);
        unsafe
        {
            for (int i = 0; i < 20; i++)
                Assert.AreEqual(0, (int)PaddedAttention.Interop.NativeMethods.pattn_memset_async((void*)buffer.Pointer, i, 256UL << 20, (void*)stream.Handle));
        }
        // 64 waits at once: each would pin a worker if it blocked.
        var waits = Enumerable.Range(0, 64).Select(_ => stream.SynchronizeAsync()).ToArray();
        ThreadPool.GetAvailableThreads(out int workersDuring, out _);
        await Task.WhenAll(waits);
        Assert.IsTrue(workersBefore - workersDuring < 8, $"{workersBefore - workersDuring} workers busy while waiting");
        using var cancelled = new CancellationTokenSource();
        unsafe
        {
            for (int i = 0; i < 20; i++)
                Assert.AreEqual(0, (int)PaddedAttention.Interop.NativeMethods.pattn_memset_async((void*)buffer.Pointer, i, 256UL << 20, (void*)stream.Handle));
        }
        var wait = stream.SynchronizeAsync(cancelled.Token);
        cancelled.Cancel();
        await Assert.ThrowsAsync<OperationCanceledException>(() => wait);
        stream.Synchronize();
    }

    [TestMethod]
    [TestCategory("GPU")]
    public void EventsAndStreams_CheckOwnershipAndDisposal()
    {
        var device = TestDevices.RequireCuda();
        using var stream = new CudaStream(device);
        var e = new CudaEvent(device);
        Assert.ThrowsExactly<ArgumentNullException>(() => e.Record(null!));
        Assert.ThrowsExactly<ArgumentNullException>(() => stream.Wait(null!));
        e.Dispose();
        e.Dispose();
        Assert.ThrowsExactly<ObjectDisposedException>(() => e.Record(stream));
        Assert.ThrowsExactly<ObjectDisposedException>(() => stream.Wait(e));
        Assert.ThrowsExactly<ObjectDisposedException>(() => _ = e.IsCompleted);
        if (Device.CudaDeviceCount > 1)
        {
            using var other = new CudaEvent(Device.Cuda(1));
            Assert.ThrowsExactly<ArgumentException>(() => other.Record(stream));
        }
    }
}
