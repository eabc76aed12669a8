using System;
using System.Collections.Generic;
using PaddedAttention.Internal;
using PaddedAttention.Interop;

namespace PaddedAttention;

/// <summary>
/// A strided view of a <see cref="DeviceBuffer{T}"/>: shape and strides (in
/// elements) of up to four dimensions, and an element offset. Views share
/// their buffer; a tensor disposes its buffer only if it owns it (tensors from
/// <see cref="Allocate"/>; those from FromPointer and FromMemory own only a
/// wrapper, never the memory).
/// </summary>
/// <typeparam name="T">float, <see cref="Half"/>, <see cref="BFloat16"/> or int.</typeparam>
public sealed class DeviceTensor<T> : IDisposable where T : unmanaged
{
    private readonly long[] _shape;
    private readonly long[] _strides;
    private readonly bool _ownsBuffer;
    private readonly DeviceBuffer<T> _buffer;
    private volatile bool _disposed;

    /// <summary>A view of <paramref name="buffer"/>; every element it can address must lie inside the buffer.</summary>
    /// <param name="buffer">The memory; the view does not own it.</param>
    /// <param name="shape">The dimensions (rank 1 to 4), each 0 or more.</param>
    /// <param name="strides">Element strides per dimension, each 0 or more; null means contiguous (row-major).</param>
    /// <param name="elementOffset">Index in the buffer of the element at [0, 0, ...].</param>
    /// <exception cref="ArgumentNullException"><paramref name="buffer"/> or <paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentException">Bad rank, a negative dimension or stride, or strides of another rank.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The view reaches outside the buffer.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="buffer"/> was disposed.</exception>
    public DeviceTensor(DeviceBuffer<T> buffer, long[] shape, long[]? strides = null, long elementOffset = 0)
        : this(buffer, shape, strides, elementOffset, ownsBuffer: false)
    {
    }

    private DeviceTensor(DeviceBuffer<T> buffer, long[] shape, long[]? strides, long elementOffset, bool ownsBuffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentNullException.ThrowIfNull(shape);
        _ = ElementTypeOf<T>.Value;
        buffer.ThrowIfDisposed();
        _shape = (long[])shape.Clone();
        _strides = strides is null ? ContiguousStrides(_shape) : (long[])strides.Clone();
        CheckLayout(_shape, strides is null ? null : _strides, elementOffset, buffer.Length);
        _buffer = buffer;
        _ownsBuffer = ownsBuffer;
        ElementOffset = elementOffset;
    }

    /// <summary>
    /// A view of memory owned by someone else (e.g. an ONNX Runtime or ILGPU
    /// buffer, a TorchSharp tensor's <c>data_ptr()</c>), without copying or
    /// taking ownership: disposing the tensor never frees the memory. Nothing
    /// can check that the view stays inside the allocation; when its size is
    /// known, use the overload that takes it.
    /// </summary>
    /// <param name="pointer">Address of the element at [0, 0, ...].</param>
    /// <param name="device">Where the memory is.</param>
    /// <param name="shape">The dimensions (rank 1 to 4).</param>
    /// <param name="strides">Element strides; null means contiguous.</param>
    /// <returns>A tensor over the foreign memory.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentException">Bad rank, dimension or stride, a view of more than 2^63 elements, or a null pointer for a non-empty tensor.</exception>
    public static DeviceTensor<T> FromPointer(IntPtr pointer, Device device, long[] shape, long[]? strides = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        CheckLayout(shape, strides, 0, long.MaxValue);
        long extent = Extent(shape, strides ?? ContiguousStrides(shape));
        var wrapper = DeviceBuffer<T>.Wrap(pointer, extent, device);
        return new DeviceTensor<T>(wrapper, shape, strides, 0, ownsBuffer: true);
    }

    /// <summary>
    /// A view into a foreign allocation of known size (e.g. an ONNX Runtime
    /// <c>OrtValue</c>, an ILGPU <c>MemoryBuffer</c>): the view, starting
    /// <paramref name="elementOffset"/> elements into the allocation, must lie
    /// inside its <paramref name="allocationLength"/> elements. Disposing the
    /// tensor never frees the memory.
    /// </summary>
    /// <param name="allocationStart">Address of the allocation's first element.</param>
    /// <param name="allocationLength">Number of elements of type <typeparamref name="T"/> in the allocation.</param>
    /// <param name="device">Where the memory is.</param>
    /// <param name="shape">The dimensions (rank 1 to 4).</param>
    /// <param name="strides">Element strides; null means contiguous.</param>
    /// <param name="elementOffset">Index in the allocation of the element at [0, 0, ...].</param>
    /// <returns>A tensor over the foreign memory.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentException">Bad rank, dimension or stride, or a null pointer for a non-empty allocation.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The view reaches outside the allocation, or a length or offset is negative.</exception>
    public static DeviceTensor<T> FromPointer(IntPtr allocationStart, long allocationLength, Device device, long[] shape,
        long[]? strides = null, long elementOffset = 0)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var wrapper = DeviceBuffer<T>.Wrap(allocationStart, allocationLength, device);
        return new DeviceTensor<T>(wrapper, shape, strides, elementOffset, ownsBuffer: true);
    }

    /// <summary>
    /// A CPU tensor over managed memory (no copy, no <c>unsafe</c>): the memory
    /// is pinned only while a library call uses it, and read and written in place.
    /// </summary>
    /// <param name="memory">The elements (an array, a slice of one, any <see cref="Memory{T}"/>).</param>
    /// <param name="shape">The dimensions (rank 1 to 4).</param>
    /// <param name="strides">Element strides; null means contiguous.</param>
    /// <param name="elementOffset">Index in <paramref name="memory"/> of the element at [0, 0, ...].</param>
    /// <returns>A tensor on <see cref="Device.Cpu"/>; disposing it leaves the memory to its owner.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentException">Bad rank, dimension or stride.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The view reaches outside <paramref name="memory"/>.</exception>
    public static DeviceTensor<T> FromMemory(Memory<T> memory, long[] shape, long[]? strides = null, long elementOffset = 0)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var buffer = DeviceBuffer<T>.FromMemory(memory);
        return new DeviceTensor<T>(buffer, shape, strides, elementOffset, ownsBuffer: true);
    }

    /// <summary>A contiguous CPU tensor over an array (see <see cref="FromMemory"/>); the shape's product must not exceed the array's length.</summary>
    /// <param name="array">The elements, row-major.</param>
    /// <param name="shape">The dimensions (rank 1 to 4).</param>
    /// <returns>A tensor on <see cref="Device.Cpu"/> over <paramref name="array"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="array"/> or <paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentException">Bad rank or dimension.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The shape holds more elements than the array.</exception>
    public static DeviceTensor<T> FromArray(T[] array, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(array);
        return FromMemory(array.AsMemory(), shape);
    }

    /// <summary>Allocates a contiguous tensor that owns a fresh buffer (contents unspecified).</summary>
    /// <param name="device">Where to allocate.</param>
    /// <param name="shape">The dimensions (rank 1 to 4).</param>
    /// <returns>The tensor; disposing it frees the buffer.</returns>
    /// <exception cref="ArgumentException">Bad rank or a negative dimension.</exception>
    /// <exception cref="PaddedAttentionException">The device allocation failed.</exception>
    public static DeviceTensor<T> Allocate(Device device, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        CheckLayout(shape, null, 0, long.MaxValue);
        var buffer = DeviceBuffer<T>.Allocate(device, Extent(shape, ContiguousStrides(shape)));
        try
        {
            return new DeviceTensor<T>(buffer, shape, null, 0, ownsBuffer: true);
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    /// <summary>The buffer the view reads and writes (never null).</summary>
    public DeviceBuffer<T> Buffer => _buffer;

    /// <summary>Where the memory is.</summary>
    public Device Device => _buffer.Device;

    /// <summary>Number of dimensions (1 to 4).</summary>
    public int Rank => _shape.Length;

    /// <summary>The dimensions.</summary>
    public IReadOnlyList<long> Shape => Array.AsReadOnly(_shape);

    /// <summary>The strides, in elements.</summary>
    public IReadOnlyList<long> Strides => Array.AsReadOnly(_strides);

    /// <summary>Index in the buffer of the element at [0, 0, ...].</summary>
    public long ElementOffset { get; }

    /// <summary>Number of elements (product of the shape; views of more than 2^63 elements cannot be made).</summary>
    public long ElementCount => CheckedElementCount(_shape);

    /// <summary>Whether the strides are the row-major ones for the shape (dimensions of size 1 may have any stride).</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int i = _shape.Length - 1; i >= 0; i--)
            {
                if (_shape[i] != 1 && _strides[i] != expected)
                {
                    return false;
                }
                expected *= _shape[i];
            }
            return true;
        }
    }

    /// <summary>Address of the element at [0, 0, ...] (buffer pointer plus offset).</summary>
    /// <exception cref="ObjectDisposedException">The tensor or its buffer was disposed.</exception>
    public unsafe IntPtr DataPointer
    {
        get
        {
            ThrowIfDisposed();
            return (IntPtr)((T*)_buffer.Pointer + ElementOffset);
        }
    }

    /// <summary>The element type of <typeparamref name="T"/>.</summary>
    public ElementType ElementType => ElementTypeOf<T>.Value;

    internal bool IsDisposed => _disposed || _buffer.IsDisposed;

    internal long[] ShapeArray => _shape;

    internal long[] StridesArray => _strides;

    internal void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw new ObjectDisposedException($"DeviceTensor<{typeof(T).Name}>", "The tensor was disposed.");
        }
        _buffer.ThrowIfDisposed();
    }

    /// <summary>A view of <paramref name="length"/> indices of one dimension starting at <paramref name="start"/>; shares the buffer and does not own it.</summary>
    /// <param name="dimension">The dimension to narrow.</param>
    /// <param name="start">First index kept.</param>
    /// <param name="length">Number of indices kept.</param>
    /// <returns>The view.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The dimension or the range is outside the shape.</exception>
    /// <exception cref="ObjectDisposedException">The tensor was disposed.</exception>
    public DeviceTensor<T> Slice(int dimension, long start, long length)
    {
        ThrowIfDisposed();
        if (dimension < 0 || dimension >= Rank)
        {
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, $"The tensor has {Rank} dimensions.");
        }
        if (start < 0 || start > _shape[dimension])
        {
            throw new ArgumentOutOfRangeException(nameof(start), start, $"Dimension {dimension} has size {_shape[dimension]}.");
        }
        if (length < 0 || length > _shape[dimension] - start)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"Dimension {dimension} has size {_shape[dimension]} and the slice starts at {start}.");
        }
        var shape = (long[])_shape.Clone();
        shape[dimension] = length;
        long offset = length == 0 ? ElementOffset : ElementOffset + start * _strides[dimension];
        return new DeviceTensor<T>(_buffer, shape, _strides, offset, ownsBuffer: false);
    }

    /// <summary>Marks the view disposed, and frees the buffer if this tensor owns it; calling it again does nothing.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (_ownsBuffer)
        {
            _buffer.Dispose();
        }
    }

    /// <summary>"DeviceTensor&lt;Half&gt;[2, 7, 8, 64] on cuda:0".</summary>
    /// <returns>The text.</returns>
    public override string ToString() =>
        $"DeviceTensor<{typeof(T).Name}>[{string.Join(", ", _shape)}] on {Device}{(IsDisposed ? " (disposed)" : "")}";

    internal static long[] ContiguousStrides(long[] shape)
    {
        var strides = new long[shape.Length];
        long stride = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride = shape[i] == 0 ? stride : checked(stride * shape[i]);
        }
        return strides;
    }

    // Product of the shape, in checked arithmetic (a stride-0 view can have a
    // shape whose product does not fit, though its extent does).
    private static long CheckedElementCount(long[] shape)
    {
        long count = 1;
        foreach (long dimension in shape)
        {
            count = checked(count * dimension);
        }
        return count;
    }

    // Number of buffer elements the view spans from its first element: 1 + the largest index.
    private static long Extent(long[] shape, long[] strides)
    {
        long last = 0;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == 0)
            {
                return 0;
            }
            last = checked(last + checked((shape[i] - 1) * strides[i]));
        }
        return checked(last + 1);
    }

    private static void CheckLayout(long[] shape, long[]? strides, long elementOffset, long bufferLength)
    {
        if (shape.Length < 1 || shape.Length > PattnConstants.MaxDims)
        {
            throw new ArgumentException($"A tensor has 1 to {PattnConstants.MaxDims} dimensions; the shape has {shape.Length}.", nameof(shape));
        }
        foreach (long dimension in shape)
        {
            if (dimension < 0)
            {
                throw new ArgumentException($"Dimensions must not be negative: [{string.Join(", ", shape)}].", nameof(shape));
            }
        }
        if (strides is not null)
        {
            if (strides.Length != shape.Length)
            {
                throw new ArgumentException($"The strides have {strides.Length} entries but the shape has {shape.Length}.", nameof(strides));
            }
            foreach (long stride in strides)
            {
                if (stride < 0)
                {
                    throw new ArgumentException($"Strides must not be negative: [{string.Join(", ", strides)}].", nameof(strides));
                }
            }
        }
        if (elementOffset < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(elementOffset), elementOffset, "The element offset must not be negative.");
        }
        try
        {
            _ = CheckedElementCount(shape);
        }
        catch (OverflowException)
        {
            throw new ArgumentException($"The shape [{string.Join(", ", shape)}] has more than 2^63 elements.", nameof(shape));
        }
        long extent;
        try
        {
            extent = Extent(shape, strides ?? ContiguousStrides(shape));
            _ = checked(elementOffset + extent);
        }
        catch (OverflowException)
        {
            throw new ArgumentException($"The view [{string.Join(", ", shape)}] addresses more than 2^63 elements.", strides is null ? nameof(shape) : nameof(strides));
        }
        if (extent > 0 && elementOffset + extent > bufferLength)
        {
            throw new ArgumentOutOfRangeException(
                strides is null ? nameof(shape) : nameof(strides),
                $"The view (offset {elementOffset}, shape [{string.Join(", ", shape)}], strides [{string.Join(", ", strides ?? ContiguousStrides(shape))}]) " +
                $"reaches element {elementOffset + extent - 1} but the buffer has {bufferLength} elements.");
        }
        if (extent == 0 && elementOffset > bufferLength)
        {
            throw new ArgumentOutOfRangeException(nameof(elementOffset), elementOffset, $"The buffer has {bufferLength} elements.");
        }
    }
}
