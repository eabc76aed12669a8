namespace PaddedAttention.Tests.Api;

/// <summary>Owned buffers report their size to the GC while they live; wrappers and managed views report nothing.</summary>
[TestClass]
[DoNotParallelize]
public sealed class MemoryPressureTests
{
    [TestMethod]
    public void OwnedHostBuffer_ReportsItsBytes_WrappersDoNot()
    {
        using var owned = DeviceBuffer<float>.Allocate(Device.Cpu, 1 << 18);
        Assert.AreEqual(1L << 20, owned.MemoryPressureBytes);
        using var wrapped = DeviceBuffer<float>.Wrap(owned.Pointer, owned.Length, Device.Cpu);
        Assert.AreEqual(0L, wrapped.MemoryPressureBytes);
        using var managed = DeviceBuffer<float>.FromMemory(new float[16]);
        Assert.AreEqual(0L, managed.MemoryPressureBytes);
    }

    [TestMethod]
    public void UndisposedHostBuffers_AreCollectedBeforeMemoryRunsAway()
    {
        // 3,000 forgotten 1 MiB buffers: without memory pressure the GC sees only
        // their small managed objects and lets ~3 GB of native memory pile up.
        long before = Environment.WorkingSet;
        long peak = before;
        for (int i = 0; i < 3000; i++)
        {
            var buffer = DeviceBuffer<int>.Allocate(Device.Cpu, 1 << 18);
            buffer.FillBytes(1); // touch the pages so they count in the working set
            if (i % 100 == 0) peak = Math.Max(peak, Environment.WorkingSet);
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long growthMiB = (peak - before) >> 20;
        Assert.IsTrue(growthMiB < 1500, $"the working set grew by {growthMiB} MiB for 3000 MiB of undisposed buffers");
    }

    [TestMethod]
    [TestCategory("GPU")]
    public void OwnedDeviceBuffer_ReportsItsBytes()
    {
        var device = Support.TestDevices.RequireCuda();
        using var owned = DeviceBuffer<float>.Allocate(device, 1000);
        Assert.AreEqual(4000L, owned.MemoryPressureBytes);
        using var wrapped = DeviceBuffer<float>.Wrap(owned.Pointer, owned.Length, device);
        Assert.AreEqual(0L, wrapped.MemoryPressureBytes);
    }
}
