using System;
using System.Collections.Generic;
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
        if (IsClosed)
        {
            throw new ObjectDisposedException(objectName);
        }
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

/// <summary>CUDA device memory from pattn_device_malloc.</summary>
internal sealed class DeviceMemoryHandle : NativePointerHandle
{
    public DeviceMemoryHandle(IntPtr pointer, bool ownsHandle) : base(pointer, ownsHandle) { }

    protected override unsafe bool Release(IntPtr pointer) =>
        NativeMethods.pattn_device_free((void*)pointer) == PattnStatus.Success;
}

/// <summary>Host memory: 64-byte aligned from NativeMemory, or page-locked from pattn_host_malloc_pinned.</summary>
internal sealed class HostMemoryHandle : NativePointerHandle
{
    private readonly bool _pinned;

    public HostMemoryHandle(IntPtr pointer, bool ownsHandle, bool pinned) : base(pointer, ownsHandle) => _pinned = pinned;

    protected override unsafe bool Release(IntPtr pointer)
    {
        if (_pinned)
        {
            return NativeMethods.pattn_host_free_pinned((void*)pointer) == PattnStatus.Success;
        }
        NativeMemory.AlignedFree((void*)pointer);
        return true;
    }
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
    private List<SafeHandle>? _held;

    public void Add(SafeHandle? handle)
    {
        if (handle is null)
        {
            return;
        }
        bool added = false;
        handle.DangerousAddRef(ref added);
        if (added)
        {
            (_held ??= new List<SafeHandle>(8)).Add(handle);
        }
    }

    public void Dispose()
    {
        if (_held is null)
        {
            return;
        }
        foreach (var handle in _held)
        {
            handle.DangerousRelease();
        }
        _held = null;
    }
}
