using System;
using System.Runtime.InteropServices;
using PaddedAttention.Internal;
using PaddedAttention.Interop;

namespace PaddedAttention;

/// <summary>
/// A contiguous array of <typeparamref name="T"/> in device memory (or, for
/// <see cref="Device.Cpu"/>, in 64-byte aligned native host memory). Freed by
/// <see cref="Dispose"/> or, if forgotten, by the finalizer; a buffer made by
/// <see cref="Wrap"/> is never freed by this library.
/// </summary>
/// <typeparam name="T">float, <see cref="Half"/>, <see cref="BFloat16"/> or int.</typeparam>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1000:Do not declare static members on generic types", Justification = "Factories on the element-typed class (DeviceBuffer<Half>.Allocate) are the API's shape, as for ImmutableArray<T> or Vector<T>; a non-generic factory would need the type argument anyway.")]
public sealed class DeviceBuffer<T> : IDisposable where T : unmanaged
{
    private const int HostAlignment = 64;
    private readonly NativePointerHandle _handle;

    private DeviceBuffer(NativePointerHandle handle, Device device, long length)
    {
        _handle = handle;
        Device = device;
        Length = length;
    }

    /// <summary>Allocates <paramref name="length"/> elements on <paramref name="device"/>; the contents are unspecified.</summary>
    /// <param name="device">Where to allocate: CUDA device memory, or aligned host memory for the CPU.</param>
    /// <param name="length">Number of elements, 0 or more.</param>
    /// <returns>An owning buffer.</returns>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, Half, BFloat16 or int.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative or too large.</exception>
    /// <exception cref="OutOfMemoryException">Host memory is exhausted.</exception>
    /// <exception cref="PaddedAttentionException">The device allocation failed (out of memory, no such device, no CUDA).</exception>
    public static unsafe DeviceBuffer<T> Allocate(Device device, long length)
    {
        _ = ElementTypeOf<T>.Value;
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ulong bytes = ByteCount(length, nameof(length));
        // At least one byte, so that an owned buffer always has a real address
        // (a null data pointer means "absent" to the C ABI).
        ulong allocationBytes = Math.Max(bytes, 1UL);
        if (!device.IsCuda)
        {
            void* memory = NativeMemory.AlignedAlloc((nuint)allocationBytes, HostAlignment);
            return new DeviceBuffer<T>(new HostMemoryHandle((IntPtr)memory, ownsHandle: true, pinned: false, (long)allocationBytes), device, length);
        }
        PaddedAttentionLibrary.EnsureLoaded();
        void* pointer = null;
        PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_device_malloc(device.Id, allocationBytes, &pointer));
        return new DeviceBuffer<T>(new DeviceMemoryHandle((IntPtr)pointer, ownsHandle: true, (long)allocationBytes), device, length);
    }

    /// <summary>Allocates a buffer of <paramref name="data"/>'s length on <paramref name="device"/> and copies <paramref name="data"/> into it.</summary>
    /// <param name="device">Where to allocate.</param>
    /// <param name="data">The initial contents.</param>
    /// <returns>An owning buffer holding a copy of <paramref name="data"/>.</returns>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, Half, BFloat16 or int.</exception>
    /// <exception cref="PaddedAttentionException">The allocation or the copy failed.</exception>
    public static DeviceBuffer<T> Create(Device device, ReadOnlySpan<T> data)
    {
        var buffer = Allocate(device, data.Length);
        try
        {
            buffer.CopyFrom(data);
            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Wraps memory owned by someone else (a TorchSharp or ONNX Runtime tensor,
    /// another CUDA library) without copying. Disposing the wrapper never frees
    /// the memory; the owner must keep it alive while the wrapper is used.
    /// </summary>
    /// <param name="pointer">Address of the first element, on <paramref name="device"/>.</param>
    /// <param name="length">Number of elements, 0 or more.</param>
    /// <param name="device">Where the memory is (CUDA device memory, or host memory for the CPU).</param>
    /// <returns>A non-owning buffer.</returns>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, Half, BFloat16 or int.</exception>
    /// <exception cref="ArgumentException"><paramref name="pointer"/> is zero while <paramref name="length"/> is not.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative or too large.</exception>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The parameter is a raw address from another library; 'pointer' says exactly that.")]
    public static DeviceBuffer<T> Wrap(IntPtr pointer, long length, Device device)
    {
        _ = ElementTypeOf<T>.Value;
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _ = ByteCount(length, nameof(length));
        if (pointer == IntPtr.Zero && length > 0)
        {
            throw new ArgumentException("A null pointer cannot hold elements.", nameof(pointer));
        }
        NativePointerHandle handle = device.IsCuda
            ? new DeviceMemoryHandle(pointer, ownsHandle: false)
            : new HostMemoryHandle(pointer, ownsHandle: false, pinned: false);
        return new DeviceBuffer<T>(handle, device, length);
    }

    /// <summary>
    /// A CPU buffer over managed memory (an array, a slice of one, any
    /// <see cref="Memory{T}"/>), without copying. The memory is pinned only
    /// while a library call uses it, so <see cref="Pointer"/> is not available;
    /// disposing the buffer leaves the memory to its owner.
    /// </summary>
    /// <param name="memory">The elements; the buffer reads and writes them in place.</param>
    /// <returns>A non-owning CPU buffer of <paramref name="memory"/>'s length.</returns>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, Half, BFloat16 or int.</exception>
    public static DeviceBuffer<T> FromMemory(Memory<T> memory)
    {
        _ = ElementTypeOf<T>.Value;
        return new DeviceBuffer<T>(new ManagedMemoryHandle(memory.Pin), Device.Cpu, memory.Length);
    }

    /// <summary>Where the memory is.</summary>
    public Device Device { get; }

    /// <summary>Number of elements.</summary>
    public long Length { get; }

    /// <summary>Size in bytes (<see cref="Length"/> times the element size).</summary>
    public unsafe long SizeInBytes => Length * sizeof(T);

    /// <summary>Whether disposing frees the memory (false for <see cref="Wrap"/>).</summary>
    public bool IsOwner => _handle.IsOwner;

    /// <summary>The address of the first element.</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="InvalidOperationException">The buffer is over managed memory (<see cref="FromMemory"/>), which has no fixed address outside a library call.</exception>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The property is the raw address handed to other libraries; 'Pointer' says exactly that.")]
    public IntPtr Pointer
    {
        get
        {
            IntPtr pointer = _handle.GetPointer(DisplayName);
            if (_handle is ManagedMemoryHandle && pointer == IntPtr.Zero && Length > 0)
            {
                throw new InvalidOperationException($"{DisplayName} over managed memory is pinned only during library calls and has no fixed address; pin the memory yourself (Memory<T>.Pin) to get one.");
            }
            return pointer;
        }
    }

    /// <summary>Bytes reported to the GC as memory pressure (0 unless the buffer owns its allocation).</summary>
    internal long MemoryPressureBytes => _handle is AllocationHandle allocation ? allocation.PressureBytes : 0;

    /// <summary>The element type of <typeparamref name="T"/>.</summary>
    public ElementType ElementType => ElementTypeOf<T>.Value;

    internal SafeHandle SafeHandle => _handle;

    internal bool IsDisposed => _handle.IsClosed;

    // Built once per element type: Pointer passes it on every call (a string
    // interpolated per access cost each attention call four allocations).
    private static readonly string DisplayName = $"DeviceBuffer<{typeof(T).Name}>";

    internal void ThrowIfDisposed()
    {
        if (_handle.IsClosed)
        {
            throw new ObjectDisposedException(DisplayName, "The buffer was disposed.");
        }
    }

    /// <summary>
    /// Copies <paramref name="source"/> into the buffer starting at element
    /// <paramref name="destinationOffset"/>. Returns when the data is in place
    /// (on CUDA, after all work queued on the device before it has finished too).
    /// </summary>
    /// <param name="source">The elements to copy.</param>
    /// <param name="destinationOffset">First element of the buffer to write.</param>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="destinationOffset"/> is outside the buffer.</exception>
    /// <exception cref="ArgumentException"><paramref name="source"/> does not fit after <paramref name="destinationOffset"/>.</exception>
    /// <exception cref="PaddedAttentionException">The CUDA copy failed.</exception>
    public unsafe void CopyFrom(ReadOnlySpan<T> source, long destinationOffset = 0)
    {
        ThrowIfDisposed();
        CheckRange(destinationOffset, source.Length, nameof(destinationOffset), nameof(source));
        if (source.IsEmpty)
        {
            return;
        }
        var lease = new HandleLease();
        try
        {
            lease.Add(_handle);
            T* destination = (T*)_handle.DangerousGetHandle() + destinationOffset;
            if (!Device.IsCuda)
            {
                source.CopyTo(new Span<T>(destination, source.Length));
                return;
            }
            PaddedAttentionLibrary.EnsureLoaded();
            fixed (T* sourcePointer = source)
            {
                PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_memcpy(destination, sourcePointer, (ulong)source.Length * (ulong)sizeof(T)));
            }
            // A copy from pageable memory may still be in flight when cudaMemcpy
            // returns, and kernels on non-blocking streams do not wait for it.
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_device_synchronize(Device.Id));
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>
    /// Copies elements starting at <paramref name="sourceOffset"/> into
    /// <paramref name="destination"/>. On CUDA it first waits for all work queued
    /// on the device (on any stream), so results of earlier launches are seen.
    /// </summary>
    /// <param name="destination">Where to copy; its length is the number of elements copied.</param>
    /// <param name="sourceOffset">First element of the buffer to read.</param>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="sourceOffset"/> is outside the buffer.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is longer than what the buffer holds after <paramref name="sourceOffset"/>.</exception>
    /// <exception cref="PaddedAttentionException">The CUDA copy (or earlier asynchronous work) failed.</exception>
    public unsafe void CopyTo(Span<T> destination, long sourceOffset = 0)
    {
        ThrowIfDisposed();
        CheckRange(sourceOffset, destination.Length, nameof(sourceOffset), nameof(destination));
        if (destination.IsEmpty)
        {
            return;
        }
        var lease = new HandleLease();
        try
        {
            lease.Add(_handle);
            T* source = (T*)_handle.DangerousGetHandle() + sourceOffset;
            if (!Device.IsCuda)
            {
                new ReadOnlySpan<T>(source, destination.Length).CopyTo(destination);
                return;
            }
            PaddedAttentionLibrary.EnsureLoaded();
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_device_synchronize(Device.Id));
            fixed (T* destinationPointer = destination)
            {
                PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_memcpy(destinationPointer, source, (ulong)destination.Length * (ulong)sizeof(T)));
            }
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>Copies the whole buffer into a new array (see <see cref="CopyTo"/>).</summary>
    /// <returns>The elements.</returns>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="InvalidOperationException">The buffer is longer than an array can be.</exception>
    public T[] ToArray()
    {
        ThrowIfDisposed();
        if (Length > Array.MaxLength)
        {
            throw new InvalidOperationException($"The buffer holds {Length} elements, more than an array can hold.");
        }
        var result = new T[Length];
        CopyTo(result);
        return result;
    }

    /// <summary>
    /// Copies all of <paramref name="source"/> into this buffer of the same length,
    /// between any two of host memory and CUDA devices (between two devices a peer
    /// copy, staged by the driver where the devices have no peer access). It first
    /// waits for the work queued on both devices, and returns when the data is in place.
    /// </summary>
    /// <param name="source">The buffer to read; its length must equal this buffer's.</param>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">Either buffer was disposed.</exception>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    /// <exception cref="PaddedAttentionException">The CUDA copy (or earlier asynchronous work) failed.</exception>
    public unsafe void CopyFrom(DeviceBuffer<T> source)
    {
        ArgumentNullException.ThrowIfNull(source);
        ThrowIfDisposed();
        source.ThrowIfDisposed();
        if (source.Length != Length)
        {
            throw new ArgumentException($"{source} has {source.Length} elements, this buffer {Length}.", nameof(source));
        }
        if (Length == 0)
        {
            return;
        }
        var lease = new HandleLease();
        try
        {
            lease.Add(_handle);
            lease.Add(source._handle);
            void* destination = (void*)_handle.DangerousGetHandle();
            void* from = (void*)source._handle.DangerousGetHandle();
            if (!Device.IsCuda && !source.Device.IsCuda)
            {
                Buffer.MemoryCopy(from, destination, SizeInBytes, SizeInBytes);
                return;
            }
            PaddedAttentionLibrary.EnsureLoaded();
            foreach (Device device in new[] { source.Device, Device })
            {
                if (device.IsCuda)
                {
                    PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_device_synchronize(device.Id));
                }
            }
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_memcpy(destination, from, (ulong)SizeInBytes));
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>Sets every byte of the buffer to <paramref name="value"/> (0xFF poisons floats with NaN). Returns when done.</summary>
    /// <param name="value">The byte value.</param>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="PaddedAttentionException">The CUDA memset failed.</exception>
    public unsafe void FillBytes(byte value)
    {
        ThrowIfDisposed();
        if (Length == 0)
        {
            return;
        }
        var lease = new HandleLease();
        try
        {
            lease.Add(_handle);
            void* pointer = (void*)_handle.DangerousGetHandle();
            if (!Device.IsCuda)
            {
                NativeMemory.Fill(pointer, (nuint)SizeInBytes, value);
                return;
            }
            PaddedAttentionLibrary.EnsureLoaded();
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_memset_async(pointer, value, (ulong)SizeInBytes, null));
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_device_synchronize(Device.Id));
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>A contiguous tensor view over the whole buffer; the view does not own the buffer.</summary>
    /// <param name="shape">The dimensions; their product must equal <see cref="Length"/>.</param>
    /// <returns>The view.</returns>
    /// <exception cref="ArgumentException">The shape's product differs from <see cref="Length"/>, or the rank is not 1 to 4.</exception>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public DeviceTensor<T> AsTensor(params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ThrowIfDisposed();
        long product = 1;
        foreach (long dimension in shape)
        {
            if (dimension < 0)
            {
                throw new ArgumentException($"Dimensions must not be negative: [{string.Join(", ", shape)}].", nameof(shape));
            }
            product = product > long.MaxValue / Math.Max(dimension, 1) ? -1 : product * dimension;
            if (product < 0)
            {
                throw new ArgumentException($"The shape [{string.Join(", ", shape)}] has too many elements.", nameof(shape));
            }
        }
        if (product != Length)
        {
            throw new ArgumentException($"The shape [{string.Join(", ", shape)}] has {product} elements but the buffer has {Length}.", nameof(shape));
        }
        return new DeviceTensor<T>(this, shape);
    }

    /// <summary>Frees the memory if this buffer owns it; calling it again does nothing.</summary>
    public void Dispose() => _handle.Dispose();

    /// <summary>"DeviceBuffer&lt;Single&gt;[n] on cuda:0".</summary>
    /// <returns>The text.</returns>
    public override string ToString() => $"DeviceBuffer<{typeof(T).Name}>[{Length}] on {Device}{(IsDisposed ? " (disposed)" : "")}";

    private void CheckRange(long offset, int count, string offsetName, string spanName)
    {
        if (offset < 0 || offset > Length)
        {
            throw new ArgumentOutOfRangeException(offsetName, offset, $"The offset must be within [0, {Length}].");
        }
        if (count > Length - offset)
        {
            throw new ArgumentException($"{count} elements do not fit: the buffer holds {Length} elements and the offset is {offset}.", spanName);
        }
    }

    private static unsafe ulong ByteCount(long length, string parameterName)
    {
        if (length > long.MaxValue / sizeof(T))
        {
            throw new ArgumentOutOfRangeException(parameterName, length, "The buffer would be larger than 2^63 bytes.");
        }
        return (ulong)length * (ulong)sizeof(T);
    }
}
