using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using PaddedAttention.Internal;
using PaddedAttention.Interop;

namespace PaddedAttention;

/// <summary>
/// Attention over padded batches. Layouts: q [batch, q_len, num_qo_heads,
/// head_dim], k and v [batch, kv_len, num_kv_heads, head_dim], output like q,
/// lse [batch, q_len, num_qo_heads] (float, optional), valid lengths [batch].
/// num_qo_heads must be a multiple of num_kv_heads; the last dimension of
/// every tensor must be contiguous (stride 1). Tensors on the CPU run the CPU
/// backend and return when done; CUDA tensors run asynchronously on
/// <c>stream</c> (null: the default stream). Padding query rows, and real rows
/// that see no key, get output 0 and lse -infinity.
/// Every argument is checked before any native call: bad shapes, strides,
/// lengths, element types or devices throw <see cref="ArgumentException"/>
/// (or a subclass) naming the parameter; disposed objects throw
/// <see cref="ObjectDisposedException"/>; failures of the native library
/// throw <see cref="PaddedAttentionException"/>.
/// </summary>
public static partial class Attention
{
    /// <summary>Masked prefill with every row full (q_len real queries, kv_len real keys): plain bidirectional or causal attention.</summary>
    /// <typeparam name="T">Half or BFloat16 (the CPU backend also takes float).</typeparam>
    /// <param name="q">Queries [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="k">Keys [batch, kv_len, num_kv_heads, head_dim].</param>
    /// <param name="v">Values, shaped like <paramref name="k"/>.</param>
    /// <param name="output">Written: [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="maskMode">Padding side and causality.</param>
    /// <param name="lse">Optional, written: log-sum-exp of the scores (natural log), [batch, q_len, num_qo_heads].</param>
    /// <param name="options">Softmax scale; null for the defaults.</param>
    /// <param name="stream">CUDA stream of the tensors' device; must be null for CPU tensors.</param>
    /// <exception cref="ArgumentNullException">A required tensor is null.</exception>
    /// <exception cref="ArgumentException">Shapes, strides, element type, devices or stream do not fit.</exception>
    /// <exception cref="ObjectDisposedException">A tensor or the stream was disposed.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not an element type of the library.</exception>
    /// <exception cref="PaddedAttentionException">The native library failed (e.g. an unsupported head_dim).</exception>
    public static void SequencePrefill<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        MaskMode maskMode, DeviceTensor<float>? lse = null, PrefillOptions? options = null, CudaStream? stream = null) where T : unmanaged
    {
        var shape = AttentionChecks.ValidatePrefill(q, k, v, output, maskMode, lse, options, stream);
        AttentionCalls.RunPrefill(q, k, v, output, maskMode, lse, options, stream, shape, default, default, null, null);
    }

    /// <summary>Masked prefill with valid lengths in host memory; every row has as many real keys as real queries (so q_len must equal kv_len).</summary>
    /// <typeparam name="T">Half or BFloat16 (the CPU backend also takes float).</typeparam>
    /// <param name="q">Queries [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="k">Keys [batch, kv_len, num_kv_heads, head_dim], kv_len == q_len.</param>
    /// <param name="v">Values, shaped like <paramref name="k"/>.</param>
    /// <param name="output">Written: [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="qValidLens">Real tokens per row: batch values in [0, q_len].</param>
    /// <param name="maskMode">Padding side and causality.</param>
    /// <param name="lse">Optional, written: log-sum-exp of the scores (natural log), [batch, q_len, num_qo_heads].</param>
    /// <param name="options">Softmax scale; null for the defaults.</param>
    /// <param name="stream">CUDA stream of the tensors' device; must be null for CPU tensors.</param>
    /// <exception cref="ArgumentNullException">A required tensor is null.</exception>
    /// <exception cref="ArgumentException">Shapes, strides, lengths, element type, devices or stream do not fit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A valid length is outside [0, q_len].</exception>
    /// <exception cref="ObjectDisposedException">A tensor or the stream was disposed.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not an element type of the library.</exception>
    /// <exception cref="PaddedAttentionException">The native library failed (e.g. an unsupported head_dim).</exception>
    public static unsafe void SequencePrefill<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        ReadOnlySpan<int> qValidLens, MaskMode maskMode, DeviceTensor<float>? lse = null, PrefillOptions? options = null, CudaStream? stream = null) where T : unmanaged
    {
        var shape = AttentionChecks.ValidatePrefill(q, k, v, output, maskMode, lse, options, stream);
        AttentionChecks.RequireEqualLengths(shape, nameof(k));
        AttentionChecks.CheckHostLengths(qValidLens, shape.Batch, shape.QLen, nameof(qValidLens));
        fixed (int* qLens = qValidLens)
        {
            AttentionCalls.RunPrefill(q, k, v, output, maskMode, lse, options, stream, shape,
                AttentionCalls.HostLengths(qLens, shape.Batch), default, null, null);
        }
    }

    /// <summary>Masked prefill with separate query and key valid lengths in host memory (e.g. new queries after a cached prefix).</summary>
    /// <typeparam name="T">Half or BFloat16 (the CPU backend also takes float).</typeparam>
    /// <param name="q">Queries [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="k">Keys [batch, kv_len, num_kv_heads, head_dim].</param>
    /// <param name="v">Values, shaped like <paramref name="k"/>.</param>
    /// <param name="output">Written: [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="qValidLens">Real queries per row: batch values in [0, q_len].</param>
    /// <param name="kvValidLens">Real keys per row: batch values in [0, kv_len].</param>
    /// <param name="maskMode">Padding side and causality.</param>
    /// <param name="lse">Optional, written: log-sum-exp of the scores (natural log), [batch, q_len, num_qo_heads].</param>
    /// <param name="options">Softmax scale; null for the defaults.</param>
    /// <param name="stream">CUDA stream of the tensors' device; must be null for CPU tensors.</param>
    /// <exception cref="ArgumentNullException">A required tensor is null.</exception>
    /// <exception cref="ArgumentException">Shapes, strides, lengths, element type, devices or stream do not fit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A valid length is out of range.</exception>
    /// <exception cref="ObjectDisposedException">A tensor or the stream was disposed.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not an element type of the library.</exception>
    /// <exception cref="PaddedAttentionException">The native library failed (e.g. an unsupported head_dim).</exception>
    public static unsafe void SequencePrefill<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        ReadOnlySpan<int> qValidLens, ReadOnlySpan<int> kvValidLens, MaskMode maskMode, DeviceTensor<float>? lse = null, PrefillOptions? options = null, CudaStream? stream = null) where T : unmanaged
    {
        var shape = AttentionChecks.ValidatePrefill(q, k, v, output, maskMode, lse, options, stream);
        AttentionChecks.CheckHostLengths(qValidLens, shape.Batch, shape.QLen, nameof(qValidLens));
        AttentionChecks.CheckHostLengths(kvValidLens, shape.Batch, shape.KvLen, nameof(kvValidLens));
        fixed (int* qLens = qValidLens)
        fixed (int* kvLens = kvValidLens)
        {
            AttentionCalls.RunPrefill(q, k, v, output, maskMode, lse, options, stream, shape,
                AttentionCalls.HostLengths(qLens, shape.Batch), AttentionCalls.HostLengths(kvLens, shape.Batch), null, null);
        }
    }

    /// <summary>
    /// Masked prefill with valid lengths in a buffer on the tensors' device (no
    /// host round trip). Values in CUDA memory cannot be checked without a
    /// synchronization: the kernels clamp them into range.
    /// </summary>
    /// <typeparam name="T">Half or BFloat16 (the CPU backend also takes float).</typeparam>
    /// <param name="q">Queries [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="k">Keys [batch, kv_len, num_kv_heads, head_dim].</param>
    /// <param name="v">Values, shaped like <paramref name="k"/>.</param>
    /// <param name="output">Written: [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="qValidLens">Real queries per row, batch elements on q's device.</param>
    /// <param name="kvValidLens">Real keys per row, batch elements on q's device; null means equal to <paramref name="qValidLens"/> (then q_len must equal kv_len).</param>
    /// <param name="maskMode">Padding side and causality.</param>
    /// <param name="lse">Optional, written: log-sum-exp of the scores (natural log), [batch, q_len, num_qo_heads].</param>
    /// <param name="options">Softmax scale; null for the defaults.</param>
    /// <param name="stream">CUDA stream of the tensors' device; must be null for CPU tensors.</param>
    /// <exception cref="ArgumentNullException">A required tensor or <paramref name="qValidLens"/> is null.</exception>
    /// <exception cref="ArgumentException">Shapes, strides, lengths, element type, devices or stream do not fit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A valid length in host memory is out of range.</exception>
    /// <exception cref="ObjectDisposedException">A tensor, a length buffer or the stream was disposed.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not an element type of the library.</exception>
    /// <exception cref="PaddedAttentionException">The native library failed (e.g. an unsupported head_dim).</exception>
    public static void SequencePrefill<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        DeviceBuffer<int> qValidLens, DeviceBuffer<int>? kvValidLens, MaskMode maskMode, DeviceTensor<float>? lse = null, PrefillOptions? options = null, CudaStream? stream = null) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(qValidLens);
        var shape = AttentionChecks.ValidatePrefill(q, k, v, output, maskMode, lse, options, stream);
        AttentionChecks.CheckBufferLengths(qValidLens, shape.Batch, shape.QLen, q.Device, nameof(qValidLens));
        if (kvValidLens is null)
        {
            AttentionChecks.RequireEqualLengths(shape, nameof(k));
        }
        else
        {
            AttentionChecks.CheckBufferLengths(kvValidLens, shape.Batch, shape.KvLen, q.Device, nameof(kvValidLens));
        }
        AttentionCalls.RunPrefill(q, k, v, output, maskMode, lse, options, stream, shape, default, default, qValidLens, kvValidLens);
    }

    /// <summary>Masked prefill with host valid lengths (kv lengths equal to q lengths) into a newly allocated output on q's device.</summary>
    /// <typeparam name="T">Half or BFloat16 (the CPU backend also takes float).</typeparam>
    /// <param name="q">Queries [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="k">Keys [batch, kv_len, num_kv_heads, head_dim], kv_len == q_len.</param>
    /// <param name="v">Values, shaped like <paramref name="k"/>.</param>
    /// <param name="qValidLens">Real tokens per row: batch values in [0, q_len].</param>
    /// <param name="maskMode">Padding side and causality.</param>
    /// <param name="options">Softmax scale; null for the defaults.</param>
    /// <param name="stream">CUDA stream of the tensors' device; must be null for CPU tensors.</param>
    /// <returns>The output [batch, q_len, num_qo_heads, head_dim], owning its buffer (dispose it).</returns>
    /// <exception cref="ArgumentNullException">A required tensor is null.</exception>
    /// <exception cref="ArgumentException">Shapes, strides, lengths, element type, devices or stream do not fit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A valid length is outside [0, q_len].</exception>
    /// <exception cref="ObjectDisposedException">A tensor or the stream was disposed.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not an element type of the library.</exception>
    /// <exception cref="PaddedAttentionException">The allocation or the native call failed.</exception>
    public static unsafe DeviceTensor<T> SequencePrefill<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        ReadOnlySpan<int> qValidLens, MaskMode maskMode, PrefillOptions? options = null, CudaStream? stream = null) where T : unmanaged
    {
        // Everything is checked before the output is allocated (an allocation
        // is a native call too); the output will have q's shape and device.
        ArgumentNullException.ThrowIfNull(q);
        var shape = AttentionChecks.ValidatePrefill(q, k, v, q, maskMode, null, options, stream);
        AttentionChecks.RequireEqualLengths(shape, nameof(k));
        AttentionChecks.CheckHostLengths(qValidLens, shape.Batch, shape.QLen, nameof(qValidLens));
        var output = DeviceTensor<T>.Allocate(q.Device, q.ShapeArray);
        try
        {
            fixed (int* qLens = qValidLens)
            {
                AttentionCalls.RunPrefill(q, k, v, output, maskMode, null, options, stream, shape,
                    AttentionCalls.HostLengths(qLens, shape.Batch), default, null, null);
            }
            return output;
        }
        catch
        {
            output.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Masked prefill on the CPU over <see cref="System.Numerics.Tensors"/> spans
    /// (a <c>Tensor&lt;T&gt;</c>, an array viewed as a tensor, any strided
    /// span): no copy and no <c>unsafe</c> code; the memory is pinned for the
    /// call. Shapes, strides and lengths follow the <see cref="DeviceTensor{T}"/> overloads.
    /// </summary>
    /// <typeparam name="T">float, Half or BFloat16.</typeparam>
    /// <param name="q">Queries [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="k">Keys [batch, kv_len, num_kv_heads, head_dim].</param>
    /// <param name="v">Values, shaped like <paramref name="k"/>.</param>
    /// <param name="output">Written: [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="qValidLens">Real queries per row; empty: every row full.</param>
    /// <param name="kvValidLens">Real keys per row; empty: as many as real queries (then q_len must equal kv_len).</param>
    /// <param name="maskMode">Padding side and causality.</param>
    /// <param name="lse">Optional (default: none), written: [batch, q_len, num_qo_heads], any strides.</param>
    /// <param name="options">Softmax scale; null for the defaults.</param>
    /// <exception cref="ArgumentException">Shapes, strides, lengths or element type do not fit, or a span has more than 4 dimensions.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A valid length is out of range.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not an element type of the library.</exception>
    /// <exception cref="PaddedAttentionException">The native library failed (e.g. an unsupported head_dim).</exception>
    public static unsafe void SequencePrefill<T>(ReadOnlyTensorSpan<T> q, ReadOnlyTensorSpan<T> k, ReadOnlyTensorSpan<T> v, TensorSpan<T> output,
        ReadOnlySpan<int> qValidLens, ReadOnlySpan<int> kvValidLens, MaskMode maskMode, TensorSpan<float> lse = default, PrefillOptions? options = null) where T : unmanaged
    {
        fixed (T* qData = q)
        fixed (T* kData = k)
        fixed (T* vData = v)
        fixed (T* oData = output)
        fixed (float* lseData = lse)
        {
            using var qView = HostTensorViews.FromSpan(qData, q.Lengths, q.Strides, nameof(q));
            using var kView = HostTensorViews.FromSpan(kData, k.Lengths, k.Strides, nameof(k));
            using var vView = HostTensorViews.FromSpan(vData, v.Lengths, v.Strides, nameof(v));
            using var oView = HostTensorViews.FromSpan(oData, output.Lengths, output.Strides, nameof(output));
            using var lseView = lse.Rank == 0 ? null : HostTensorViews.FromSpan(lseData, lse.Lengths, lse.Strides, nameof(lse));
            if (qValidLens.IsEmpty && kvValidLens.IsEmpty)
            {
                SequencePrefill(qView, kView, vView, oView, maskMode, lseView, options);
            }
            else if (kvValidLens.IsEmpty)
            {
                SequencePrefill(qView, kView, vView, oView, qValidLens, maskMode, lseView, options);
            }
            else
            {
                SequencePrefill(qView, kView, vView, oView, qValidLens, kvValidLens, maskMode, lseView, options);
            }
        }
    }

    /// <summary>
    /// Decode: q_len (1 to 16) new queries per row against a padded KV cache.
    /// Query i sees real key j iff j &lt;= i + kv - q_len (with q_len 1, every
    /// real key); the new tokens' keys are expected in the cache already.
    /// </summary>
    /// <typeparam name="T">Half or BFloat16 (the CPU backend also takes float).</typeparam>
    /// <param name="q">Queries [batch, q_len, num_qo_heads, head_dim], 1 &lt;= q_len &lt;= 16.</param>
    /// <param name="kCache">Keys [batch, cache_len, num_kv_heads, head_dim].</param>
    /// <param name="vCache">Values, shaped like <paramref name="kCache"/>.</param>
    /// <param name="output">Written: [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="kvValidLens">Real keys per row in host memory, batch values in [0, cache_len]; empty means the whole cache.</param>
    /// <param name="paddingSide">Where the real keys are in the cache.</param>
    /// <param name="lse">Optional, written: [batch, q_len, num_qo_heads].</param>
    /// <param name="options">Softmax scale and KV splits; null for the defaults.</param>
    /// <param name="stream">CUDA stream of the tensors' device; must be null for CPU tensors.</param>
    /// <exception cref="ArgumentNullException">A required tensor is null.</exception>
    /// <exception cref="ArgumentException">Shapes, strides, lengths, element type, devices or stream do not fit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A valid length is outside [0, cache_len].</exception>
    /// <exception cref="ObjectDisposedException">A tensor or the stream was disposed.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not an element type of the library.</exception>
    /// <exception cref="PaddedAttentionException">The native library failed.</exception>
    public static unsafe void Decode<T>(DeviceTensor<T> q, DeviceTensor<T> kCache, DeviceTensor<T> vCache, DeviceTensor<T> output,
        ReadOnlySpan<int> kvValidLens, PaddingSide paddingSide, DeviceTensor<float>? lse = null, DecodeOptions? options = null, CudaStream? stream = null) where T : unmanaged
    {
        var shape = AttentionChecks.ValidateDecode(q, kCache, vCache, output, paddingSide, lse, options, stream);
        if (!kvValidLens.IsEmpty)
        {
            AttentionChecks.CheckHostLengths(kvValidLens, shape.Batch, shape.KvLen, nameof(kvValidLens));
        }
        fixed (int* kvLens = kvValidLens)
        {
            AttentionCalls.RunDecode(q, kvValidLens.IsEmpty ? default : AttentionCalls.HostLengths(kvLens, shape.Batch), null,
                kCache, vCache, output, paddingSide, lse, options, stream, shape);
        }
    }

    /// <summary>Decode with the valid lengths in a buffer on the tensors' device (see the host-length overload for the semantics).</summary>
    /// <typeparam name="T">Half or BFloat16 (the CPU backend also takes float).</typeparam>
    /// <param name="q">Queries [batch, q_len, num_qo_heads, head_dim], 1 &lt;= q_len &lt;= 16.</param>
    /// <param name="kCache">Keys [batch, cache_len, num_kv_heads, head_dim].</param>
    /// <param name="vCache">Values, shaped like <paramref name="kCache"/>.</param>
    /// <param name="output">Written: [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="kvValidLens">Real keys per row, batch elements on q's device (CUDA values are clamped by the kernels); null means the whole cache.</param>
    /// <param name="paddingSide">Where the real keys are in the cache.</param>
    /// <param name="lse">Optional, written: [batch, q_len, num_qo_heads].</param>
    /// <param name="options">Softmax scale and KV splits; null for the defaults.</param>
    /// <param name="stream">CUDA stream of the tensors' device; must be null for CPU tensors.</param>
    /// <exception cref="ArgumentNullException">A required tensor is null.</exception>
    /// <exception cref="ArgumentException">Shapes, strides, lengths, element type, devices or stream do not fit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A valid length in host memory is out of range.</exception>
    /// <exception cref="ObjectDisposedException">A tensor, the length buffer or the stream was disposed.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not an element type of the library.</exception>
    /// <exception cref="PaddedAttentionException">The native library failed.</exception>
    // A plain `null` for the lengths means "no lengths" (the whole cache): pick this overload.
    [OverloadResolutionPriority(1)]
    public static void Decode<T>(DeviceTensor<T> q, DeviceTensor<T> kCache, DeviceTensor<T> vCache, DeviceTensor<T> output,
        DeviceBuffer<int>? kvValidLens, PaddingSide paddingSide, DeviceTensor<float>? lse = null, DecodeOptions? options = null, CudaStream? stream = null) where T : unmanaged
    {
        var shape = AttentionChecks.ValidateDecode(q, kCache, vCache, output, paddingSide, lse, options, stream);
        if (kvValidLens is not null)
        {
            AttentionChecks.CheckBufferLengths(kvValidLens, shape.Batch, shape.KvLen, q.Device, nameof(kvValidLens));
        }
        AttentionCalls.RunDecode(q, default, kvValidLens,
            kCache, vCache, output, paddingSide, lse, options, stream, shape);
    }

    /// <summary>
    /// Merges two partial attention results over disjoint key sets into the
    /// result over their union: lse = ln(exp(lseA) + exp(lseB)),
    /// o = oA·exp(lseA - lse) + oB·exp(lseB - lse). A state with lse = -inf
    /// contributes nothing; both -inf give o = 0, lse = -inf.
    /// </summary>
    /// <typeparam name="T">float, Half or BFloat16.</typeparam>
    /// <param name="oA">First partial output, [tokens, heads, head_dim] or [batch, len, heads, head_dim].</param>
    /// <param name="lseA">Its log-sum-exp: <paramref name="oA"/>'s shape without the last dimension.</param>
    /// <param name="oB">Second partial output, shaped like <paramref name="oA"/>.</param>
    /// <param name="lseB">Its log-sum-exp, shaped like <paramref name="lseA"/>.</param>
    /// <param name="oOut">Written: the merged output, shaped like <paramref name="oA"/> (may be <paramref name="oA"/>).</param>
    /// <param name="lseOut">Written: the merged log-sum-exp (may be <paramref name="lseA"/>).</param>
    /// <param name="stream">CUDA stream of the tensors' device; must be null for CPU tensors.</param>
    /// <exception cref="ArgumentNullException">A tensor is null.</exception>
    /// <exception cref="ArgumentException">Shapes, strides, element type, devices or stream do not fit.</exception>
    /// <exception cref="ObjectDisposedException">A tensor or the stream was disposed.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not an element type of the library.</exception>
    /// <exception cref="PaddedAttentionException">The native library failed.</exception>
    public static void MergeStates<T>(DeviceTensor<T> oA, DeviceTensor<float> lseA, DeviceTensor<T> oB, DeviceTensor<float> lseB,
        DeviceTensor<T> oOut, DeviceTensor<float> lseOut, CudaStream? stream = null) where T : unmanaged
    {
        AttentionChecks.ValidateMerge(oA, lseA, oB, lseB, oOut, lseOut, stream);
        if (oA.ElementCount == 0)
        {
            return;
        }
        AttentionCalls.RunMerge(oA, lseA, oB, lseB, oOut, lseOut, stream);
    }
}
