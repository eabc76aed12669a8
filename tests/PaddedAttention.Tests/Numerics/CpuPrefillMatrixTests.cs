using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Numerics;

/// <summary>The prefill matrix on the CPU backend (f32/f16/bf16), through the public API.</summary>
[TestClass]
public sealed class CpuPrefillMatrixTests
{
    public static IEnumerable<object[]> Rows => PrefillMatrix.Rows(cuda: false);

    public static string RowName(System.Reflection.MethodInfo method, object[] row) => $"{method.Name}({row[0]}, d{row[1]}, {row[2]})";

    [TestMethod]
    [DynamicData(nameof(Rows), DynamicDataDisplayName = nameof(RowName))]
    public void Padded(string dtype, int headDim, string heads)
        => PrefillMatrix.RunRow(Device.Cpu, MaskMode.Padded, dtype, headDim, heads);

    [TestMethod]
    [DynamicData(nameof(Rows), DynamicDataDisplayName = nameof(RowName))]
    public void CausalPaddedLeft(string dtype, int headDim, string heads)
        => PrefillMatrix.RunRow(Device.Cpu, MaskMode.CausalPaddedLeft, dtype, headDim, heads);

    [TestMethod]
    [DynamicData(nameof(Rows), DynamicDataDisplayName = nameof(RowName))]
    public void CausalPaddedRight(string dtype, int headDim, string heads)
        => PrefillMatrix.RunRow(Device.Cpu, MaskMode.CausalPaddedRight, dtype, headDim, heads);

    [TestMethod]
    [DynamicData(nameof(Rows), DynamicDataDisplayName = nameof(RowName))]
    public void PaddedLeft(string dtype, int headDim, string heads)
        => PrefillMatrix.RunRow(Device.Cpu, MaskMode.PaddedLeft, dtype, headDim, heads);

    [TestMethod]
    [DynamicData(nameof(Rows), DynamicDataDisplayName = nameof(RowName))]
    public void NoLengths(string dtype, int headDim, string heads)
        => PrefillMatrix.RunRow(Device.Cpu, null, dtype, headDim, heads);
}
