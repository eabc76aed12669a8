using System;
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
public static class Attention
{
    private const int MaxDecodeQueries = 16;

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
        var shape = ValidatePrefill(q, k, v, output, maskMode, lse, options, stream);
        RunPrefill(q, k, v, output, maskMode, lse, options, stream, shape, default, default, null, null);
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
        var shape = ValidatePrefill(q, k, v, output, maskMode, lse, options, stream);
        RequireEqualLengths(shape, nameof(k));
        CheckHostLengths(qValidLens, shape.Batch, shape.QLen, nameof(qValidLens));
        fixed (int* qLens = qValidLens)
        {
            RunPrefill(q, k, v, output, maskMode, lse, options, stream, shape,
                HostLengths(qLens, shape.Batch), default, null, null);
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
        var shape = ValidatePrefill(q, k, v, output, maskMode, lse, options, stream);
        CheckHostLengths(qValidLens, shape.Batch, shape.QLen, nameof(qValidLens));
        CheckHostLengths(kvValidLens, shape.Batch, shape.KvLen, nameof(kvValidLens));
        fixed (int* qLens = qValidLens)
        fixed (int* kvLens = kvValidLens)
        {
            RunPrefill(q, k, v, output, maskMode, lse, options, stream, shape,
                HostLengths(qLens, shape.Batch), HostLengths(kvLens, shape.Batch), null, null);
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
        var shape = ValidatePrefill(q, k, v, output, maskMode, lse, options, stream);
        CheckBufferLengths(qValidLens, shape.Batch, shape.QLen, q.Device, nameof(qValidLens));
        if (kvValidLens is null)
        {
            RequireEqualLengths(shape, nameof(k));
        }
        else
        {
            CheckBufferLengths(kvValidLens, shape.Batch, shape.KvLen, q.Device, nameof(kvValidLens));
        }
        RunPrefill(q, k, v, output, maskMode, lse, options, stream, shape, default, default, qValidLens, kvValidLens);
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
        var shape = ValidatePrefill(q, k, v, q, maskMode, null, options, stream);
        RequireEqualLengths(shape, nameof(k));
        CheckHostLengths(qValidLens, shape.Batch, shape.QLen, nameof(qValidLens));
        var output = DeviceTensor<T>.Allocate(q.Device, q.ShapeArray);
        try
        {
            fixed (int* qLens = qValidLens)
            {
                RunPrefill(q, k, v, output, maskMode, null, options, stream, shape,
                    HostLengths(qLens, shape.Batch), default, null, null);
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
        var shape = ValidateDecode(q, kCache, vCache, output, paddingSide, lse, options, stream);
        if (!kvValidLens.IsEmpty)
        {
            CheckHostLengths(kvValidLens, shape.Batch, shape.KvLen, nameof(kvValidLens));
        }
        fixed (int* kvLens = kvValidLens)
        {
            RunDecode(q, kvValidLens.IsEmpty ? default : HostLengths(kvLens, shape.Batch), null,
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
        var shape = ValidateDecode(q, kCache, vCache, output, paddingSide, lse, options, stream);
        if (kvValidLens is not null)
        {
            CheckBufferLengths(kvValidLens, shape.Batch, shape.KvLen, q.Device, nameof(kvValidLens));
        }
        RunDecode(q, default, kvValidLens,
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
    public static unsafe void MergeStates<T>(DeviceTensor<T> oA, DeviceTensor<float> lseA, DeviceTensor<T> oB, DeviceTensor<float> lseB,
        DeviceTensor<T> oOut, DeviceTensor<float> lseOut, CudaStream? stream = null) where T : unmanaged
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
        RequireUnitLastStride(lseA, nameof(lseA));
        RequireUnitLastStride(lseB, nameof(lseB));
        RequireUnitLastStride(lseOut, nameof(lseOut));
        var device = oA.Device;
        RequireDevice(lseA.Device, device, nameof(lseA));
        RequireDevice(oB.Device, device, nameof(oB));
        RequireDevice(lseB.Device, device, nameof(lseB));
        RequireDevice(oOut.Device, device, nameof(oOut));
        RequireDevice(lseOut.Device, device, nameof(lseOut));
        CheckStream(stream, device);
        if (oA.ElementCount == 0)
        {
            return;
        }

        PaddedAttentionLibrary.EnsureLoaded();
        var lease = new HandleLease();
        try
        {
            lease.Add(oA.Buffer!.SafeHandle);
            lease.Add(lseA.Buffer!.SafeHandle);
            lease.Add(oB.Buffer!.SafeHandle);
            lease.Add(lseB.Buffer!.SafeHandle);
            lease.Add(oOut.Buffer!.SafeHandle);
            lease.Add(lseOut.Buffer!.SafeHandle);
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
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_merge_states(&parameters, StreamPointer(stream)));
        }
        finally
        {
            lease.Dispose();
        }
    }

    // ---------------------------------------------------------------- prefill

    private readonly record struct AttentionShape(long Batch, long QLen, long KvLen, long QoHeads, long KvHeads, long HeadDim);

    private static AttentionShape ValidatePrefill<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
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
        var shape = ValidateAttentionTensors(q, k, v, output, lse, stream, nameof(k), nameof(v));
        return shape;
    }

    private static void RequireEqualLengths(AttentionShape shape, string keyName)
    {
        if (shape.QLen != shape.KvLen)
        {
            throw new ArgumentException(
                $"Without separate kv valid lengths every row has as many real keys as real queries, so q_len ({shape.QLen}) must equal kv_len ({shape.KvLen}). " +
                "Pass kvValidLens for keys of another length.", keyName);
        }
    }

    private static unsafe void RunPrefill<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        MaskMode maskMode, DeviceTensor<float>? lse, PrefillOptions? options, CudaStream? stream, AttentionShape shape,
        PattnTensor qLens, PattnTensor kvLens, DeviceBuffer<int>? qLensBuffer, DeviceBuffer<int>? kvLensBuffer) where T : unmanaged
    {
        if (shape.Batch == 0 || shape.QLen == 0)
        {
            return; // nothing to compute or write
        }
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
            };
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_sequence_prefill(&parameters, StreamPointer(stream)));
        }
        finally
        {
            lease.Dispose();
        }
    }

    // ----------------------------------------------------------------- decode

    private static AttentionShape ValidateDecode<T>(DeviceTensor<T> q, DeviceTensor<T> kCache, DeviceTensor<T> vCache, DeviceTensor<T> output,
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

    private static unsafe void RunDecode<T>(DeviceTensor<T> q, PattnTensor kvLens, DeviceBuffer<int>? kvLensBuffer,
        DeviceTensor<T> kCache, DeviceTensor<T> vCache, DeviceTensor<T> output, PaddingSide paddingSide,
        DeviceTensor<float>? lse, DecodeOptions? options, CudaStream? stream, AttentionShape shape) where T : unmanaged
    {
        if (shape.Batch == 0)
        {
            return;
        }
        PaddedAttentionLibrary.EnsureLoaded();
        var lease = new HandleLease();
        try
        {
            LeaseTensors(ref lease, q, kCache, vCache, output, lse, stream);
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
            };
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_decode(&parameters, StreamPointer(stream)));
        }
        finally
        {
            lease.Dispose();
        }
    }

    // ------------------------------------------------------------- validation

    private static ElementType AttentionElementType<T>(string parameterName) where T : unmanaged
    {
        var type = ElementTypeOf<T>.Value; // NotSupportedException for foreign T
        if (type == ElementType.Int32)
        {
            throw new ArgumentException("Attention tensors hold float, Half or BFloat16 values, not int.", parameterName);
        }
        return type;
    }

    // q/k/v/output/lse/stream checks shared by prefill and decode.
    private static AttentionShape ValidateAttentionTensors<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
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
        if (lse is not null)
        {
            RequireUnitLastStride(lse, nameof(lse));
        }

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

    private static void RequireRank<TElement>(DeviceTensor<TElement> tensor, int rank, string name) where TElement : unmanaged
    {
        if (tensor.Rank != rank)
        {
            throw new ArgumentException($"{name} must have rank {rank}; it has shape [{string.Join(", ", tensor.ShapeArray)}].", name);
        }
    }

    private static void RequireShape<TElement>(DeviceTensor<TElement> tensor, long[] expected, string name) where TElement : unmanaged
    {
        if (!tensor.ShapeArray.AsSpan().SequenceEqual(expected))
        {
            throw new ArgumentException(
                $"{name} must have shape [{string.Join(", ", expected)}]; it has [{string.Join(", ", tensor.ShapeArray)}].", name);
        }
    }

    private static void RequireUnitLastStride<TElement>(DeviceTensor<TElement> tensor, string name) where TElement : unmanaged
    {
        var strides = tensor.StridesArray;
        if (strides[^1] != 1)
        {
            throw new ArgumentException(
                $"The last dimension of {name} must be contiguous (stride 1); its strides are [{string.Join(", ", strides)}].", name);
        }
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

    private static void ThrowIfDisposed(CudaStream? stream)
    {
        stream?.ThrowIfDisposed();
    }

    private static void CheckScale(float? scale, string name)
    {
        if (scale is float value && (!float.IsFinite(value) || value == 0f))
        {
            throw new ArgumentOutOfRangeException(name, value, "SoftmaxScale must be finite and non-zero (null means 1/sqrt(head_dim)).");
        }
    }

    private static void CheckCpuMaxThreads(int threads, string name)
    {
        if (threads < 0)
        {
            throw new ArgumentOutOfRangeException(name, threads, "CpuMaxThreads must be 0 (every hardware thread) or positive.");
        }
    }

    private static void CheckHostLengths(ReadOnlySpan<int> lengths, long batch, long maximum, string name)
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

    private static unsafe void CheckBufferLengths(DeviceBuffer<int> lengths, long batch, long maximum, Device device, string name)
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
            CheckHostLengths(new ReadOnlySpan<int>((int*)lengths.Pointer, checked((int)batch)), batch, maximum, name);
        }
    }

    // ------------------------------------------------------------ descriptors

    private static void LeaseTensors<T>(ref HandleLease lease, DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        DeviceTensor<T> output, DeviceTensor<float>? lse, CudaStream? stream) where T : unmanaged
    {
        lease.Add(q.Buffer!.SafeHandle);
        lease.Add(k.Buffer!.SafeHandle);
        lease.Add(v.Buffer!.SafeHandle);
        lease.Add(output.Buffer!.SafeHandle);
        lease.Add(lse?.Buffer!.SafeHandle);
        lease.Add(stream?.SafeHandle);
    }

    private static unsafe void* StreamPointer(CudaStream? stream) => stream is null ? null : (void*)stream.Handle;

    private static unsafe PattnTensor Describe<TElement>(DeviceTensor<TElement> tensor) where TElement : unmanaged
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

    private static unsafe PattnTensor HostLengths(int* lengths, long batch)
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

    private static unsafe PattnTensor BufferLengths(DeviceBuffer<int> lengths)
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
