using System;

namespace PaddedAttention;

/// <summary>
/// An argument the native library rejected (status INVALID_ARGUMENT or
/// DEVICE_MISMATCH): <see cref="ArgumentException.ParamName"/> is the C#
/// parameter, mapped from the name the native side reported
/// (<c>pattn_last_error_argument()</c>, e.g. "kv_valid_lens" → "kvValidLens"),
/// and the message is the native one, which names the value. It derives from
/// <see cref="ArgumentOutOfRangeException"/>, so code catching that or
/// <see cref="ArgumentException"/> sees it.
/// </summary>
public sealed class PaddedAttentionArgumentException : ArgumentOutOfRangeException
{
    /// <summary>The standard constructor (status <see cref="AttentionStatus.InvalidArgument"/>).</summary>
    public PaddedAttentionArgumentException()
        : this(null, AttentionStatus.InvalidArgument, "", "An argument was rejected by the native library.")
    {
    }

    /// <summary>The standard constructor (status <see cref="AttentionStatus.InvalidArgument"/>).</summary>
    /// <param name="message">The exception message.</param>
    public PaddedAttentionArgumentException(string message)
        : this(null, AttentionStatus.InvalidArgument, "", message)
    {
    }

    /// <summary>The standard constructor (status <see cref="AttentionStatus.InvalidArgument"/>).</summary>
    /// <param name="message">The exception message.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public PaddedAttentionArgumentException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = AttentionStatus.InvalidArgument;
        NativeArgument = "";
        NativeMessage = message ?? "";
    }

    /// <summary>Creates the exception for a rejected argument.</summary>
    /// <param name="paramName">The C# parameter.</param>
    /// <param name="status">The status the native library returned.</param>
    /// <param name="nativeArgument">The argument as the native library named it ("q", "kv_valid_lens", ...).</param>
    /// <param name="nativeMessage">The native library's message.</param>
    public PaddedAttentionArgumentException(string? paramName, AttentionStatus status, string nativeArgument, string nativeMessage)
        : base(paramName, nativeMessage)
    {
        Status = status;
        NativeArgument = nativeArgument ?? "";
        NativeMessage = nativeMessage ?? "";
    }

    /// <summary>The status the native call returned.</summary>
    public AttentionStatus Status { get; }

    /// <summary>The argument as the native library named it (a field of its parameter struct).</summary>
    public string NativeArgument { get; }

    /// <summary>The native library's message (it names the argument and the value).</summary>
    public string NativeMessage { get; }
}
