using System;
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PaddedAttention.Interop;

namespace PaddedAttention.Internal;

/// <summary>
/// Base of the library's handles: a pointer that is released exactly once, by
/// Dispose or by the finalizer, unless the handle does not own it (a wrapped
/// foreign pointer, which is never released). Release never throws.
/// </summary>
internal abstract class NativePointerHandle : SafeHandle
{
    protected NativePointerHandle(IntPtr pointer, bool ownsHandle)
        : base(IntPtr.Zero, ownsHandle)
    {
        SetHandle(pointer);
        IsOwner = ownsHandle;
    }

    /// <summary>Whether disposing releases the memory or stream.</summary>
    public bool IsOwner { get; }

    // Zero is a valid value for some handles (the default CUDA stream, an
    // empty buffer), so validity is not judged by the value: only closing counts.
    public override bool IsInvalid => false;

    /// <summary>The pointer; ObjectDisposedException once closed.</summary>
    public IntPtr GetPointer(string objectName)
    {
        // Not ObjectDisposedException.ThrowIf (CA1513): the exception names the
        // public wrapper ("DeviceBuffer<Half>"), which the handle knows only as text.
#pragma warning disable CA1513
        if (IsClosed)
        {
            throw new ObjectDisposedException(objectName);
        }
#pragma warning restore CA1513
        return handle;
    }

    protected sealed override bool ReleaseHandle()
    {
        if (handle == IntPtr.Zero)
        {
            return true;
        }
        try
        {
            return Release(handle);
        }
        catch (Exception)
        {
            return false; // a finalizer must not throw; the runtime reports the failed release
        }
    }

    protected abstract bool Release(IntPtr pointer);
}

/// <summary>
/// An owned allocation the garbage collector cannot see: its size is reported
/// with GC.AddMemoryPressure while it lives, so that forgotten (undisposed)
/// buffers make collections, and with them their finalizers, come sooner.
/// </summary>
internal abstract class AllocationHandle : NativePointerHandle
{
    private readonly long _pressureBytes;

    protected AllocationHandle(IntPtr pointer, bool ownsHandle, long bytes) : base(pointer, ownsHandle)
    {
        if (ownsHandle && bytes > 0)
        {
            _pressureBytes = bytes;
            GC.AddMemoryPressure(bytes);
        }
    }

    /// <summary>The bytes reported to the GC (0 for a wrapped foreign pointer).</summary>
    public long PressureBytes => _pressureBytes;

    protected sealed override bool Release(IntPtr pointer)
    {
        bool released = Free(pointer);
        if (_pressureBytes > 0)
        {
            GC.RemoveMemoryPressure(_pressureBytes);
        }
        return released;
    }

    protected abstract bool Free(IntPtr pointer);
}

/// <summary>CUDA device memory from pattn_device_malloc.</summary>
internal sealed class DeviceMemoryHandle : AllocationHandle
{
    public DeviceMemoryHandle(IntPtr pointer, bool ownsHandle, long bytes = 0) : base(pointer, ownsHandle, bytes) { }

    protected override unsafe bool Free(IntPtr pointer) =>
        NativeMethods.pattn_device_free((void*)pointer) == PattnStatus.Success;
}

/// <summary>Host memory: 64-byte aligned from NativeMemory, or page-locked from pattn_host_malloc_pinned.</summary>
internal sealed class HostMemoryHandle : AllocationHandle
{
    private readonly bool _pinned;

    public HostMemoryHandle(IntPtr pointer, bool ownsHandle, bool pinned, long bytes = 0) : base(pointer, ownsHandle, bytes) => _pinned = pinned;

    protected override unsafe bool Free(IntPtr pointer)
    {
        if (_pinned)
        {
            return NativeMethods.pattn_host_free_pinned((void*)pointer) == PattnStatus.Success;
        }
        NativeMemory.AlignedFree((void*)pointer);
        return true;
    }
}

/// <summary>
/// Managed memory (an array, a <see cref="Memory{T}"/>) seen through a buffer.
/// It is pinned only while a library call uses it (see <see cref="HandleLease"/>):
/// the pointer is valid inside a lease and zero outside, so no long-lived pin
/// fragments the managed heap. Nothing is freed; the memory belongs to its owner.
/// </summary>
internal sealed class ManagedMemoryHandle : NativePointerHandle
{
    private readonly Func<MemoryHandle> _pin;
    private readonly object _gate = new();
    private MemoryHandle _pinned;
    private int _pins;

    public ManagedMemoryHandle(Func<MemoryHandle> pin) : base(IntPtr.Zero, ownsHandle: false) => _pin = pin;

    public unsafe void Pin()
    {
        lock (_gate)
        {
            if (_pins++ == 0)
            {
                _pinned = _pin();
                SetHandle((IntPtr)_pinned.Pointer);
            }
        }
    }

    public void Unpin()
    {
        lock (_gate)
        {
            if (--_pins == 0)
            {
                SetHandle(IntPtr.Zero);
                _pinned.Dispose();
                _pinned = default;
            }
        }
    }

    protected override bool Release(IntPtr pointer) => true;
}

/// <summary>A CUDA event from pattn_event_create.</summary>
internal sealed class EventHandle : NativePointerHandle
{
    public EventHandle(IntPtr cudaEvent) : base(cudaEvent, ownsHandle: true) { }

    protected override unsafe bool Release(IntPtr cudaEvent) =>
        NativeMethods.pattn_event_destroy((void*)cudaEvent) == PattnStatus.Success;
}

/// <summary>A CUDA stream from pattn_stream_create.</summary>
internal sealed class StreamHandle : NativePointerHandle
{
    public StreamHandle(IntPtr stream, bool ownsHandle) : base(stream, ownsHandle) { }

    protected override unsafe bool Release(IntPtr stream) =>
        NativeMethods.pattn_stream_destroy((void*)stream) == PattnStatus.Success;
}

/// <summary>
/// Keeps handles from being released while a native call uses their pointers
/// (another thread may Dispose meanwhile). AddRef on a closed handle throws
/// ObjectDisposedException.
/// </summary>
internal struct HandleLease : IDisposable
{
    // Room for every handle one call leases (prefill: q, k, v, output, lse, the
    // stream and up to four length or offset buffers), inline: a lease is made
    // for every call, and a list per call was a heap allocation per call.
    private const int Capacity = 12;
    private HeldHandles _held;
    private int _count;

    public void Add(SafeHandle? handle)
    {
        if (handle is null)
        {
            return;
        }
        if (_count == Capacity)
        {
            throw new InvalidOperationException($"A call leases at most {Capacity} handles.");
        }
        bool added = false;
        handle.DangerousAddRef(ref added);
        if (added)
        {
            _held[_count++] = handle;
            (handle as ManagedMemoryHandle)?.Pin();
        }
    }

    public void Dispose()
    {
        for (int i = 0; i < _count; i++)
        {
            var handle = _held[i]!;
            _held[i] = null;
            (handle as ManagedMemoryHandle)?.Unpin();
            handle.DangerousRelease();
        }
        _count = 0;
    }

    [InlineArray(Capacity)]
    private struct HeldHandles
    {
        private SafeHandle? _element;
    }
}

/// <summary>The pattern of every call on a stream or event: lease the handles, call, throw on failure.</summary>
internal static class LeasedCall
{
    /// <summary>Runs <paramref name="call"/> with the raw values of the handles (zero for a null second), kept alive for it.</summary>
    public static void Run(SafeHandle first, SafeHandle? second, Func<IntPtr, IntPtr, PattnStatus> call)
    {
        var lease = new HandleLease();
        try
        {
            lease.Add(first);
            lease.Add(second);
            PaddedAttentionLibrary.ThrowIfFailed(call(first.DangerousGetHandle(), second?.DangerousGetHandle() ?? IntPtr.Zero));
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>Creates a stream or event of a CUDA device through <paramref name="create"/> (pattn_stream_create, pattn_event_create).</summary>
    public static unsafe IntPtr CreateOnDevice(Device device, string what, delegate*<int, void**, PattnStatus> create)
    {
        if (!device.IsCuda)
        {
            throw new ArgumentException($"A CUDA {what} needs a CUDA device; CPU work is synchronous and takes none.", nameof(device));
        }
        PaddedAttentionLibrary.EnsureLoaded();
        void* created = null;
        PaddedAttentionLibrary.ThrowIfFailed(create(device.Id, &created));
        return (IntPtr)created;
    }
}
