using System;

namespace PaddedAttention.Internal;

/// <summary>Documentation shared by the overloads of <see cref="Attention"/> (through &lt;inheritdoc&gt;).</summary>
internal static class AttentionDocs
{
    /// <summary>The exceptions every <see cref="Attention"/> call can throw.</summary>
    /// <exception cref="ArgumentNullException">A required tensor or length buffer is null.</exception>
    /// <exception cref="ArgumentException">What only .NET knows is wrong: tensors on different devices, a stream with CPU tensors or of another device, int as the element type, a host span of lengths whose count is not q's batch.</exception>
    /// <exception cref="PaddedAttentionArgumentException">The native checks rejected an argument (rank, shape, stride, length value, enum value, softmax scale, size limit, overlapping outputs): ParamName is the C# parameter, Status and NativeMessage say what and why. It is an <see cref="ArgumentOutOfRangeException"/>, and so an <see cref="ArgumentException"/>.</exception>
    /// <exception cref="ObjectDisposedException">A tensor, a length buffer or the stream was disposed.</exception>
    /// <exception cref="NotSupportedException">The element type is not float, Half or BFloat16.</exception>
    /// <exception cref="PaddedAttentionException">The native library failed otherwise (e.g. an unsupported head_dim, a CUDA error, out of memory).</exception>
    internal static void Exceptions()
    {
    }
}
