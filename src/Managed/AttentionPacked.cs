using System;
using PaddedAttention.Internal;

namespace PaddedAttention;

// Packed (varlen) prefill: tokens of all sequences back to back, no padding,
// sequence boundaries given as cu_seqlens offsets (docs/semantics.md,
// "Sliding window, soft-capping, packed layout").
public static partial class Attention
{
    /// <summary>
    /// Prefill over packed sequences: sequence b is query tokens [cuSeqlensQ[b], cuSeqlensQ[b + 1]) and key
    /// tokens [cuSeqlensKv[b], cuSeqlensKv[b + 1]) (empty span: the same offsets as q). Tokens outside every
    /// sequence are never read and their output rows are not written.
    /// </summary>
    /// <typeparam name="T">Half or BFloat16 (the CPU backend also takes float).</typeparam>
    /// <param name="q">Queries [total_q, num_qo_heads, head_dim].</param>
    /// <param name="k">Keys [total_kv, num_kv_heads, head_dim].</param>
    /// <param name="v">Values, shaped like <paramref name="k"/>.</param>
    /// <param name="output">Written: [total_q, num_qo_heads, head_dim].</param>
    /// <param name="cuSeqlensQ">batch + 1 non-decreasing token offsets into q, in host memory.</param>
    /// <param name="cuSeqlensKv">batch + 1 token offsets into k/v, or empty for the offsets of q.</param>
    /// <param name="causal">Causal (bottom-right aligned per sequence) or bidirectional.</param>
    /// <param name="lse">Optional, written: log-sum-exp of the scores (natural log), [total_q, num_qo_heads].</param>
    /// <param name="options">Softmax scale, window, soft cap; null for the defaults.</param>
    /// <param name="stream">CUDA stream of the tensors' device; must be null for CPU tensors.</param>
    /// <exception cref="ArgumentNullException">A required tensor is null.</exception>
    /// <exception cref="ArgumentException">Shapes, strides, element type, devices or stream do not fit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An offset is out of order or past its tensor (a <see cref="PaddedAttentionArgumentException"/>).</exception>
    /// <exception cref="ObjectDisposedException">A tensor or the stream was disposed.</exception>
    /// <exception cref="PaddedAttentionException">The native library failed (e.g. an unsupported head_dim).</exception>
    public static unsafe void PackedPrefill<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        ReadOnlySpan<int> cuSeqlensQ, ReadOnlySpan<int> cuSeqlensKv, bool causal, DeviceTensor<float>? lse = null,
        PrefillOptions? options = null, CudaStream? stream = null) where T : unmanaged
    {
        var shape = AttentionChecks.ValidatePacked(q, k, v, output, lse, cuSeqlensQ.Length, cuSeqlensKv.Length, stream,
            nameof(cuSeqlensQ), nameof(cuSeqlensKv));
        fixed (int* cuQ = cuSeqlensQ)
        fixed (int* cuKv = cuSeqlensKv)
        {
            AttentionCalls.RunPrefill(q, k, v, output, PackedMask(causal), lse, options, stream, shape,
                default, default, null, null, AttentionCalls.HostLengths(cuQ, cuSeqlensQ.Length),
                cuSeqlensKv.IsEmpty ? default : AttentionCalls.HostLengths(cuKv, cuSeqlensKv.Length));
        }
    }

    // The packed layout has no padding: right-padded modes with full rows.
    private static MaskMode PackedMask(bool causal) => causal ? MaskMode.CausalPaddedRight : MaskMode.Padded;

    /// <summary>
    /// Prefill over packed sequences with the offsets in buffers on the tensors' device (no host round trip;
    /// the kernels clamp them into range). See the host-offset overload for the layout.
    /// </summary>
    /// <typeparam name="T">Half or BFloat16 (the CPU backend also takes float).</typeparam>
    /// <param name="q">Queries [total_q, num_qo_heads, head_dim].</param>
    /// <param name="k">Keys [total_kv, num_kv_heads, head_dim].</param>
    /// <param name="v">Values, shaped like <paramref name="k"/>.</param>
    /// <param name="output">Written: [total_q, num_qo_heads, head_dim].</param>
    /// <param name="cuSeqlensQ">batch + 1 token offsets into q.</param>
    /// <param name="cuSeqlensKv">batch + 1 token offsets into k/v, or null for the offsets of q.</param>
    /// <param name="causal">Causal (bottom-right aligned per sequence) or bidirectional.</param>
    /// <param name="lse">Optional, written: [total_q, num_qo_heads].</param>
    /// <param name="options">Softmax scale, window, soft cap; null for the defaults.</param>
    /// <param name="stream">CUDA stream of the tensors' device; must be null for CPU tensors.</param>
    /// <exception cref="ArgumentNullException">A required tensor or <paramref name="cuSeqlensQ"/> is null.</exception>
    /// <exception cref="ArgumentException">Shapes, strides, element type, devices or stream do not fit.</exception>
    /// <exception cref="ObjectDisposedException">A tensor, an offset buffer or the stream was disposed.</exception>
    /// <exception cref="PaddedAttentionException">The native library failed.</exception>
    public static void PackedPrefill<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        DeviceBuffer<int> cuSeqlensQ, DeviceBuffer<int>? cuSeqlensKv, bool causal, DeviceTensor<float>? lse = null,
        PrefillOptions? options = null, CudaStream? stream = null) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(cuSeqlensQ);
        cuSeqlensQ.ThrowIfDisposed();
        cuSeqlensKv?.ThrowIfDisposed();
        var shape = AttentionChecks.ValidatePacked(q, k, v, output, lse, cuSeqlensQ.Length, cuSeqlensKv?.Length ?? 0, stream,
            nameof(cuSeqlensQ), nameof(cuSeqlensKv));
        AttentionChecks.CheckBufferLengths(cuSeqlensQ, q.Device, nameof(cuSeqlensQ));
        if (cuSeqlensKv is not null)
        {
            AttentionChecks.CheckBufferLengths(cuSeqlensKv, q.Device, nameof(cuSeqlensKv));
        }
        AttentionCalls.RunPrefill(q, k, v, output, PackedMask(causal), lse, options, stream, shape,
            default, default, null, null, default, default, cuSeqlensQ, cuSeqlensKv);
    }
}
