using System;
using PaddedAttention.Interop;

namespace PaddedAttention.Internal;

/// <summary>
/// The native calls behind <see cref="Attention"/>: handles leased for the
/// call (see <see cref="HandleLease"/>), tensors described as pattn_tensor, the
/// parameter struct filled and the status turned into an exception.
/// </summary>
internal static class AttentionCalls
{
    // Native argument names (fields of the params structs) whose C# parameter
    // is not their camelCase form; "" for fields no caller sets.
    private static string? AttentionParameterName(string nativeName) => nativeName switch
    {
        "o" => "output",
        "softmax_scale" or "num_splits" or "cpu_max_threads" or "window_enabled" or "window_left" or "window_right"
            or "logits_soft_cap" => "options",
        "params" or "struct_size" or "reserved" => "",
        _ => null,
    };

    // Attention.DecodePaged and PrefillPaged name their cache tensors after the pages they hold.
    private static string? PagedParameterName(string nativeName) => nativeName switch
    {
        "k_cache" or "k" => "kPages",
        "v_cache" or "v" => "vPages",
        _ => AttentionParameterName(nativeName),
    };

    internal static unsafe void RunPrefill<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        MaskMode maskMode, DeviceTensor<float>? lse, PrefillOptions? options, CudaStream? stream, AttentionChecks.AttentionShape shape,
        PattnTensor qLens, PattnTensor kvLens, DeviceBuffer<int>? qLensBuffer, DeviceBuffer<int>? kvLensBuffer,
        PattnTensor cuQ = default, PattnTensor cuKv = default, DeviceBuffer<int>? cuQBuffer = null, DeviceBuffer<int>? cuKvBuffer = null,
        DeviceTensor<int>? pageTable = null) where T : unmanaged
    {
        PaddedAttentionLibrary.EnsureLoaded();
        var lease = new HandleLease();
        try
        {
            LeaseTensors(ref lease, q, k, v, output, lse, stream);
            // Length buffers are described only once leased, so that a concurrent
            // Dispose cannot free them between reading the pointer and the call.
            if (qLensBuffer is not null)
            {
                lease.Add(qLensBuffer.SafeHandle);
                qLens = BufferLengths(qLensBuffer);
            }
            if (kvLensBuffer is not null)
            {
                lease.Add(kvLensBuffer.SafeHandle);
                kvLens = BufferLengths(kvLensBuffer);
            }
            // Packed layout (Attention.PackedPrefill): offsets instead of lengths.
            if (cuQBuffer is not null)
            {
                lease.Add(cuQBuffer.SafeHandle);
                cuQ = BufferLengths(cuQBuffer);
            }
            if (cuKvBuffer is not null)
            {
                lease.Add(cuKvBuffer.SafeHandle);
                cuKv = BufferLengths(cuKvBuffer);
            }
            // Paged KV cache (Attention.PrefillPaged).
            if (pageTable is not null)
            {
                lease.Add(pageTable.Buffer.SafeHandle);
            }
            var parameters = new PattnPrefillParams
            {
                struct_size = (uint)sizeof(PattnPrefillParams),
                mask_mode = (PattnMaskMode)(int)maskMode,
                q = Describe(q),
                k = Describe(k),
                v = Describe(v),
                o = Describe(output),
                lse = lse is null ? default : Describe(lse),
                q_valid_lens = qLens,
                kv_valid_lens = kvLens,
                softmax_scale = options?.SoftmaxScale ?? 0f,
                reserved = 0,
                cpu_max_threads = options?.CpuMaxThreads ?? 0,
                window_enabled = options?.Window is null ? 0u : 1u,
                window_left = options?.Window?.Left ?? 0,
                window_right = options?.Window?.Right ?? 0,
                logits_soft_cap = options?.LogitsSoftCap ?? 0f,
                cu_seqlens_q = cuQ,
                cu_seqlens_kv = cuKv,
                page_table = pageTable is null ? default : Describe(pageTable),
            };
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_sequence_prefill(&parameters, StreamPointer(stream)),
                pageTable is null ? AttentionParameterName : PagedParameterName);
        }
        finally
        {
            lease.Dispose();
        }
    }

    internal static unsafe void RunDecode<T>(DeviceTensor<T> q, PattnTensor kvLens, DeviceBuffer<int>? kvLensBuffer,
        DeviceTensor<T> kCache, DeviceTensor<T> vCache, DeviceTensor<T> output, PaddingSide paddingSide,
        DeviceTensor<float>? lse, DecodeOptions? options, CudaStream? stream, AttentionChecks.AttentionShape shape,
        DeviceTensor<int>? pageTable = null) where T : unmanaged
    {
        PaddedAttentionLibrary.EnsureLoaded();
        var lease = new HandleLease();
        try
        {
            LeaseTensors(ref lease, q, kCache, vCache, output, lse, stream);
            if (pageTable is not null)
            {
                lease.Add(pageTable.Buffer.SafeHandle);
            }
            if (kvLensBuffer is not null)
            {
                lease.Add(kvLensBuffer.SafeHandle);
                kvLens = BufferLengths(kvLensBuffer);
            }
            var parameters = new PattnDecodeParams
            {
                struct_size = (uint)sizeof(PattnDecodeParams),
                padding_side = (PattnPaddingSide)(int)paddingSide,
                q = Describe(q),
                k_cache = Describe(kCache),
                v_cache = Describe(vCache),
                o = Describe(output),
                lse = lse is null ? default : Describe(lse),
                kv_valid_lens = kvLens,
                softmax_scale = options?.SoftmaxScale ?? 0f,
                num_splits = options?.NumSplits ?? 0,
                cpu_max_threads = options?.CpuMaxThreads ?? 0,
                window_enabled = options?.Window is null ? 0u : 1u,
                window_left = options?.Window?.Left ?? 0,
                window_right = options?.Window?.Right ?? 0,
                logits_soft_cap = options?.LogitsSoftCap ?? 0f,
                page_table = pageTable is null ? default : Describe(pageTable),
            };
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_decode(&parameters, StreamPointer(stream)),
                pageTable is null ? AttentionParameterName : PagedParameterName);
        }
        finally
        {
            lease.Dispose();
        }
    }

    internal static unsafe void RunMerge<T>(DeviceTensor<T> oA, DeviceTensor<float> lseA, DeviceTensor<T> oB, DeviceTensor<float> lseB,
        DeviceTensor<T> oOut, DeviceTensor<float> lseOut, CudaStream? stream) where T : unmanaged
    {
        PaddedAttentionLibrary.EnsureLoaded();
        var lease = new HandleLease();
        try
        {
            lease.Add(oA.Buffer.SafeHandle);
            lease.Add(lseA.Buffer.SafeHandle);
            lease.Add(oB.Buffer.SafeHandle);
            lease.Add(lseB.Buffer.SafeHandle);
            lease.Add(oOut.Buffer.SafeHandle);
            lease.Add(lseOut.Buffer.SafeHandle);
            lease.Add(stream?.SafeHandle);
            var parameters = new PattnMergeParams
            {
                struct_size = (uint)sizeof(PattnMergeParams),
                reserved = 0,
                o_a = Describe(oA),
                lse_a = Describe(lseA),
                o_b = Describe(oB),
                lse_b = Describe(lseB),
                o_out = Describe(oOut),
                lse_out = Describe(lseOut),
            };
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_merge_states(&parameters, StreamPointer(stream)), AttentionParameterName);
        }
        finally
        {
            lease.Dispose();
        }
    }

    // ------------------------------------------------------------ descriptors

    internal static void LeaseTensors<T>(ref HandleLease lease, DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        DeviceTensor<T> output, DeviceTensor<float>? lse, CudaStream? stream) where T : unmanaged
    {
        lease.Add(q.Buffer.SafeHandle);
        lease.Add(k.Buffer.SafeHandle);
        lease.Add(v.Buffer.SafeHandle);
        lease.Add(output.Buffer.SafeHandle);
        lease.Add(lse?.Buffer.SafeHandle);
        lease.Add(stream?.SafeHandle);
    }

    internal static unsafe void* StreamPointer(CudaStream? stream) => stream is null ? null : (void*)stream.Handle;

    internal static unsafe PattnTensor Describe<TElement>(DeviceTensor<TElement> tensor) where TElement : unmanaged
    {
        var descriptor = new PattnTensor
        {
            data = (void*)tensor.DataPointer,
            dtype = ElementTypeOf<TElement>.Dtype,
            device_type = tensor.Device.IsCuda ? PattnDeviceType.Cuda : PattnDeviceType.Cpu,
            device_id = tensor.Device.Id,
            ndim = tensor.Rank,
        };
        var shape = tensor.ShapeArray;
        var strides = tensor.StridesArray;
        for (int i = 0; i < shape.Length; i++)
        {
            descriptor.shape[i] = shape[i];
            descriptor.strides[i] = strides[i];
        }
        return descriptor;
    }

    internal static unsafe PattnTensor HostLengths(int* lengths, long batch)
    {
        var descriptor = new PattnTensor
        {
            data = lengths,
            dtype = PattnDtype.I32,
            device_type = PattnDeviceType.Cpu,
            device_id = 0,
            ndim = 1,
        };
        descriptor.shape[0] = batch;
        descriptor.strides[0] = 1;
        return descriptor;
    }

    internal static unsafe PattnTensor BufferLengths(DeviceBuffer<int> lengths)
    {
        var descriptor = new PattnTensor
        {
            data = (void*)lengths.Pointer,
            dtype = PattnDtype.I32,
            device_type = lengths.Device.IsCuda ? PattnDeviceType.Cuda : PattnDeviceType.Cpu,
            device_id = lengths.Device.Id,
            ndim = 1,
        };
        descriptor.shape[0] = lengths.Length;
        descriptor.strides[0] = 1;
        return descriptor;
    }
}
