namespace PaddedAttention.Tests.Api;

/// <summary>PaddedAttentionLibrary.Capabilities agrees with the version string and the device count.</summary>
[TestClass]
public sealed class CapabilitiesTests
{
    [TestMethod]
    public void Capabilities_DescribeTheLoadedBuild()
    {
        var caps = PaddedAttentionLibrary.Capabilities;
        bool cpuOnly = PaddedAttentionLibrary.Version.Contains("CPU-only", StringComparison.Ordinal);
        Assert.AreEqual(!cpuOnly, caps.CudaBuilt);
        Assert.IsFalse(string.IsNullOrWhiteSpace(caps.CpuIsa));
        if (caps.CudaBuilt)
        {
            Assert.IsTrue(caps.CudaRuntimeVersion >= 11000, $"{caps.CudaRuntimeVersion}");
            Assert.IsTrue(caps.CudaArchitectures.Count > 0);
            foreach (string arch in caps.CudaArchitectures)
                StringAssert.Matches(arch, new System.Text.RegularExpressions.Regex("^sm_[0-9]{2,3}a?$"));
        }
        else
        {
            Assert.AreEqual(0, caps.CudaRuntimeVersion);
            Assert.AreEqual(0, caps.CudaArchitectures.Count);
            Assert.AreEqual(0, Device.CudaDeviceCount);
        }
    }

    [TestMethod]
    [TestCategory("GPU")]
    public void OnAGpu_TheDevicesArchitectureIsCompiledIn()
    {
        var device = Support.TestDevices.RequireCuda();
        var props = device.GetProperties();
        var caps = PaddedAttentionLibrary.Capabilities;
        int major = props.ComputeCapabilityMajor * 10;
        // Code for sm_XY runs on devices X.Y and newer minor revisions of X.
        Assert.IsTrue(caps.CudaArchitectures.Any(a => int.Parse(a[3..].TrimEnd('a'), System.Globalization.CultureInfo.InvariantCulture) / 10 * 10 == major),
            $"{props.Name} (sm_{props.ComputeCapabilityMajor}{props.ComputeCapabilityMinor}) vs [{string.Join(", ", caps.CudaArchitectures)}]");
    }
}
