using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Api;

/// <summary>Dispose, double dispose, use after dispose, finalizers and foreign memory.</summary>
[TestClass]
public sealed class LifetimeTests
{
    [TestMethod]
    public void Buffer_DisposeTwice_IsHarmless_AndUseAfterDisposeThrows()
    {
        var buffer = DeviceBuffer<float>.Allocate(Device.Cpu, 100);
        Assert.IsTrue(buffer.IsOwner);
        Assert.AreEqual(400L, buffer.SizeInBytes);
        Assert.AreEqual(0L, buffer.Pointer.ToInt64() % 64, "host buffers are 64-byte aligned");
        buffer.Dispose();
        buffer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _ = buffer.Pointer);
        Assert.Throws<ObjectDisposedException>(() => buffer.ToArray());
        Assert.Throws<ObjectDisposedException>(() => buffer.CopyFrom(new float[1]));
        Assert.Throws<ObjectDisposedException>(() => buffer.CopyTo(new float[1]));
        Assert.Throws<ObjectDisposedException>(() => buffer.FillBytes(0));
        Assert.Throws<ObjectDisposedException>(() => buffer.AsTensor(100));
    }

    [TestMethod]
    public void Buffer_CopyRoundTrip_AtOffsets()
    {
        using var buffer = DeviceBuffer<BFloat16>.Allocate(Device.Cpu, 10);
        buffer.FillBytes(0);
        var data = Enumerable.Range(1, 4).Select(i => (BFloat16)(i * 1.5f)).ToArray();
        buffer.CopyFrom(data, 5);
        var back = new BFloat16[4];
        buffer.CopyTo(back, 5);
        CollectionAssert.AreEqual(data, back);
        var all = buffer.ToArray();
        Assert.AreEqual(0f, (float)all[4]);
        Assert.AreEqual(1.5f, (float)all[5]);
        Assert.AreEqual(0f, (float)all[9]);
    }

    [TestMethod]
    public void OwningTensor_DisposesItsBuffer_ViewsDoNot()
    {
        var owner = DeviceTensor<Half>.Allocate(Device.Cpu, 2, 3, 4, 8);
        var buffer = owner.Buffer!;
        var view = owner.Slice(2, 1, 2);
        Assert.AreEqual(2 * 3 * 2 * 8L, view.ElementCount);
        Assert.IsFalse(view.IsContiguous);
        view.Dispose();
        view.Dispose();
        _ = buffer.Pointer; // the view's disposal left the buffer alone
        owner.Dispose();
        owner.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _ = buffer.Pointer);
        Assert.Throws<ObjectDisposedException>(() => _ = owner.DataPointer);
    }

    [TestMethod]
    public void TensorOverCallerBuffer_LeavesTheBufferToTheCaller()
    {
        using var buffer = DeviceBuffer<float>.Allocate(Device.Cpu, 24);
        var tensor = new DeviceTensor<float>(buffer, new long[] { 2, 3, 4 });
        tensor.Dispose();
        buffer.FillBytes(0); // still alive
        var asTensor = buffer.AsTensor(4, 6);
        asTensor.Dispose();
        Assert.AreEqual(24, buffer.ToArray().Length);
    }

    [TestMethod]
    [DoNotParallelize]
    public void FinalizerPath_FreesUndisposedBuffers_WithoutCrashing()
    {
        AllocateAndDrop(2);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long before = ApiMisuseTests.ResidentBytes();
        AllocateAndDrop(20);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long growth = ApiMisuseTests.ResidentBytes() - before;
        // 20 x 64 MiB were allocated and touched; the finalizers must have freed them. (64 MiB is
        // above glibc's largest mmap threshold, so a freed buffer leaves the resident set at once.)
        Assert.IsTrue(growth < 300L << 20, $"resident memory grew by {growth >> 20} MiB after finalization");
        // And the library still works afterwards.
        using var b = DeviceBuffer<int>.Create(Device.Cpu, new[] { 1, 2, 3 });
        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, b.ToArray());
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void AllocateAndDrop(int count)
    {
        for (int i = 0; i < count; i++)
        {
            var buffer = DeviceBuffer<float>.Allocate(Device.Cpu, 16 << 20);
            buffer.FillBytes(0x3F);
            var tensor = DeviceTensor<Half>.Allocate(Device.Cpu, 2, 2, 2, 64);
            _ = tensor.Slice(1, 0, 1);
        }
    }

    [TestMethod]
    public unsafe void WrappedForeignMemory_IsNeverFreed_AndCanRunAttention()
    {
        const int b = 1, s = 5, h = 2, d = 64;
        long n = (long)b * s * h * d;
        float* memory = (float*)NativeMemory.AlignedAlloc((nuint)(3 * n * sizeof(float)), 64);
        float* output = (float*)NativeMemory.AlignedAlloc((nuint)(n * sizeof(float)), 64);
        try
        {
            var rng = new Random(3);
            for (long i = 0; i < 3 * n; i++) memory[i] = rng.NextSingle() - 0.5f;

            var wrapped = DeviceBuffer<float>.Wrap((IntPtr)memory, 3 * n, Device.Cpu);
            Assert.IsFalse(wrapped.IsOwner);
            Assert.AreEqual((IntPtr)memory, wrapped.Pointer);
            Assert.AreEqual(memory[7], wrapped.ToArray()[7]);
            wrapped.Dispose();
            wrapped.Dispose();
            Assert.Throws<ObjectDisposedException>(() => _ = wrapped.Pointer);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            // Still ours and intact: write and read it.
            memory[0] = 42f;
            Assert.AreEqual(42f, memory[0]);

            // Tensors straight over foreign pointers (no buffer) run attention too.
            using (var q = DeviceTensor<float>.FromPointer((IntPtr)memory, Device.Cpu, new long[] { b, s, h, d }))
            using (var k = DeviceTensor<float>.FromPointer((IntPtr)(memory + n), Device.Cpu, new long[] { b, s, h, d }))
            using (var v = DeviceTensor<float>.FromPointer((IntPtr)(memory + 2 * n), Device.Cpu, new long[] { b, s, h, d }))
            using (var o = DeviceTensor<float>.FromPointer((IntPtr)output, Device.Cpu, new long[] { b, s, h, d }))
            {
                Assert.IsFalse(q.Buffer!.IsOwner, "a tensor over a foreign pointer does not own it");
                Attention.SequencePrefill(q, k, v, o, MaskMode.CausalPaddedLeft);
            }
            // Row 0 of a causal problem sees only key 0: its output is v row 0 exactly (up to f32 rounding).
            for (int x = 0; x < d; x++)
                Assert.AreEqual(memory[2 * n + x], output[x], 1e-6f, $"element {x}");
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Assert.AreEqual(42f, memory[0]);
        }
        finally
        {
            NativeMemory.AlignedFree(memory);
            NativeMemory.AlignedFree(output);
        }
    }

    [TestMethod]
    public void ForeignStreamWrapper_DisposeLeavesTheHandleAlone()
    {
        var wrapper = CudaStream.FromHandle((IntPtr)0x1234, Device.Cuda(0));
        Assert.IsFalse(wrapper.IsOwner);
        Assert.AreEqual((IntPtr)0x1234, wrapper.Handle);
        Assert.AreEqual(Device.Cuda(0), wrapper.Device);
        wrapper.Dispose(); // must not try to destroy a stream it does not own
        wrapper.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _ = wrapper.Handle);
        Assert.Throws<ObjectDisposedException>(() => wrapper.Synchronize());
    }

    [TestMethod]
    public void DeviceValues_AndLibraryInfo()
    {
        Assert.AreEqual("cpu", Device.Cpu.ToString());
        Assert.AreEqual("cuda:1", Device.Cuda(1).ToString());
        Assert.AreEqual(Device.Cuda(0), Device.Cuda());
        Assert.AreNotEqual(Device.Cpu, Device.Cuda(0));
        Assert.IsTrue(Device.Cpu != Device.Cuda(0));
        Device.Cpu.Synchronize(); // no-op
        Assert.IsTrue(Device.CudaDeviceCount >= 0);
        Assert.AreEqual(Device.CudaDeviceCount > 0 ? Device.Cuda(0) : Device.Cpu, Device.Default);
        Assert.AreEqual(2u, PaddedAttentionLibrary.AbiVersion);
        StringAssert.StartsWith(PaddedAttentionLibrary.Version, "0.1.0");
        Assert.IsNotNull(PaddedAttentionLibrary.LoadedFrom);
    }
}
