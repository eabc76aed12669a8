using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Numerics;

/// <summary>Sliding window, soft cap and the packed layout on the CPU backend, against the float64 reference.</summary>
[TestClass]
public sealed class CpuVariantTests
{
    public static IEnumerable<object[]> Windows()
    {
        // (left, right): the diagonal only, one key each side, larger than every row, left-only, right-only.
        int[][] windows = { new[] { 0, 0 }, new[] { 1, 1 }, new[] { 1000, 1000 }, new[] { 17, -1 }, new[] { -1, 17 } };
        foreach (MaskMode mask in Enum.GetValues<MaskMode>())
            foreach (var w in windows)
                yield return new object[] { mask, w[0], w[1] };
    }

    [TestMethod]
    [DynamicData(nameof(Windows))]
    public void Window_MatchesReference(MaskMode mask, int left, int right)
    {
        VariantChecks.Padded<float>(Device.Cpu, mask, new SlidingWindow(left, right), 0f, 64, 100 + left + right);
        VariantChecks.Padded<BFloat16>(Device.Cpu, mask, new SlidingWindow(left, right), 0f, 128, 200 + left + right);
    }

    [TestMethod]
    [DataRow(MaskMode.Padded, 30f)]
    [DataRow(MaskMode.CausalPaddedLeft, 5f)]
    [DataRow(MaskMode.PaddedLeft, 1.5f)]
    public void SoftCap_WithLargeLogits_MatchesReference(MaskMode mask, float cap)
    {
        VariantChecks.Padded<float>(Device.Cpu, mask, null, cap, 64, 300);
        VariantChecks.Padded<Half>(Device.Cpu, mask, new SlidingWindow(20, 5), cap, 128, 301);
    }

    [TestMethod]
    [DataRow(PaddingSide.Right, 0, 0f)]
    [DataRow(PaddingSide.Left, 100, 0f)]
    [DataRow(PaddingSide.Right, 31, 10f)]
    public void Decode_WindowAndSoftCap_MatchReference(PaddingSide side, int windowLeft, float cap)
    {
        VariantChecks.Decode<float>(Device.Cpu, side, windowLeft, cap, 64, 400 + windowLeft);
        VariantChecks.Decode<BFloat16>(Device.Cpu, side, windowLeft, cap, 128, 401 + windowLeft);
    }

    [TestMethod]
    [DataRow(false, -2, -2, 0f)]
    [DataRow(true, -2, -2, 0f)]
    [DataRow(true, 8, -1, 0f)]
    [DataRow(false, 4, 12, 3f)]
    public void Packed_MatchesReference_NothingLeaks(bool causal, int left, int right, float cap)
    {
        SlidingWindow? window = left == -2 ? null : new SlidingWindow(left, right);
        VariantChecks.Packed<float>(Device.Cpu, causal, window, cap, 64, false, 500);
        VariantChecks.Packed<Half>(Device.Cpu, causal, window, cap, 40, false, 501);
    }

    [TestMethod]
    public void Options_OutOfRange_Throw()
    {
        using var q = DeviceTensor<float>.Allocate(Device.Cpu, 1, 2, 1, 8);
        using var o = DeviceTensor<float>.Allocate(Device.Cpu, 1, 2, 1, 8);
        // Refused by the native checks, reported against the C# parameter that carries the field.
        var e = Assert.ThrowsExactly<PaddedAttentionArgumentException>(() => Attention.SequencePrefill(q, q, q, o, MaskMode.Padded,
            options: new PrefillOptions { Window = new SlidingWindow(-2, 0) }));
        Assert.AreEqual("options", e.ParamName);
        e = Assert.ThrowsExactly<PaddedAttentionArgumentException>(() => Attention.SequencePrefill(q, q, q, o, MaskMode.Padded,
            options: new PrefillOptions { LogitsSoftCap = float.NaN }));
        Assert.AreEqual("options", e.ParamName);
        using var q3 = DeviceTensor<float>.Allocate(Device.Cpu, 4, 1, 8);
        using var o3 = DeviceTensor<float>.Allocate(Device.Cpu, 4, 1, 8);
        Assert.Throws<ArgumentOutOfRangeException>(() => Attention.PackedPrefill(q3, q3, q3, o3, new[] { 0, 3, 2 }, default, true));
        Assert.ThrowsExactly<ArgumentException>(() => Attention.PackedPrefill(q3, q3, q3, o3, new[] { 0, 2 }, new[] { 0, 1, 2 }, true));
        Assert.Throws<ArgumentException>(() => Attention.PackedPrefill(q, q, q, o, new[] { 0, 2 }, default, true));
    }
}
