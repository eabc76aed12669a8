using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Numerics;

/// <summary>The prefill matrix on CUDA device 0 (f16/bf16; device lengths with out-of-range values); inconclusive without a device.</summary>
[TestClass]
[TestCategory("GPU")]
public sealed class CudaPrefillMatrixTests
{
    public static IEnumerable<object[]> Rows => PrefillMatrix.Rows(cuda: true);

    public static string RowName(System.Reflection.MethodInfo method, object[] row) => $"{method.Name}({row[0]}, d{row[1]}, {row[2]})";

    [TestMethod]
    [DynamicData(nameof(Rows), DynamicDataDisplayName = nameof(RowName))]
    public void Padded(string dtype, int headDim, string heads)
        => PrefillMatrix.RunRow(TestDevices.RequireCuda(), MaskMode.Padded, dtype, headDim, heads);

    [TestMethod]
    [DynamicData(nameof(Rows), DynamicDataDisplayName = nameof(RowName))]
    public void CausalPaddedLeft(string dtype, int headDim, string heads)
    {
        // The left-padded modes run on a stream of their own; the others on the default stream.
        var device = TestDevices.RequireCuda();
        using var stream = new CudaStream(device);
        PrefillMatrix.RunRow(device, MaskMode.CausalPaddedLeft, dtype, headDim, heads, stream);
    }

    [TestMethod]
    [DynamicData(nameof(Rows), DynamicDataDisplayName = nameof(RowName))]
    public void CausalPaddedRight(string dtype, int headDim, string heads)
        => PrefillMatrix.RunRow(TestDevices.RequireCuda(), MaskMode.CausalPaddedRight, dtype, headDim, heads);

    [TestMethod]
    [DynamicData(nameof(Rows), DynamicDataDisplayName = nameof(RowName))]
    public void PaddedLeft(string dtype, int headDim, string heads)
    {
        // The left-padded modes run on a stream of their own; the others on the default stream.
        var device = TestDevices.RequireCuda();
        using var stream = new CudaStream(device);
        PrefillMatrix.RunRow(device, MaskMode.PaddedLeft, dtype, headDim, heads, stream);
    }

    [TestMethod]
    [DynamicData(nameof(Rows), DynamicDataDisplayName = nameof(RowName))]
    public void NoLengths(string dtype, int headDim, string heads)
        => PrefillMatrix.RunRow(TestDevices.RequireCuda(), null, dtype, headDim, heads);
}
