using System;
using System.Runtime.InteropServices;
using PaddedAttention.Interop;

namespace PaddedAttention;

/// <summary>Where memory lives and attention runs: the CPU, or CUDA device n.</summary>
public readonly struct Device : IEquatable<Device>
{
    private Device(DeviceKind kind, int id)
    {
        Kind = kind;
        Id = id;
    }

    /// <summary>CPU or CUDA.</summary>
    public DeviceKind Kind { get; }

    /// <summary>The CUDA device ordinal (0 for the CPU).</summary>
    public int Id { get; }

    /// <summary>The host: memory from the CPU allocator, attention on the CPU backend.</summary>
    public static Device Cpu => new(DeviceKind.Cpu, 0);

    /// <summary>CUDA device <paramref name="id"/>.</summary>
    /// <param name="id">The device ordinal, 0 or more.</param>
    /// <returns>The device.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is negative.</exception>
    public static Device Cuda(int id = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        return new Device(DeviceKind.Cuda, id);
    }

    /// <summary>Number of usable CUDA devices: 0 without a driver or GPU, or with a CPU-only build of the native library.</summary>
    /// <exception cref="DllNotFoundException">The native library could not be loaded.</exception>
    public static unsafe int CudaDeviceCount
    {
        get
        {
            PaddedAttentionLibrary.EnsureLoaded();
            int count;
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_device_count(&count));
            return count;
        }
    }

    /// <summary>The first CUDA device if there is one, else the CPU.</summary>
    public static Device Default => CudaDeviceCount > 0 ? Cuda(0) : Cpu;

    /// <summary>True for a CUDA device.</summary>
    public bool IsCuda => Kind == DeviceKind.Cuda;

    /// <summary>Name, compute capability and sizes of this CUDA device.</summary>
    /// <returns>The properties.</returns>
    /// <exception cref="InvalidOperationException">This is the CPU.</exception>
    /// <exception cref="PaddedAttentionException">The device does not exist, or CUDA is not built in.</exception>
    public unsafe DeviceProperties GetProperties()
    {
        if (!IsCuda)
        {
            throw new InvalidOperationException("Device properties exist only for CUDA devices; this is the CPU.");
        }
        PaddedAttentionLibrary.EnsureLoaded();
        PattnDeviceProperties properties = default;
        properties.struct_size = (uint)sizeof(PattnDeviceProperties);
        PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_device_get_properties(Id, &properties));
        var nameBytes = new ReadOnlySpan<byte>(properties.name, PattnConstants.DeviceNameSize);
        int end = nameBytes.IndexOf((byte)0);
        string name = System.Text.Encoding.UTF8.GetString(end < 0 ? nameBytes : nameBytes[..end]);
        return new DeviceProperties(
            properties.device_id, name, properties.compute_capability_major, properties.compute_capability_minor,
            properties.multiprocessor_count, properties.max_shared_memory_per_block_optin,
            checked((long)properties.total_global_memory), checked((long)properties.l2_cache_size));
    }

    /// <summary>Waits for all work queued on this CUDA device; does nothing for the CPU (its work is synchronous).</summary>
    /// <exception cref="PaddedAttentionException">The CUDA runtime reported an error.</exception>
    public void Synchronize()
    {
        if (!IsCuda)
        {
            return;
        }
        PaddedAttentionLibrary.EnsureLoaded();
        PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_device_synchronize(Id));
    }

    /// <summary>Same kind and id.</summary>
    /// <param name="other">The device to compare with.</param>
    /// <returns>Whether both name the same device.</returns>
    public bool Equals(Device other) => Kind == other.Kind && Id == other.Id;

    /// <summary>Same kind and id.</summary>
    /// <param name="obj">The object to compare with.</param>
    /// <returns>Whether <paramref name="obj"/> is the same device.</returns>
    public override bool Equals(object? obj) => obj is Device other && Equals(other);

    /// <summary>A hash of kind and id.</summary>
    /// <returns>The hash code.</returns>
    public override int GetHashCode() => HashCode.Combine(Kind, Id);

    /// <summary>"cpu" or "cuda:N".</summary>
    /// <returns>The text.</returns>
    public override string ToString() => IsCuda ? $"cuda:{Id}" : "cpu";

    /// <summary>Same kind and id.</summary>
    /// <param name="left">First device.</param>
    /// <param name="right">Second device.</param>
    public static bool operator ==(Device left, Device right) => left.Equals(right);

    /// <summary>Different kind or id.</summary>
    /// <param name="left">First device.</param>
    /// <param name="right">Second device.</param>
    public static bool operator !=(Device left, Device right) => !left.Equals(right);
}

/// <summary>Properties of a CUDA device.</summary>
/// <param name="DeviceId">The device ordinal.</param>
/// <param name="Name">The device name, e.g. "NVIDIA H100 80GB HBM3".</param>
/// <param name="ComputeCapabilityMajor">Compute capability, major part (9 for Hopper).</param>
/// <param name="ComputeCapabilityMinor">Compute capability, minor part.</param>
/// <param name="MultiprocessorCount">Number of streaming multiprocessors.</param>
/// <param name="MaxSharedMemoryPerBlockOptin">Most shared memory a block may opt in to, in bytes.</param>
/// <param name="TotalGlobalMemory">Global memory, in bytes.</param>
/// <param name="L2CacheSize">L2 cache, in bytes.</param>
public sealed record DeviceProperties(int DeviceId, string Name, int ComputeCapabilityMajor, int ComputeCapabilityMinor,
    int MultiprocessorCount, int MaxSharedMemoryPerBlockOptin, long TotalGlobalMemory, long L2CacheSize);
