using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Numerics;

/// <summary>Prefill after a cached prefix against a paged KV cache on the CPU backend, against the float64 reference.</summary>
[TestClass]
public sealed class CpuPagedPrefillTests
{
    [TestMethod]
    [DataRow("f32")]
    [DataRow("f16")]
    [DataRow("bf16")]
    public void PrefillPaged_MatchesReference(string dtype) => PagedPrefillScenario.RunAll(Device.Cpu, dtype);

    [TestMethod]
    public void PrefillPaged_RejectsLeftPadding_APageOutOfRange_AndAnotherDevicesTable()
    {
        var device = Device.Cpu;
        using var q = DeviceTensor<Half>.Allocate(device, 2, 3, 2, 64);
        using var k = DeviceTensor<Half>.Allocate(device, 3, 4, 2, 64);
        using var v = DeviceTensor<Half>.Allocate(device, 3, 4, 2, 64);
        using var o = DeviceTensor<Half>.Allocate(device, 2, 3, 2, 64);
        using var table = DeviceTensor<int>.Allocate(device, 2, 2);
        table.Buffer!.CopyFrom(new[] { 0, 1, 7, -1 });
        int[] qLens = { 3, 1 };
        Assert.Throws<ArgumentException>(() => Attention.PrefillPaged(q, k, v, o, table, new[] { 3 }, new[] { 5, 1 }, MaskMode.CausalPaddedRight));
        // Keys are appended at the end of a row: left padding is refused natively (mask_mode -> maskMode).
        var left = Assert.ThrowsExactly<PaddedAttentionArgumentException>(() =>
            Attention.PrefillPaged(q, k, v, o, table, qLens, new[] { 5, 1 }, MaskMode.CausalPaddedLeft));
        Assert.AreEqual("maskMode", left.ParamName);
        // Row 1's first page index (7) is read: out of range, named after the C# parameter.
        var native = Assert.ThrowsExactly<PaddedAttentionArgumentException>(() =>
            Attention.PrefillPaged(q, k, v, o, table, qLens, new[] { 5, 1 }, MaskMode.CausalPaddedRight));
        Assert.AreEqual("pageTable", native.ParamName);
        Assert.AreEqual(AttentionStatus.InvalidArgument, native.Status);
        StringAssert.Contains(native.NativeMessage, "page_table[1][0] = 7");
        // A page size of 257 is past the paged prefill's 1..256 (k -> kPages).
        using var big = DeviceTensor<Half>.Allocate(device, 1, 257, 2, 64);
        var size = Assert.ThrowsExactly<PaddedAttentionArgumentException>(() =>
            Attention.PrefillPaged(q, big, big, o, table, qLens, new[] { 5, 1 }, MaskMode.Padded));
        Assert.AreEqual("kPages", size.ParamName);
        // Row 1 without a prefix runs; its unused entry -1 is never read.
        table.Buffer!.CopyFrom(new[] { 0, 1, 2, -1 });
        Attention.PrefillPaged(q, k, v, o, table, qLens, new[] { 5, 1 }, MaskMode.CausalPaddedRight);
    }
}
