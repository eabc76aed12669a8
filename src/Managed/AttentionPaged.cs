using System;
using PaddedAttention.Internal;

namespace PaddedAttention;

// Decode and prefill against a paged KV cache (pattn_decode and
// pattn_sequence_prefill with a page_table; layout in docs/semantics.md,
// "Paged KV cache").
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
    /// <inheritdoc cref="AttentionDocs.Exceptions" path="/exception"/>
    public static unsafe void DecodePaged<T>(DeviceTensor<T> q, DeviceTensor<T> kPages, DeviceTensor<T> vPages, DeviceTensor<T> output,
        DeviceTensor<int> pageTable, ReadOnlySpan<int> kvValidLens, DeviceTensor<float>? lse = null, DecodeOptions? options = null,
        CudaStream? stream = null) where T : unmanaged
    {
        var shape = AttentionChecks.ValidatePaged(q, kPages, vPages, output, pageTable, lse, stream);
        if (!kvValidLens.IsEmpty)
        {
            AttentionChecks.CheckHostLengths(kvValidLens, shape.Batch, nameof(kvValidLens));
        }
        fixed (int* kvLens = kvValidLens)
        {
            AttentionCalls.RunDecode(q, kvValidLens.IsEmpty ? default : AttentionCalls.HostLengths(kvLens, shape.Batch), null,
                kPages, vPages, output, PaddingSide.Right, lse, options, stream, shape, pageTable);
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
    /// <inheritdoc cref="AttentionDocs.Exceptions" path="/exception"/>
    public static void DecodePaged<T>(DeviceTensor<T> q, DeviceTensor<T> kPages, DeviceTensor<T> vPages, DeviceTensor<T> output,
        DeviceTensor<int> pageTable, DeviceBuffer<int>? kvValidLens, DeviceTensor<float>? lse = null, DecodeOptions? options = null,
        CudaStream? stream = null) where T : unmanaged
    {
        var shape = AttentionChecks.ValidatePaged(q, kPages, vPages, output, pageTable, lse, stream);
        if (kvValidLens is not null)
        {
            AttentionChecks.CheckBufferLengths(kvValidLens, q.Device, nameof(kvValidLens));
        }
        AttentionCalls.RunDecode(q, default, kvValidLens, kPages, vPages, output, PaddingSide.Right, lse, options, stream, shape, pageTable);
    }

    /// <summary>
    /// Prefill of new tokens after a cached prefix, against a paged KV cache: row b's real key j is slot
    /// j % page_size of page <c>pageTable[b, j / page_size]</c>, as in
    /// <see cref="DecodePaged{T}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{int}, ReadOnlySpan{int}, DeviceTensor{float}?, DecodeOptions?, CudaStream?)"/>.
    /// Row b has <c>qValidLens[b]</c> new queries (right-padded in q) and <c>kvValidLens[b]</c> keys, the cached
    /// prefix followed by the new tokens' keys, which must already be in the pages; with a causal mask query i
    /// sees key j iff j &lt;= i + kv - qv (bottom-right aligned: the whole prefix and the new keys up to its own).
    /// </summary>
    /// <typeparam name="T">Half or BFloat16 (the CPU backend also takes float).</typeparam>
    /// <param name="q">New queries [batch, q_len, num_qo_heads, head_dim], real rows first.</param>
    /// <param name="kPages">Key pages [num_pages, page_size, num_kv_heads, head_dim], page_size 1 to 256.</param>
    /// <param name="vPages">Value pages, shaped like <paramref name="kPages"/>.</param>
    /// <param name="output">Written: [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="pageTable">[batch, max_pages_per_row] page indices on q's device (host tables are checked, CUDA entries clamped).</param>
    /// <param name="qValidLens">New queries per row in host memory, in [0, q_len]; empty means every row has q_len.</param>
    /// <param name="kvValidLens">Keys per row (prefix + new) in host memory, in [0, max_pages_per_row * page_size]; empty
    /// means equal to <paramref name="qValidLens"/> (then q_len must be max_pages_per_row * page_size), or that capacity when both are empty.</param>
    /// <param name="maskMode"><see cref="MaskMode.CausalPaddedRight"/> or <see cref="MaskMode.Padded"/> (a paged cache is right-padded).</param>
    /// <param name="lse">Optional, written: [batch, q_len, num_qo_heads].</param>
    /// <param name="options">Softmax scale, window, soft cap; null for the defaults.</param>
    /// <param name="stream">CUDA stream of the tensors' device; must be null for CPU tensors.</param>
    /// <inheritdoc cref="AttentionDocs.Exceptions" path="/exception"/>
    public static unsafe void PrefillPaged<T>(DeviceTensor<T> q, DeviceTensor<T> kPages, DeviceTensor<T> vPages, DeviceTensor<T> output,
        DeviceTensor<int> pageTable, ReadOnlySpan<int> qValidLens, ReadOnlySpan<int> kvValidLens, MaskMode maskMode,
        DeviceTensor<float>? lse = null, PrefillOptions? options = null, CudaStream? stream = null) where T : unmanaged
    {
        var shape = AttentionChecks.ValidatePaged(q, kPages, vPages, output, pageTable, lse, stream);
        if (!qValidLens.IsEmpty)
        {
            AttentionChecks.CheckHostLengths(qValidLens, shape.Batch, nameof(qValidLens));
        }
        if (!kvValidLens.IsEmpty)
        {
            AttentionChecks.CheckHostLengths(kvValidLens, shape.Batch, nameof(kvValidLens));
        }
        fixed (int* qLens = qValidLens)
        fixed (int* kvLens = kvValidLens)
        {
            AttentionCalls.RunPrefill(q, kPages, vPages, output, maskMode, lse, options, stream, shape,
                qValidLens.IsEmpty ? default : AttentionCalls.HostLengths(qLens, shape.Batch),
                kvValidLens.IsEmpty ? default : AttentionCalls.HostLengths(kvLens, shape.Batch), null, null, pageTable: pageTable);
        }
    }

    /// <summary>Paged prefill with the valid lengths in buffers on the tensors' device (see the host-length overload); a
    /// graph-capturable call whose lengths and page table may change between replays.</summary>
    /// <typeparam name="T">Half or BFloat16 (the CPU backend also takes float).</typeparam>
    /// <param name="q">New queries [batch, q_len, num_qo_heads, head_dim], real rows first.</param>
    /// <param name="kPages">Key pages [num_pages, page_size, num_kv_heads, head_dim], page_size 1 to 256.</param>
    /// <param name="vPages">Value pages, shaped like <paramref name="kPages"/>.</param>
    /// <param name="output">Written: [batch, q_len, num_qo_heads, head_dim].</param>
    /// <param name="pageTable">[batch, max_pages_per_row] page indices on q's device.</param>
    /// <param name="qValidLens">New queries per row on q's device (CUDA values are clamped); null means every row has q_len.</param>
    /// <param name="kvValidLens">Keys per row on q's device (CUDA values are clamped); null as in the host-length overload.</param>
    /// <param name="maskMode"><see cref="MaskMode.CausalPaddedRight"/> or <see cref="MaskMode.Padded"/>.</param>
    /// <param name="lse">Optional, written: [batch, q_len, num_qo_heads].</param>
    /// <param name="options">Softmax scale, window, soft cap; null for the defaults.</param>
    /// <param name="stream">CUDA stream of the tensors' device; must be null for CPU tensors.</param>
    /// <inheritdoc cref="AttentionDocs.Exceptions" path="/exception"/>
    public static void PrefillPaged<T>(DeviceTensor<T> q, DeviceTensor<T> kPages, DeviceTensor<T> vPages, DeviceTensor<T> output,
        DeviceTensor<int> pageTable, DeviceBuffer<int>? qValidLens, DeviceBuffer<int>? kvValidLens, MaskMode maskMode,
        DeviceTensor<float>? lse = null, PrefillOptions? options = null, CudaStream? stream = null) where T : unmanaged
    {
        var shape = AttentionChecks.ValidatePaged(q, kPages, vPages, output, pageTable, lse, stream);
        if (qValidLens is not null)
        {
            AttentionChecks.CheckBufferLengths(qValidLens, q.Device, nameof(qValidLens));
        }
        if (kvValidLens is not null)
        {
            AttentionChecks.CheckBufferLengths(kvValidLens, q.Device, nameof(kvValidLens));
        }
        AttentionCalls.RunPrefill(q, kPages, vPages, output, maskMode, lse, options, stream, shape, default, default,
            qValidLens, kvValidLens, pageTable: pageTable);
    }
}
