using System;
using PaddedAttention.Interop;

namespace PaddedAttention.Internal;

/// <summary>
/// The argument checks of <see cref="Attention"/> made before any native call,
/// so that a .NET caller gets an <see cref="ArgumentException"/> naming the C#
/// parameter. The native validator (native/src/validate.cpp) checks everything
/// again; what only this layer can know is nullness, disposal, the element
/// type and device/stream ownership.
/// </summary>
internal static class AttentionChecks
{
    internal const int MaxDecodeQueries = 16;

    internal readonly record struct AttentionShape(long Batch, long QLen, long KvLen, long QoHeads, long KvHeads, long HeadDim);

    // ---------------------------------------------------------------- prefill

    internal static AttentionShape ValidatePrefill<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        MaskMode maskMode, DeviceTensor<float>? lse, PrefillOptions? options, CudaStream? stream) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(output);
        _ = AttentionElementType<T>(nameof(q));
        if (!Enum.IsDefined(maskMode))
        {
            throw new ArgumentOutOfRangeException(nameof(maskMode), maskMode, "Not a MaskMode value.");
        }
        CheckScale(options?.SoftmaxScale, nameof(options));
        CheckCpuMaxThreads(options?.CpuMaxThreads ?? 0, nameof(options));
        CheckVariants(options?.Window, options?.LogitsSoftCap ?? 0f, nameof(options));
        var shape = ValidateAttentionTensors(q, k, v, output, lse, stream, nameof(k), nameof(v));
        return shape;
    }

    internal static void RequireEqualLengths(AttentionShape shape, string keyName)
    {
        if (shape.QLen != shape.KvLen)
        {
            throw new ArgumentException(
                $"Without separate kv valid lengths every row has as many real keys as real queries, so q_len ({shape.QLen}) must equal kv_len ({shape.KvLen}). " +
                "Pass kvValidLens for keys of another length.", keyName);
        }
    }


    // ----------------------------------------------------------------- decode

    internal static AttentionShape ValidateDecode<T>(DeviceTensor<T> q, DeviceTensor<T> kCache, DeviceTensor<T> vCache, DeviceTensor<T> output,
        PaddingSide paddingSide, DeviceTensor<float>? lse, DecodeOptions? options, CudaStream? stream) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(kCache);
        ArgumentNullException.ThrowIfNull(vCache);
        ArgumentNullException.ThrowIfNull(output);
        _ = AttentionElementType<T>(nameof(q));
        if (!Enum.IsDefined(paddingSide))
        {
            throw new ArgumentOutOfRangeException(nameof(paddingSide), paddingSide, "Not a PaddingSide value.");
        }
        CheckScale(options?.SoftmaxScale, nameof(options));
        CheckCpuMaxThreads(options?.CpuMaxThreads ?? 0, nameof(options));
        CheckVariants(options?.Window, options?.LogitsSoftCap ?? 0f, nameof(options));
        if (options is not null && options.NumSplits < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.NumSplits, "NumSplits must be 0 (library chooses) or positive.");
        }
        var shape = ValidateAttentionTensors(q, kCache, vCache, output, lse, stream, nameof(kCache), nameof(vCache));
        if (shape.QLen < 1 || shape.QLen > MaxDecodeQueries)
        {
            throw new ArgumentException($"Decode takes 1 to {MaxDecodeQueries} queries per row; q has q_len {shape.QLen}.", nameof(q));
        }
        return shape;
    }


    // ------------------------------------------------------------------ merge

    internal static void ValidateMerge<T>(DeviceTensor<T> oA, DeviceTensor<float> lseA, DeviceTensor<T> oB, DeviceTensor<float> lseB,
        DeviceTensor<T> oOut, DeviceTensor<float> lseOut, CudaStream? stream) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(oA);
        ArgumentNullException.ThrowIfNull(lseA);
        ArgumentNullException.ThrowIfNull(oB);
        ArgumentNullException.ThrowIfNull(lseB);
        ArgumentNullException.ThrowIfNull(oOut);
        ArgumentNullException.ThrowIfNull(lseOut);
        _ = AttentionElementType<T>(nameof(oA));
        oA.ThrowIfDisposed();
        lseA.ThrowIfDisposed();
        oB.ThrowIfDisposed();
        lseB.ThrowIfDisposed();
        oOut.ThrowIfDisposed();
        lseOut.ThrowIfDisposed();
        ThrowIfDisposed(stream);

        if (oA.Rank is not (3 or 4))
        {
            throw new ArgumentException($"oA must have rank 3 [tokens, heads, head_dim] or 4 [batch, len, heads, head_dim]; it has rank {oA.Rank}.", nameof(oA));
        }
        var oShape = oA.ShapeArray;
        var lseShape = oShape[..^1];
        RequireShape(oB, oShape, nameof(oB));
        RequireShape(oOut, oShape, nameof(oOut));
        RequireShape(lseA, lseShape, nameof(lseA));
        RequireShape(lseB, lseShape, nameof(lseB));
        RequireShape(lseOut, lseShape, nameof(lseOut));
        RequireUnitLastStride(oA, nameof(oA));
        RequireUnitLastStride(oB, nameof(oB));
        RequireUnitLastStride(oOut, nameof(oOut));
        var device = oA.Device;
        RequireDevice(lseA.Device, device, nameof(lseA));
        RequireDevice(oB.Device, device, nameof(oB));
        RequireDevice(lseB.Device, device, nameof(lseB));
        RequireDevice(oOut.Device, device, nameof(oOut));
        RequireDevice(lseOut.Device, device, nameof(lseOut));
        CheckStream(stream, device);
    }

    // ------------------------------------------------------------- validation

    internal static ElementType AttentionElementType<T>(string parameterName) where T : unmanaged
    {
        var type = ElementTypeOf<T>.Value; // NotSupportedException for foreign T
        if (type == ElementType.Int32)
        {
            throw new ArgumentException("Attention tensors hold float, Half or BFloat16 values, not int.", parameterName);
        }
        return type;
    }

    // q/k/v/output/lse/stream checks shared by prefill and decode.
    internal static AttentionShape ValidateAttentionTensors<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        DeviceTensor<float>? lse, CudaStream? stream, string kName, string vName) where T : unmanaged
    {
        q.ThrowIfDisposed();
        k.ThrowIfDisposed();
        v.ThrowIfDisposed();
        output.ThrowIfDisposed();
        lse?.ThrowIfDisposed();
        ThrowIfDisposed(stream);

        RequireRank(q, 4, nameof(q));
        RequireRank(k, 4, kName);
        RequireRank(v, 4, vName);
        RequireRank(output, 4, nameof(output));
        if (lse is not null)
        {
            RequireRank(lse, 3, nameof(lse));
        }

        long batch = q.ShapeArray[0], qLen = q.ShapeArray[1], qoHeads = q.ShapeArray[2], headDim = q.ShapeArray[3];
        long kvLen = k.ShapeArray[1], kvHeads = k.ShapeArray[2];
        if (k.ShapeArray[0] != batch)
        {
            throw new ArgumentException($"{kName} has batch {k.ShapeArray[0]} but q has batch {batch}.", kName);
        }
        if (k.ShapeArray[3] != headDim)
        {
            throw new ArgumentException($"{kName} has head_dim {k.ShapeArray[3]} but q has head_dim {headDim}.", kName);
        }
        if (kvHeads == 0 || qoHeads % kvHeads != 0)
        {
            throw new ArgumentException($"num_qo_heads ({qoHeads}) must be a multiple of num_kv_heads ({kvHeads}).", kName);
        }
        RequireShape(v, k.ShapeArray, vName);
        RequireShape(output, q.ShapeArray, nameof(output));
        if (lse is not null)
        {
            RequireShape(lse, new[] { batch, qLen, qoHeads }, nameof(lse));
        }

        RequireUnitLastStride(q, nameof(q));
        RequireUnitLastStride(k, kName);
        RequireUnitLastStride(v, vName);
        RequireUnitLastStride(output, nameof(output));

        var device = q.Device;
        RequireDevice(k.Device, device, kName);
        RequireDevice(v.Device, device, vName);
        RequireDevice(output.Device, device, nameof(output));
        if (lse is not null)
        {
            RequireDevice(lse.Device, device, nameof(lse));
        }
        CheckStream(stream, device);
        return new AttentionShape(batch, qLen, kvLen, qoHeads, kvHeads, headDim);
    }

    internal static void RequireRank<TElement>(DeviceTensor<TElement> tensor, int rank, string name) where TElement : unmanaged
    {
        if (tensor.Rank != rank)
        {
            throw new ArgumentException($"{name} must have rank {rank}; it has shape [{string.Join(", ", tensor.ShapeArray)}].", name);
        }
    }

    internal static void RequireShape<TElement>(DeviceTensor<TElement> tensor, long[] expected, string name) where TElement : unmanaged
    {
        if (!tensor.ShapeArray.AsSpan().SequenceEqual(expected))
        {
            throw new ArgumentException(
                $"{name} must have shape [{string.Join(", ", expected)}]; it has [{string.Join(", ", tensor.ShapeArray)}].", name);
        }
    }

    internal static void RequireUnitLastStride<TElement>(DeviceTensor<TElement> tensor, string name) where TElement : unmanaged
    {
        var strides = tensor.StridesArray;
        if (strides[^1] != 1)
        {
            throw new ArgumentException(
                $"The last dimension of {name} must be contiguous (stride 1); its strides are [{string.Join(", ", strides)}].", name);
        }
    }

    internal static void RequireDevice(Device actual, Device expected, string name)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"{name} is on {actual} but q is on {expected}; all tensors of a call must be on one device.", name);
        }
    }

    internal static void CheckStream(CudaStream? stream, Device device)
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

    internal static void ThrowIfDisposed(CudaStream? stream)
    {
        stream?.ThrowIfDisposed();
    }

    internal static void CheckScale(float? scale, string name)
    {
        if (scale is float value && (!float.IsFinite(value) || value == 0f))
        {
            throw new ArgumentOutOfRangeException(name, value, "SoftmaxScale must be finite and non-zero (null means 1/sqrt(head_dim)).");
        }
    }

    internal static void CheckVariants(SlidingWindow? window, float softCap, string name)
    {
        if (window is SlidingWindow w && (w.Left < -1 || w.Right < -1))
        {
            throw new ArgumentOutOfRangeException(name, w, "Window sides must be -1 (unlimited) or a key count >= 0.");
        }
        if (!float.IsFinite(softCap) || softCap < 0f)
        {
            throw new ArgumentOutOfRangeException(name, softCap, "LogitsSoftCap must be finite and not negative (0 = off).");
        }
    }

    /// <summary>Packed prefill: q/output [total_q, hq, d], k/v [total_kv, hkv, d], lse [total_q, hq], offsets of batch + 1 entries.</summary>
    internal static void ValidatePacked<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        DeviceTensor<float>? lse, int cuEntries, int cuKvEntries, PrefillOptions? options, CudaStream? stream) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(output);
        _ = AttentionElementType<T>(nameof(q));
        CheckScale(options?.SoftmaxScale, nameof(options));
        CheckCpuMaxThreads(options?.CpuMaxThreads ?? 0, nameof(options));
        CheckVariants(options?.Window, options?.LogitsSoftCap ?? 0f, nameof(options));
        q.ThrowIfDisposed();
        k.ThrowIfDisposed();
        v.ThrowIfDisposed();
        output.ThrowIfDisposed();
        lse?.ThrowIfDisposed();
        ThrowIfDisposed(stream);
        RequireRank(q, 3, nameof(q));
        RequireRank(k, 3, nameof(k));
        RequireShape(v, k.ShapeArray, nameof(v));
        RequireShape(output, q.ShapeArray, nameof(output));
        if (lse is not null)
        {
            RequireShape(lse, q.ShapeArray[..2], nameof(lse));
        }
        if (cuEntries < 1)
        {
            throw new ArgumentException("The sequence offsets hold batch + 1 >= 1 entries.", "cuSeqlensQ");
        }
        if (cuKvEntries != 0 && cuKvEntries != cuEntries)
        {
            throw new ArgumentException($"cuSeqlensKv has {cuKvEntries} entries but cuSeqlensQ has {cuEntries}.", "cuSeqlensKv");
        }
        var device = q.Device;
        RequireDevice(k.Device, device, nameof(k));
        RequireDevice(v.Device, device, nameof(v));
        RequireDevice(output.Device, device, nameof(output));
        if (lse is not null)
        {
            RequireDevice(lse.Device, device, nameof(lse));
        }
        CheckStream(stream, device);
    }

    internal static void CheckHostOffsets(ReadOnlySpan<int> offsets, long total, string name)
    {
        for (int i = 0; i < offsets.Length; i++)
        {
            int low = i == 0 ? 0 : offsets[i - 1];
            if (offsets[i] < low || offsets[i] > total)
            {
                throw new ArgumentOutOfRangeException(name, offsets[i],
                    $"{name}[{i}] = {offsets[i]} must be within [{low}, {total}]: offsets are non-decreasing token offsets.");
            }
        }
    }

    internal static void CheckCpuMaxThreads(int threads, string name)
    {
        if (threads < 0)
        {
            throw new ArgumentOutOfRangeException(name, threads, "CpuMaxThreads must be 0 (every hardware thread) or positive.");
        }
    }

    internal static void CheckHostLengths(ReadOnlySpan<int> lengths, long batch, long maximum, string name)
    {
        if (lengths.Length != batch)
        {
            throw new ArgumentException($"{name} has {lengths.Length} values but the batch has {batch} rows.", name);
        }
        for (int i = 0; i < lengths.Length; i++)
        {
            if (lengths[i] < 0 || lengths[i] > maximum)
            {
                throw new ArgumentOutOfRangeException(name, lengths[i], $"{name}[{i}] = {lengths[i]} is outside [0, {maximum}].");
            }
        }
    }

    internal static unsafe void CheckBufferLengths(DeviceBuffer<int> lengths, long batch, long maximum, Device device, string name)
    {
        lengths.ThrowIfDisposed();
        if (lengths.Device != device)
        {
            throw new ArgumentException($"{name} is on {lengths.Device} but q is on {device}; pass host lengths as a span.", name);
        }
        if (lengths.Length != batch)
        {
            throw new ArgumentException($"{name} has {lengths.Length} values but the batch has {batch} rows.", name);
        }
        if (!device.IsCuda && batch > 0)
        {
            // Host memory can be checked for free; CUDA memory is clamped by the kernels.
            var lease = new HandleLease();
            try
            {
                lease.Add(lengths.SafeHandle); // pins a buffer over managed memory
                CheckHostLengths(new ReadOnlySpan<int>((int*)lengths.SafeHandle.DangerousGetHandle(), checked((int)batch)), batch, maximum, name);
            }
            finally
            {
                lease.Dispose();
            }
        }
    }
}
