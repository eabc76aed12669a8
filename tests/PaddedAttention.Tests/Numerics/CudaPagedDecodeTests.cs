using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Numerics;

/// <summary>Decode against a paged KV cache on CUDA device 0 (inconclusive without one), against the float64 reference.</summary>
[TestClass]
[TestCategory("GPU")]
public sealed class CudaPagedDecodeTests
{
    [TestMethod]
    [DataRow("f16")]
    [DataRow("bf16")]
    public void DecodePaged_MatchesReference(string dtype)
    {
        var device = TestDevices.RequireCuda();
        using var stream = new CudaStream(device);
        PagedDecodeScenario.RunAll(device, dtype, stream);
    }
}
