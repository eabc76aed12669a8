using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Numerics;

/// <summary>Sliding window, soft cap and the packed layout on CUDA device 0 (inconclusive without one), against the float64 reference.</summary>
[TestClass]
[TestCategory("GPU")]
public sealed class CudaVariantTests
{
    public static IEnumerable<object[]> Windows() => CpuVariantTests.Windows();

    [TestMethod]
    [DynamicData(nameof(Windows))]
    public void Window_MatchesReference(MaskMode mask, int left, int right)
    {
        var device = TestDevices.RequireCuda();
        using var stream = new CudaStream(device);
        VariantChecks.Padded<Half>(device, mask, new SlidingWindow(left, right), 0f, 64, 100 + left + right, stream);
        VariantChecks.Padded<BFloat16>(device, mask, new SlidingWindow(left, right), 0f, 128, 200 + left + right);
        VariantChecks.Padded<Half>(device, mask, new SlidingWindow(left, right), 0f, 256, 250 + left + right);
    }

    [TestMethod]
    [DataRow(MaskMode.Padded, 30f)]
    [DataRow(MaskMode.CausalPaddedLeft, 5f)]
    [DataRow(MaskMode.PaddedLeft, 1.5f)]
    public void SoftCap_WithLargeLogits_MatchesReference(MaskMode mask, float cap)
    {
        var device = TestDevices.RequireCuda();
        VariantChecks.Padded<Half>(device, mask, null, cap, 64, 300);
        VariantChecks.Padded<BFloat16>(device, mask, new SlidingWindow(20, 5), cap, 128, 301);
    }

    [TestMethod]
    [DataRow(PaddingSide.Right, 0, 0f)]
    [DataRow(PaddingSide.Left, 100, 0f)]
    [DataRow(PaddingSide.Right, 31, 10f)]
    public void Decode_WindowAndSoftCap_MatchReference(PaddingSide side, int windowLeft, float cap)
    {
        var device = TestDevices.RequireCuda();
        VariantChecks.Decode<Half>(device, side, windowLeft, cap, 64, 400 + windowLeft);
        VariantChecks.Decode<BFloat16>(device, side, windowLeft, cap, 256, 401 + windowLeft);
    }

    [TestMethod]
    [DataRow(false, -2, -2, 0f, false)]
    [DataRow(true, -2, -2, 0f, true)]
    [DataRow(true, 8, -1, 0f, false)]
    [DataRow(false, 4, 12, 3f, true)]
    public void Packed_MatchesReference_NothingLeaks(bool causal, int left, int right, float cap, bool deviceOffsets)
    {
        var device = TestDevices.RequireCuda();
        SlidingWindow? window = left == -2 ? null : new SlidingWindow(left, right);
        VariantChecks.Packed<Half>(device, causal, window, cap, 64, deviceOffsets, 500);
        VariantChecks.Packed<BFloat16>(device, causal, window, cap, 128, deviceOffsets, 501);
    }
}
