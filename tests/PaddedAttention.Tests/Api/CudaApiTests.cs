using System.Runtime.CompilerServices;
using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Api;

/// <summary>Streams, lifetimes, refusals and leaks on CUDA device 0 (inconclusive without one).</summary>
[TestClass]
[TestCategory("GPU")]
public sealed class CudaApiTests
{
    static PrefillScenario Small(int seed) => new("cuda-small", 3, 65, 65, 8, 2, 128, MaskMode.CausalPaddedLeft,
        LengthsKind.HostEqual, new[] { 0, 17, 65 }, null, Layout.Contiguous, true, null, seed);

    [TestMethod]
    public void DeviceProperties_DescribeARealGpu()
    {
        var device = TestDevices.RequireCuda();
        var p = device.GetProperties();
        Assert.AreEqual(0, p.DeviceId);
        Assert.IsFalse(string.IsNullOrWhiteSpace(p.Name));
        Assert.IsTrue(p.ComputeCapabilityMajor >= 8, $"compute capability {p.ComputeCapabilityMajor}.{p.ComputeCapabilityMinor}");
        Assert.IsTrue(p.MultiprocessorCount > 0 && p.TotalGlobalMemory > (1L << 30) && p.MaxSharedMemoryPerBlockOptin > 0);
        Assert.AreEqual(Device.Cuda(0), Device.Default);
    }

    [TestMethod]
    public void OwnedStream_DisposeTwice_UseAfterDisposeThrows()
    {
        var device = TestDevices.RequireCuda();
        var stream = new CudaStream(device);
        Assert.IsTrue(stream.IsOwner);
        Assert.AreNotEqual(IntPtr.Zero, stream.Handle);
        Small(1).Run<Half>(device, stream);
        stream.Dispose();
        stream.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _ = stream.Handle);
        Assert.Throws<ObjectDisposedException>(() => stream.Synchronize());
        Assert.Throws<ObjectDisposedException>(() => Small(2).Run<Half>(device, stream));
    }

    [TestMethod]
    public void ForeignStreamWrapper_RunsWork_AndDisposingItLeavesTheStreamAlive()
    {
        var device = TestDevices.RequireCuda();
        using var owner = new CudaStream(device);
        var wrapper = CudaStream.FromHandle(owner.Handle, device);
        Assert.IsFalse(wrapper.IsOwner);
        Small(3).Run<BFloat16>(device, wrapper);
        wrapper.Dispose();
        // The underlying stream was not destroyed: work on it still runs.
        Small(4).Run<BFloat16>(device, owner);
        owner.Synchronize();
    }

    [TestMethod]
    public void StreamOfAnotherDevice_ThrowsArgumentException()
    {
        var device = TestDevices.RequireCuda();
        using var q = DeviceTensor<Half>.Allocate(device, 1, 4, 2, 64);
        using var o = DeviceTensor<Half>.Allocate(device, 1, 4, 2, 64);
        // A wrapper that claims another device; it is refused before anything uses it.
        using var foreign = CudaStream.FromHandle((IntPtr)0x1000, Device.Cuda(device.Id + 1));
        var e = Assert.Throws<ArgumentException>(() => Attention.SequencePrefill(q, q, q, o, new[] { 4 }, MaskMode.Padded, null, null, foreign));
        Assert.AreEqual("stream", e.ParamName);
    }

    [TestMethod]
    public void HostLengthBufferWithCudaTensors_ThrowsArgumentException()
    {
        var device = TestDevices.RequireCuda();
        using var q = DeviceTensor<Half>.Allocate(device, 2, 4, 2, 64);
        using var o = DeviceTensor<Half>.Allocate(device, 2, 4, 2, 64);
        using var hostLens = DeviceBuffer<int>.Create(Device.Cpu, new[] { 1, 4 });
        var e = Assert.Throws<ArgumentException>(() => Attention.SequencePrefill(q, q, q, o, hostLens, null, MaskMode.Padded));
        Assert.AreEqual("qValidLens", e.ParamName);
        using var cpuK = DeviceTensor<Half>.Allocate(Device.Cpu, 2, 4, 2, 64);
        e = Assert.Throws<ArgumentException>(() => Attention.SequencePrefill(q, cpuK, q, o, new[] { 1, 4 }, MaskMode.Padded));
        Assert.AreEqual("k", e.ParamName);
    }

    [TestMethod]
    [DataRow(48)]
    [DataRow(40)]
    [DataRow(512)]
    public void UnsupportedHeadDim_IsRefusedByTheNativeLayer_NamingIt(int headDim)
    {
        var device = TestDevices.RequireCuda();
        using var q = DeviceTensor<Half>.Allocate(device, 1, 8, 2, headDim);
        using var o = DeviceTensor<Half>.Allocate(device, 1, 8, 2, headDim);
        var e = Assert.Throws<PaddedAttentionException>(() => Attention.SequencePrefill(q, q, q, o, new[] { 8 }, MaskMode.CausalPaddedLeft));
        Assert.AreEqual(AttentionStatus.Unsupported, e.Status);
        StringAssert.Contains(e.NativeMessage, "head_dim");
        StringAssert.Contains(e.NativeMessage, headDim.ToString());
        // Decode refuses it too, and the device keeps working afterwards.
        e = Assert.Throws<PaddedAttentionException>(() => Attention.Decode(q.Slice(1, 0, 1), q, q, o.Slice(1, 0, 1), ReadOnlySpan<int>.Empty, PaddingSide.Left));
        Assert.AreEqual(AttentionStatus.Unsupported, e.Status);
        Small(5).Run<Half>(device);
    }

    [TestMethod]
    public void Float32OnCuda_IsUnsupported()
    {
        var device = TestDevices.RequireCuda();
        using var q = DeviceTensor<float>.Allocate(device, 1, 8, 2, 64);
        using var o = DeviceTensor<float>.Allocate(device, 1, 8, 2, 64);
        var e = Assert.Throws<PaddedAttentionException>(() => Attention.SequencePrefill(q, q, q, o, MaskMode.Padded));
        Assert.AreEqual(AttentionStatus.Unsupported, e.Status);
        StringAssert.Contains(e.NativeMessage, "F32");
    }

    [TestMethod]
    public void WrappedDevicePointer_IsNeverFreed()
    {
        var device = TestDevices.RequireCuda();
        using var owner = DeviceBuffer<float>.Create(device, new[] { 1f, 2f, 3f, 4f });
        var wrapper = DeviceBuffer<float>.Wrap(owner.Pointer, 4, device);
        Assert.IsFalse(wrapper.IsOwner);
        CollectionAssert.AreEqual(new[] { 1f, 2f, 3f, 4f }, wrapper.ToArray());
        wrapper.Dispose();
        using (var view = DeviceTensor<float>.FromPointer(owner.Pointer, device, new long[] { 2, 2 })) { }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        owner.CopyFrom(new[] { 5f }, 3);
        CollectionAssert.AreEqual(new[] { 1f, 2f, 3f, 5f }, owner.ToArray());
    }

    [TestMethod]
    [DoNotParallelize]
    public void AllocateDisposeLoop_DoesNotLeakDeviceMemory()
    {
        var device = TestDevices.RequireCuda();
        long total = device.GetProperties().TotalGlobalMemory;
        const long chunk = 256L << 20;
        // Twice the device's memory in 256 MiB buffers: any leak ends in OutOfMemory.
        long iterations = 2 * total / chunk;
        for (long i = 0; i < iterations; i++)
        {
            using var buffer = DeviceBuffer<int>.Allocate(device, chunk / sizeof(int));
            buffer.FillBytes(0xAB);
        }
    }

    [TestMethod]
    [DoNotParallelize]
    public void FinalizerPath_FreesUndisposedDeviceBuffers()
    {
        var device = TestDevices.RequireCuda();
        long total = device.GetProperties().TotalGlobalMemory;
        const long chunk = 512L << 20;
        // Three rounds of ~60% of the device each, never disposed: only finalizers free them.
        for (int round = 0; round < 3; round++)
        {
            AllocateAndDrop(device, (int)(total * 6 / 10 / chunk), chunk);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
        }
        Small(6).Run<Half>(device);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void AllocateAndDrop(Device device, int count, long chunk)
    {
        for (int i = 0; i < count; i++) _ = DeviceBuffer<int>.Allocate(device, chunk / sizeof(int));
    }
}
