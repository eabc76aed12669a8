namespace PaddedAttention;

/// <summary>Padding side and attention pattern of a padded batch (values = <c>pattn_mask_mode</c>; names follow Apache TVM).</summary>
public enum MaskMode
{
    /// <summary>Right padding, bidirectional: real rows are [0, qv) and [0, kv); every real query sees every real key (encoders).</summary>
    Padded = 0,

    /// <summary>Left padding, causal: real rows are the last qv / kv rows; query i sees key j iff j &lt;= i + kv - qv (decoder embedding batches).</summary>
    CausalPaddedLeft = 1,

    /// <summary>Right padding, causal: real rows are [0, qv) and [0, kv); query i sees key j iff j &lt;= i + kv - qv.</summary>
    CausalPaddedRight = 2,

    /// <summary>Left padding, bidirectional: real rows are the last qv / kv rows; every real query sees every real key.</summary>
    PaddedLeft = 3,
}

/// <summary>Where the real keys of a padded KV cache are (values = <c>pattn_padding_side</c>).</summary>
public enum PaddingSide
{
    /// <summary>Real keys are [0, kv).</summary>
    Right = 0,

    /// <summary>Real keys are [cache_len - kv, cache_len).</summary>
    Left = 1,
}

/// <summary>The kind of memory and processor a <see cref="Device"/> stands for.</summary>
public enum DeviceKind
{
    /// <summary>Host memory; attention runs on the CPU backend, synchronously.</summary>
    Cpu = 0,

    /// <summary>A CUDA GPU; attention runs asynchronously on a stream.</summary>
    Cuda = 1,
}

/// <summary>Element type of a tensor (values = <c>pattn_dtype</c>).</summary>
public enum ElementType
{
    /// <summary>32-bit IEEE float (<see cref="float"/>).</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The element type is named as in the C ABI (PATTN_DTYPE_F32) and in every ML library: it is a type name.")]
    Float32 = 0,

    /// <summary>16-bit IEEE float (<see cref="System.Half"/>).</summary>
    Float16 = 1,

    /// <summary>bfloat16 (<see cref="PaddedAttention.BFloat16"/>).</summary>
    BFloat16 = 2,

    /// <summary>32-bit signed integer (<see cref="int"/>), for valid lengths.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The element type is named as in the C ABI (PATTN_DTYPE_I32): it is a type name.")]
    Int32 = 3,
}

/// <summary>Status of a native call (values = <c>pattn_status</c>).</summary>
public enum AttentionStatus
{
    /// <summary>The call succeeded.</summary>
    Success = 0,

    /// <summary>A null pointer, wrong shape, rank, stride, length or struct size.</summary>
    InvalidArgument = 1,

    /// <summary>Valid input the library does not handle (a head_dim, a dtype...), or a native library of another ABI version.</summary>
    Unsupported = 2,

    /// <summary>Tensors of one call live on different devices (or host and device).</summary>
    DeviceMismatch = 3,

    /// <summary>An allocation failed.</summary>
    OutOfMemory = 4,

    /// <summary>The CUDA runtime reported an error; the native message has its name.</summary>
    CudaError = 5,

    /// <summary>A CUDA function was called on a library built without CUDA.</summary>
    CudaNotBuilt = 6,

    /// <summary>A CUDA device id that does not exist, or no device at all.</summary>
    NoDevice = 7,

    /// <summary>A bug in the library; please report it with the message.</summary>
    InternalError = 8,
}
