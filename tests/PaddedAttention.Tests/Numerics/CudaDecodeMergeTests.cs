using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Numerics;

/// <summary>Decode against a padded KV cache and MergeStates on CUDA device 0 (inconclusive without one), against the float64 reference.</summary>
[TestClass]
[TestCategory("GPU")]
public sealed class CudaDecodeMergeTests
{
    public static IEnumerable<object[]> Rows => PrefillMatrix.Rows(cuda: true);

    public static string RowName(System.Reflection.MethodInfo method, object[] row) => $"{method.Name}({row[0]}, d{row[1]}, {row[2]})";

    [TestMethod]
    [DynamicData(nameof(Rows), DynamicDataDisplayName = nameof(RowName))]
    public void Decode(string dtype, int headDim, string heads)
    {
        // On a stream of its own (the work is ordered on it; results are read after it synchronises).
        var device = TestDevices.RequireCuda();
        using var stream = new CudaStream(device);
        DecodeScenario.RunRow(device, dtype, headDim, heads, stream);
    }

    [TestMethod]
    [DataRow(64, false)]
    [DataRow(128, true)]
    [DataRow(256, false)]
    public void MergeOfSplitKeys_EqualsAttentionOverAllKeys(int headDim, bool inPlace)
    {
        var device = TestDevices.RequireCuda();
        using var stream = new CudaStream(device);
        MergeChecks.UnionIdentity<Half>(device, headDim, inPlace, stream);
        MergeChecks.UnionIdentity<BFloat16>(device, headDim, inPlace);
    }

    [TestMethod]
    [DataRow(64)]
    [DataRow(128)]
    [DataRow(256)]
    public void MergeOfSyntheticStates_MatchesFormula_WithInfiniteLse(int headDim)
    {
        var device = TestDevices.RequireCuda();
        using var stream = new CudaStream(device);
        MergeChecks.SyntheticStates<Half>(device, headDim, stream);
        MergeChecks.SyntheticStates<BFloat16>(device, headDim);
    }
}
