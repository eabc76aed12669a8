using System;
using PaddedAttention.Internal;
using PaddedAttention.Interop;

namespace PaddedAttention;

// Decode against a paged KV cache (pattn_decode with a page_table; layout in
// docs/semantics.md, "Paged KV cache").
public static partial class Attention
{
    /// <summary>
    /// Decode against a paged KV cache: row b's real key j is slot j % page_size of page
    /// <c>pageTable[b, j / page_size]</c> (vLLM's block table over FlashInfer's page layout).
    /// Query i sees real key j iff j &lt;= i + kv - q_len, as in <see cref="Decode{T}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, ReadOnlySpan{int}, PaddingSide, DeviceTensor{float}?, DecodeOptions?, CudaStream?)"/>.
    /// Only the first ceil(kv / page_size) entries of a row are read; rows may share pages.
    /// </summary>
    /// <typeparam name="T">Half or BFloat16 (the CPU backend also takes float).</typeparam>
    /// <param name="q">Queries [batch, q_len, num_qo_heads, head_dim], 1 &lt;= q_len &lt;= 16.</param>
    /// <param name="kPages">Key pages [num_pages, page_size, num_kv_heads, head_dim].</param>
    /// <param name="vPages">Value pages, shaped like <paramref name="kPages"/>.</param>
    /// <param name="output">Written: [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="pageTable">[batch, max_pages_per_row] page indices on q's device (host tables are checked, CUDA entries clamped).</param>
    /// <param name="kvValidLens">Real keys per row in host memory, in [0, max_pages_per_row * page_size]; empty means every row is that long.</param>
    /// <param name="lse">Optional, written: [batch, q_len, num_qo_heads].</param>
    /// <param name="options">Softmax scale and KV splits; null for the defaults.</param>
    /// <param name="stream">CUDA stream of the tensors' device; must be null for CPU tensors.</param>
    /// <exception cref="ArgumentNullException">A required tensor is null.</exception>
    /// <exception cref="ArgumentException">Shapes, strides, lengths, element type, devices or stream do not fit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A valid length is out of range.</exception>
    /// <exception cref="ObjectDisposedException">A tensor or the stream was disposed.</exception>
    /// <exception cref="PaddedAttentionException">The native library failed (e.g. a host page index out of range).</exception>
    public static unsafe void DecodePaged<T>(DeviceTensor<T> q, DeviceTensor<T> kPages, DeviceTensor<T> vPages, DeviceTensor<T> output,
        DeviceTensor<int> pageTable, ReadOnlySpan<int> kvValidLens, DeviceTensor<float>? lse = null, DecodeOptions? options = null,
        CudaStream? stream = null) where T : unmanaged
    {
        long capacity = ValidatePagedDecode(q, kPages, vPages, output, pageTable, lse, options, stream);
        if (!kvValidLens.IsEmpty)
        {
            CheckHostLengths(kvValidLens, q.ShapeArray[0], capacity, nameof(kvValidLens));
        }
        fixed (int* kvLens = kvValidLens)
        {
            RunPagedDecode(q, kPages, vPages, output, pageTable,
                kvValidLens.IsEmpty ? default : HostLengths(kvLens, q.ShapeArray[0]), null, lse, options, stream);
        }
    }

    /// <summary>Paged decode with the valid lengths in a buffer on the tensors' device (see the host-length overload).</summary>
    /// <typeparam name="T">Half or BFloat16 (the CPU backend also takes float).</typeparam>
    /// <param name="q">Queries [batch, q_len, num_qo_heads, head_dim], 1 &lt;= q_len &lt;= 16.</param>
    /// <param name="kPages">Key pages [num_pages, page_size, num_kv_heads, head_dim].</param>
    /// <param name="vPages">Value pages, shaped like <paramref name="kPages"/>.</param>
    /// <param name="output">Written: [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="pageTable">[batch, max_pages_per_row] page indices on q's device.</param>
    /// <param name="kvValidLens">Real keys per row on q's device (CUDA values are clamped by the kernels); null means full rows.</param>
    /// <param name="lse">Optional, written: [batch, q_len, num_qo_heads].</param>
    /// <param name="options">Softmax scale and KV splits; null for the defaults.</param>
    /// <param name="stream">CUDA stream of the tensors' device; must be null for CPU tensors.</param>
    /// <exception cref="ArgumentNullException">A required tensor is null.</exception>
    /// <exception cref="ArgumentException">Shapes, strides, lengths, element type, devices or stream do not fit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A valid length in host memory is out of range.</exception>
    /// <exception cref="ObjectDisposedException">A tensor, the length buffer or the stream was disposed.</exception>
    /// <exception cref="PaddedAttentionException">The native library failed.</exception>
    public static void DecodePaged<T>(DeviceTensor<T> q, DeviceTensor<T> kPages, DeviceTensor<T> vPages, DeviceTensor<T> output,
        DeviceTensor<int> pageTable, DeviceBuffer<int>? kvValidLens, DeviceTensor<float>? lse = null, DecodeOptions? options = null,
        CudaStream? stream = null) where T : unmanaged
    {
        long capacity = ValidatePagedDecode(q, kPages, vPages, output, pageTable, lse, options, stream);
        if (kvValidLens is not null)
        {
            CheckBufferLengths(kvValidLens, q.ShapeArray[0], capacity, q.Device, nameof(kvValidLens));
        }
        RunPagedDecode(q, kPages, vPages, output, pageTable, default, kvValidLens, lse, options, stream);
    }

    // Returns the capacity of a row (max_pages_per_row * page_size).
    private static long ValidatePagedDecode<T>(DeviceTensor<T> q, DeviceTensor<T> kPages, DeviceTensor<T> vPages, DeviceTensor<T> output,
        DeviceTensor<int> pageTable, DeviceTensor<float>? lse, DecodeOptions? options, CudaStream? stream) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(kPages);
        ArgumentNullException.ThrowIfNull(vPages);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(pageTable);
        _ = AttentionElementType<T>(nameof(q));
        CheckScale(options?.SoftmaxScale, nameof(options));
        if (options is not null && options.NumSplits < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.NumSplits, "NumSplits must be 0 (library chooses) or positive.");
        }
        q.ThrowIfDisposed();
        kPages.ThrowIfDisposed();
        vPages.ThrowIfDisposed();
        output.ThrowIfDisposed();
        pageTable.ThrowIfDisposed();
        lse?.ThrowIfDisposed();
        ThrowIfDisposed(stream);
        RequireRank(q, 4, nameof(q));
        RequireRank(kPages, 4, nameof(kPages));
        RequireRank(pageTable, 2, nameof(pageTable));
        long batch = q.ShapeArray[0], qLen = q.ShapeArray[1], qoHeads = q.ShapeArray[2], headDim = q.ShapeArray[3];
        long kvHeads = kPages.ShapeArray[2];
        if (kPages.ShapeArray[3] != headDim)
        {
            throw new ArgumentException($"kPages has head_dim {kPages.ShapeArray[3]} but q has head_dim {headDim}.", nameof(kPages));
        }
        if (kvHeads == 0 || qoHeads % kvHeads != 0)
        {
            throw new ArgumentException($"num_qo_heads ({qoHeads}) must be a multiple of num_kv_heads ({kvHeads}).", nameof(kPages));
        }
        if (pageTable.ShapeArray[0] != batch)
        {
            throw new ArgumentException($"pageTable has {pageTable.ShapeArray[0]} rows but q has batch {batch}.", nameof(pageTable));
        }
        RequireShape(vPages, kPages.ShapeArray, nameof(vPages));
        RequireShape(output, q.ShapeArray, nameof(output));
        if (lse is not null)
        {
            RequireRank(lse, 3, nameof(lse));
            RequireShape(lse, new[] { batch, qLen, qoHeads }, nameof(lse));
            RequireUnitLastStride(lse, nameof(lse));
            RequireDevice(lse.Device, q.Device, nameof(lse));
        }
        RequireUnitLastStride(q, nameof(q));
        RequireUnitLastStride(kPages, nameof(kPages));
        RequireUnitLastStride(vPages, nameof(vPages));
        RequireUnitLastStride(output, nameof(output));
        RequireUnitLastStride(pageTable, nameof(pageTable));
        RequireDevice(kPages.Device, q.Device, nameof(kPages));
        RequireDevice(vPages.Device, q.Device, nameof(vPages));
        RequireDevice(output.Device, q.Device, nameof(output));
        RequireDevice(pageTable.Device, q.Device, nameof(pageTable));
        CheckStream(stream, q.Device);
        if (qLen < 1 || qLen > MaxDecodeQueries)
        {
            throw new ArgumentException($"Decode takes 1 to {MaxDecodeQueries} queries per row; q has q_len {qLen}.", nameof(q));
        }
        return kPages.ShapeArray[0] == 0 ? 0 : pageTable.ShapeArray[1] * kPages.ShapeArray[1];
    }

    private static unsafe void RunPagedDecode<T>(DeviceTensor<T> q, DeviceTensor<T> kPages, DeviceTensor<T> vPages, DeviceTensor<T> output,
        DeviceTensor<int> pageTable, PattnTensor kvLens, DeviceBuffer<int>? kvLensBuffer, DeviceTensor<float>? lse,
        DecodeOptions? options, CudaStream? stream) where T : unmanaged
    {
        if (q.ShapeArray[0] == 0)
        {
            return;
        }
        PaddedAttentionLibrary.EnsureLoaded();
        var lease = new HandleLease();
        try
        {
            LeaseTensors(ref lease, q, kPages, vPages, output, lse, stream);
            lease.Add(pageTable.Buffer!.SafeHandle);
            if (kvLensBuffer is not null)
            {
                lease.Add(kvLensBuffer.SafeHandle);
                kvLens = BufferLengths(kvLensBuffer);
            }
            var parameters = new PattnDecodeParams
            {
                struct_size = (uint)sizeof(PattnDecodeParams),
                padding_side = PattnPaddingSide.Right,
                q = Describe(q),
                k_cache = Describe(kPages),
                v_cache = Describe(vPages),
                o = Describe(output),
                lse = lse is null ? default : Describe(lse),
                kv_valid_lens = kvLens,
                softmax_scale = options?.SoftmaxScale ?? 0f,
                num_splits = options?.NumSplits ?? 0,
                page_table = Describe(pageTable),
            };
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_decode(&parameters, StreamPointer(stream)));
        }
        finally
        {
            lease.Dispose();
        }
    }
}
