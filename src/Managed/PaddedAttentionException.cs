using System;

namespace PaddedAttention;

/// <summary>
/// A failure reported by the native library (the one exception type for native
/// failures): the status it returned and the message it gave. Invalid
/// arguments are caught before any native call and throw
/// <see cref="ArgumentException"/> (or a subclass) instead.
/// </summary>
public sealed class PaddedAttentionException : Exception
{
    /// <summary>The standard constructor (status <see cref="AttentionStatus.InternalError"/>, no native message).</summary>
    public PaddedAttentionException()
        : this(AttentionStatus.InternalError, "", "A PaddedAttention native call failed.")
    {
    }

    /// <summary>The standard constructor (status <see cref="AttentionStatus.InternalError"/>, no native message).</summary>
    /// <param name="message">The exception message.</param>
    public PaddedAttentionException(string message)
        : this(AttentionStatus.InternalError, "", message)
    {
    }

    /// <summary>The standard constructor (status <see cref="AttentionStatus.InternalError"/>, no native message).</summary>
    /// <param name="message">The exception message.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public PaddedAttentionException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = AttentionStatus.InternalError;
        NativeMessage = "";
    }

    /// <summary>Creates the exception for a native status and message.</summary>
    /// <param name="status">The status the native library returned.</param>
    /// <param name="nativeMessage">The native library's message (pattn_last_error_message()).</param>
    public PaddedAttentionException(AttentionStatus status, string nativeMessage)
        : this(status, nativeMessage, $"{status}: {nativeMessage}")
    {
    }

    /// <summary>Creates the exception with a message of its own.</summary>
    /// <param name="status">The status the native library returned.</param>
    /// <param name="nativeMessage">The native library's message (pattn_last_error_message()).</param>
    /// <param name="message">The exception message.</param>
    public PaddedAttentionException(AttentionStatus status, string nativeMessage, string message)
        : base(message)
    {
        Status = status;
        NativeMessage = nativeMessage ?? "";
    }

    /// <summary>The status the native call returned.</summary>
    public AttentionStatus Status { get; }

    /// <summary>The native library's message at the failure (it names the argument and the value), or "".</summary>
    public string NativeMessage { get; }
}
