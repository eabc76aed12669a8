namespace PaddedAttention.Tests.Api;

/// <summary>Shapes whose products or extents do not fit 64 bits are ArgumentException, never OverflowException or a wrapped count.</summary>
[TestClass]
public sealed class ShapeLimitTests
{
    private const long TwoTo31 = 1L << 31;

    [TestMethod]
    public void FromPointer_ShapeWhoseProductOverflows_IsArgumentException()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() =>
            DeviceTensor<float>.FromPointer(new IntPtr(4096), Device.Cpu, new[] { TwoTo31, TwoTo31, TwoTo31, TwoTo31 }));
        Assert.AreEqual("shape", error.ParamName);
        Assert.ThrowsExactly<ArgumentException>(() => DeviceTensor<float>.Allocate(Device.Cpu, TwoTo31, TwoTo31, TwoTo31, TwoTo31));
    }

    [TestMethod]
    public void StrideZeroView_WithMoreThan2To63Elements_IsRejected()
    {
        // Its extent is 2 elements, but its element count (2^94) does not fit: refusing it
        // keeps ElementCount honest (it used to wrap to 0, and MergeStates then did nothing).
        using var buffer = DeviceBuffer<float>.Allocate(Device.Cpu, 2);
        var error = Assert.ThrowsExactly<ArgumentException>(() =>
            new DeviceTensor<float>(buffer, new[] { TwoTo31, TwoTo31, TwoTo31, 2 }, new long[] { 0, 0, 0, 1 }));
        Assert.AreEqual("shape", error.ParamName);
    }

    [TestMethod]
    public void StrideZeroView_ThatFits_ReportsTheFullCount()
    {
        using var buffer = DeviceBuffer<float>.Allocate(Device.Cpu, 2);
        using var view = new DeviceTensor<float>(buffer, new[] { TwoTo31, TwoTo31 / 2, 2 }, new long[] { 0, 0, 1 });
        Assert.AreEqual(1L << 62, view.ElementCount);
        Assert.ThrowsExactly<ArgumentException>(() => new DeviceTensor<float>(buffer, new[] { TwoTo31, TwoTo31, 2 }, new long[] { 0, 0, 1 }));
    }

    [TestMethod]
    public void StridesWhoseExtentOverflows_AreArgumentException()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() =>
            DeviceTensor<float>.FromPointer(new IntPtr(4096), Device.Cpu, new long[] { 4, 2 }, new[] { long.MaxValue / 2, 1 }));
        Assert.AreEqual("strides", error.ParamName);
    }

    [TestMethod]
    public void FromPointerWithExtent_ChecksTheViewAgainstTheAllocation()
    {
        var ptr = new IntPtr(1 << 20);
        using (var ok = DeviceTensor<float>.FromPointer(ptr, 64, Device.Cpu, new long[] { 4, 8 }, null, 32))
        {
            Assert.AreEqual(32L, ok.ElementOffset);
            Assert.AreEqual(ptr + 32 * sizeof(float), ok.DataPointer);
            Assert.AreEqual(64L, ok.Buffer.Length);
            Assert.IsFalse(ok.Buffer.IsOwner);
        }
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            DeviceTensor<float>.FromPointer(ptr, 64, Device.Cpu, new long[] { 4, 8 }, null, 33));
        StringAssert.Contains(error.Message, "64 elements");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            DeviceTensor<float>.FromPointer(ptr, 64, Device.Cpu, new long[] { 4, 8 }, new long[] { 20, 1 }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            DeviceTensor<float>.FromPointer(ptr, -1, Device.Cpu, new long[] { 1 }));
        Assert.ThrowsExactly<ArgumentException>(() =>
            DeviceTensor<float>.FromPointer(IntPtr.Zero, 64, Device.Cpu, new long[] { 1 }));
    }
}
