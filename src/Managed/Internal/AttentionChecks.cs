using System;

namespace PaddedAttention.Internal;

/// <summary>
/// What <see cref="Attention"/> checks itself before a native call: only what
/// this layer alone can know — null references, disposed objects, the element
/// type <c>T</c>, which device each .NET object belongs to and whether the
/// stream fits, and the length of a host span (the native side sees only a
/// pointer). Everything else (ranks, shapes, strides, length values, enum
/// values, the softmax scale, limits, aliasing) is the native validator's
/// (native/core/validate.cpp), whose rejections come back as
/// <see cref="PaddedAttentionArgumentException"/> naming the C# parameter.
/// </summary>
internal static class AttentionChecks
{
    /// <summary>The batch size the call's host spans must match (q's first dimension).</summary>
    internal readonly record struct AttentionShape(long Batch);

    internal static AttentionShape ValidatePrefill<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        MaskMode maskMode, DeviceTensor<float>? lse, PrefillOptions? options, CudaStream? stream) where T : unmanaged
    {
        _ = maskMode; // enum values and options are the native checks' (mask_mode, softmax_scale)
        _ = options;
        return ValidateAttentionTensors(q, k, v, output, lse, stream, nameof(k), nameof(v));
    }

    internal static AttentionShape ValidateDecode<T>(DeviceTensor<T> q, DeviceTensor<T> kCache, DeviceTensor<T> vCache, DeviceTensor<T> output,
        PaddingSide paddingSide, DeviceTensor<float>? lse, DecodeOptions? options, CudaStream? stream) where T : unmanaged
    {
        _ = paddingSide; // padding_side, softmax_scale, num_splits: the native checks'
        _ = options;
        return ValidateAttentionTensors(q, kCache, vCache, output, lse, stream, nameof(kCache), nameof(vCache));
    }

    internal static void ValidateMerge<T>(DeviceTensor<T> oA, DeviceTensor<float> lseA, DeviceTensor<T> oB, DeviceTensor<float> lseB,
        DeviceTensor<T> oOut, DeviceTensor<float> lseOut, CudaStream? stream) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(oA);
        ArgumentNullException.ThrowIfNull(lseA);
        ArgumentNullException.ThrowIfNull(oB);
        ArgumentNullException.ThrowIfNull(lseB);
        ArgumentNullException.ThrowIfNull(oOut);
        ArgumentNullException.ThrowIfNull(lseOut);
        AttentionElementType<T>(nameof(oA));
        oA.ThrowIfDisposed();
        lseA.ThrowIfDisposed();
        oB.ThrowIfDisposed();
        lseB.ThrowIfDisposed();
        oOut.ThrowIfDisposed();
        lseOut.ThrowIfDisposed();
        stream?.ThrowIfDisposed();
        var device = oA.Device;
        RequireDevice(lseA.Device, device, nameof(lseA));
        RequireDevice(oB.Device, device, nameof(oB));
        RequireDevice(lseB.Device, device, nameof(lseB));
        RequireDevice(oOut.Device, device, nameof(oOut));
        RequireDevice(lseOut.Device, device, nameof(lseOut));
        CheckStream(stream, device);
    }

    // Paged decode and prefill: the page table is a tensor of the cache's
    // device; its shape and values are the native checks'.
    internal static AttentionShape ValidatePaged<T>(DeviceTensor<T> q, DeviceTensor<T> kPages, DeviceTensor<T> vPages,
        DeviceTensor<T> output, DeviceTensor<int> pageTable, DeviceTensor<float>? lse, CudaStream? stream) where T : unmanaged
    {
        var shape = ValidateAttentionTensors(q, kPages, vPages, output, lse, stream, nameof(kPages), nameof(vPages));
        ArgumentNullException.ThrowIfNull(pageTable);
        pageTable.ThrowIfDisposed();
        RequireDevice(pageTable.Device, q.Device, nameof(pageTable));
        return shape;
    }

    // Packed prefill: the offsets' counts are known only here for host spans
    // (the native side sees q's tokens, not the batch); their values are the
    // native checks'.
    internal static AttentionShape ValidatePacked<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        DeviceTensor<float>? lse, long qOffsets, long kvOffsets, CudaStream? stream, string qOffsetsName, string kvOffsetsName)
        where T : unmanaged
    {
        _ = ValidateAttentionTensors(q, k, v, output, lse, stream, nameof(k), nameof(v));
        if (qOffsets < 1)
        {
            throw new ArgumentException($"{qOffsetsName} holds batch + 1 >= 1 offsets; it is empty.", qOffsetsName);
        }
        if (kvOffsets != 0 && kvOffsets != qOffsets)
        {
            throw new ArgumentException($"{kvOffsetsName} has {kvOffsets} offsets but {qOffsetsName} has {qOffsets}.", kvOffsetsName);
        }
        return new AttentionShape(qOffsets - 1);
    }

    // The element type: NotSupportedException for a T the library does not know; int is not an attention type.
    internal static void AttentionElementType<T>(string parameterName) where T : unmanaged
    {
        if (ElementTypeOf<T>.Value == ElementType.Int32)
        {
            throw new ArgumentException("Attention tensors hold float, Half or BFloat16 values, not int.", parameterName);
        }
    }

    // q/k/v/output/lse/stream checks shared by prefill and decode.
    private static AttentionShape ValidateAttentionTensors<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        DeviceTensor<float>? lse, CudaStream? stream, string kName, string vName) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k, kName);
        ArgumentNullException.ThrowIfNull(v, vName);
        ArgumentNullException.ThrowIfNull(output);
        AttentionElementType<T>(nameof(q));
        q.ThrowIfDisposed();
        k.ThrowIfDisposed();
        v.ThrowIfDisposed();
        output.ThrowIfDisposed();
        lse?.ThrowIfDisposed();
        stream?.ThrowIfDisposed();
        var device = q.Device;
        RequireDevice(k.Device, device, kName);
        RequireDevice(v.Device, device, vName);
        RequireDevice(output.Device, device, nameof(output));
        if (lse is not null)
        {
            RequireDevice(lse.Device, device, nameof(lse));
        }
        CheckStream(stream, device);
        // A q of another rank is the native validator's to refuse (naming q), before any length.
        return new AttentionShape(q.Rank == 4 ? q.ShapeArray[0] : -1);
    }

    private static void RequireDevice(Device actual, Device expected, string name)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"{name} is on {actual} but q is on {expected}; all tensors of a call must be on one device.", name);
        }
    }

    private static void CheckStream(CudaStream? stream, Device device)
    {
        if (stream is null)
        {
            return;
        }
        if (!device.IsCuda)
        {
            throw new ArgumentException("The tensors are on the CPU, which runs synchronously and takes no CUDA stream; pass null.", nameof(stream));
        }
        if (stream.Device != device)
        {
            throw new ArgumentException($"The stream belongs to {stream.Device} but the tensors are on {device}.", nameof(stream));
        }
    }

    // A host span's length is known only here (the native side sees a pointer
    // and q's batch); its values are checked natively.
    internal static void CheckHostLengths(ReadOnlySpan<int> lengths, long batch, string name)
    {
        if (batch >= 0 && lengths.Length != batch)
        {
            throw new ArgumentException($"{name} has {lengths.Length} values but the batch has {batch} rows.", name);
        }
    }

    internal static void CheckBufferLengths(DeviceBuffer<int> lengths, Device device, string name)
    {
        lengths.ThrowIfDisposed();
        if (lengths.Device != device)
        {
            throw new ArgumentException($"{name} is on {lengths.Device} but q is on {device}; pass host lengths as a span.", name);
        }
    }
}
