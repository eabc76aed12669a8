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

    /// <summary>CUDA devices 0 and 1, or the test ends inconclusive with fewer than two.</summary>
    public static (Device First, Device Second) RequireTwoCuda()
    {
        int count = Device.CudaDeviceCount;
        if (count < 2) Assert.Inconclusive($"{count} CUDA device(s); this test needs two");
        return (Device.Cuda(0), Device.Cuda(1));
    }
}
