namespace PaddedAttention.Tests.Support;

/// <summary>Device selection shared by the CPU and GPU suites.</summary>
public static class TestDevices
{
    /// <summary>CUDA device 0, or the test ends inconclusive when there is none.</summary>
    public static Device RequireCuda()
    {
        if (Device.CudaDeviceCount == 0) Assert.Inconclusive("no CUDA device");
        return Device.Cuda(0);
    }
}
