namespace PaddedAttention;

/// <summary>Options of <see cref="Attention.SequencePrefill{T}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, MaskMode, DeviceTensor{float}?, PrefillOptions?, CudaStream?)"/>.</summary>
public sealed record PrefillOptions
{
    /// <summary>Factor applied to q·k before the softmax; null means 1/sqrt(head_dim). Must be finite and non-zero.</summary>
    public float? SoftmaxScale { get; init; }

    /// <summary>Most threads a call on the CPU backend uses; 0 means every hardware thread. Must not be negative; ignored on CUDA.</summary>
    public int CpuMaxThreads { get; init; }
}

/// <summary>Options of <see cref="Attention.Decode{T}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, System.ReadOnlySpan{int}, PaddingSide, DeviceTensor{float}?, DecodeOptions?, CudaStream?)"/>.</summary>
public sealed record DecodeOptions
{
    /// <summary>Factor applied to q·k before the softmax; null means 1/sqrt(head_dim). Must be finite and non-zero.</summary>
    public float? SoftmaxScale { get; init; }

    /// <summary>Number of KV splits per row (split-KV decode); 0 lets the library choose. Must not be negative.</summary>
    public int NumSplits { get; init; }

    /// <summary>Most threads a call on the CPU backend uses; 0 means every hardware thread. Must not be negative; ignored on CUDA.</summary>
    public int CpuMaxThreads { get; init; }
}
