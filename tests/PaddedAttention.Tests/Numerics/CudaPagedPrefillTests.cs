using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Numerics;

/// <summary>Prefill after a cached prefix against a paged KV cache on CUDA device 0 (inconclusive without one), against the float64 reference.</summary>
[TestClass]
[TestCategory("GPU")]
public sealed class CudaPagedPrefillTests
{
    [TestMethod]
    [DataRow("f16")]
    [DataRow("bf16")]
    public void PrefillPaged_MatchesReference(string dtype)
    {
        var device = TestDevices.RequireCuda();
        using var stream = new CudaStream(device);
        PagedPrefillScenario.RunAll(device, dtype, stream);
    }
}
