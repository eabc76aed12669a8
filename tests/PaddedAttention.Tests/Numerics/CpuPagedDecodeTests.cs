using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Numerics;

/// <summary>Decode against a paged KV cache on the CPU backend, against the float64 reference.</summary>
[TestClass]
public sealed class CpuPagedDecodeTests
{
    [TestMethod]
    [DataRow("f32")]
    [DataRow("f16")]
    [DataRow("bf16")]
    public void DecodePaged_MatchesReference(string dtype) => PagedDecodeScenario.RunAll(Device.Cpu, dtype);

    [TestMethod]
    public void DecodePaged_RejectsATableOfAnotherBatch_AndAPageOutOfRange()
    {
        var device = Device.Cpu;
        using var q = DeviceTensor<Half>.Allocate(device, 2, 1, 2, 64);
        using var k = DeviceTensor<Half>.Allocate(device, 3, 4, 2, 64);
        using var v = DeviceTensor<Half>.Allocate(device, 3, 4, 2, 64);
        using var o = DeviceTensor<Half>.Allocate(device, 2, 1, 2, 64);
        using var wrongRows = DeviceTensor<int>.Allocate(device, 3, 2);
        var e = Assert.Throws<ArgumentException>(() => Attention.DecodePaged(q, k, v, o, wrongRows, new[] { 1, 1 }));
        Assert.AreEqual("pageTable", e.ParamName);
        using var table = DeviceTensor<int>.Allocate(device, 2, 2);
        table.Buffer!.CopyFrom(new[] { 0, 1, 7, -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => Attention.DecodePaged(q, k, v, o, table, new[] { 9, 1 }));
        // A page index out of range is a bad argument the native checks name (page_table -> pageTable).
        var native = Assert.ThrowsExactly<PaddedAttentionArgumentException>(() => Attention.DecodePaged(q, k, v, o, table, new[] { 5, 1 }));
        Assert.AreEqual("pageTable", native.ParamName);
        Assert.AreEqual(AttentionStatus.InvalidArgument, native.Status);
        StringAssert.Contains(native.NativeMessage, "page_table[1][0] = 7");
    }
}
