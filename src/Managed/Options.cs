namespace PaddedAttention;

/// <summary>Options of <see cref="Attention.SequencePrefill{T}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, MaskMode, DeviceTensor{float}?, PrefillOptions?, CudaStream?)"/>.</summary>
public sealed record PrefillOptions
{
    /// <summary>Factor applied to q·k before the softmax; null means 1/sqrt(head_dim). Must be finite and non-zero.</summary>
    public float? SoftmaxScale { get; init; }

    /// <summary>Most threads a call on the CPU backend uses; 0 means every hardware thread. Must not be negative; ignored on CUDA.</summary>
    public int CpuMaxThreads { get; init; }

    /// <summary>Sliding window around each query's bottom-right-aligned diagonal; null means none (docs/semantics.md).</summary>
    public SlidingWindow? Window { get; init; }

    /// <summary>Logit soft cap: scores become cap · tanh(score · scale / cap) before the mask; 0 means off. Must be finite and not negative.</summary>
    public float LogitsSoftCap { get; init; }
}

/// <summary>
/// A sliding window: query i (diagonal d = i + kv - qv) sees keys d - <see cref="Left"/>
/// through d + <see cref="Right"/>, within its mask; -1 on a side means unlimited.
/// </summary>
/// <param name="Left">Keys before the diagonal a query sees (0 = none), or -1 for unlimited.</param>
/// <param name="Right">Keys after the diagonal a query sees (0 = none), or -1 for unlimited; no effect under a causal mask.</param>
public readonly record struct SlidingWindow(int Left, int Right);

/// <summary>Options of <see cref="Attention.Decode{T}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, System.ReadOnlySpan{int}, PaddingSide, DeviceTensor{float}?, DecodeOptions?, CudaStream?)"/>.</summary>
public sealed record DecodeOptions
{
    /// <summary>Factor applied to q·k before the softmax; null means 1/sqrt(head_dim). Must be finite and non-zero.</summary>
    public float? SoftmaxScale { get; init; }

    /// <summary>Number of KV splits per row (split-KV decode); 0 lets the library choose. Must not be negative.</summary>
    public int NumSplits { get; init; }

    /// <summary>Most threads a call on the CPU backend uses; 0 means every hardware thread. Must not be negative; ignored on CUDA.</summary>
    public int CpuMaxThreads { get; init; }

    /// <summary>Sliding window (only <see cref="SlidingWindow.Left"/> matters: decode is causal); null means none.</summary>
    public SlidingWindow? Window { get; init; }

    /// <summary>Logit soft cap, as in <see cref="PrefillOptions.LogitsSoftCap"/>; 0 means off.</summary>
    public float LogitsSoftCap { get; init; }
}
