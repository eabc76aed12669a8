using System;
using System.Runtime.InteropServices;
using System.Threading;
using PaddedAttention.Interop;

namespace PaddedAttention;

/// <summary>
/// The native library behind this API: where it was loaded from and which
/// version it is. The first use of any part of the API that needs native code
/// loads the library (see <see cref="LoadedFrom"/>) and checks that its ABI
/// version matches the one these bindings were generated from.
/// </summary>
public static class PaddedAttentionLibrary
{
    private static readonly object Gate = new();
    private static volatile bool s_ready;
    private static Func<Exception>? s_failure;

    /// <summary>The native library's version string: "MAJOR.MINOR.PATCH" plus build details (CUDA or CPU-only).</summary>
    /// <exception cref="DllNotFoundException">The library could not be loaded; the message lists every path tried.</exception>
    /// <exception cref="PaddedAttentionException">The library's ABI version differs from the bindings'.</exception>
    public static unsafe string Version
    {
        get
        {
            EnsureLoaded();
            return Marshal.PtrToStringUTF8((IntPtr)NativeMethods.pattn_version_string()) ?? "";
        }
    }

    /// <summary>The ABI version the native library was built with (equal to the bindings' once loaded).</summary>
    /// <exception cref="DllNotFoundException">The library could not be loaded; the message lists every path tried.</exception>
    /// <exception cref="PaddedAttentionException">The library's ABI version differs from the bindings'.</exception>
    public static uint AbiVersion
    {
        get
        {
            EnsureLoaded();
            return NativeMethods.pattn_abi_version();
        }
    }

    /// <summary>The ABI version these bindings were generated from (<c>PATTN_ABI_VERSION</c> in paddedattn.h).</summary>
    public static uint ExpectedAbiVersion => PattnConstants.AbiVersion;

    /// <summary>
    /// The path the native library was loaded from (or its file name when the
    /// operating system's search found it); null when it could not be loaded.
    /// Reading it attempts the load but never throws.
    /// </summary>
    public static string? LoadedFrom
    {
        get
        {
            try
            {
                return NativeLibraryLoader.Resolution.LoadedFrom;
            }
            catch (Exception)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// The single gate before native code: loads the library once, checks the
    /// ABI version, and from then on costs one volatile read. A failure is
    /// remembered and thrown again (as a fresh exception) on every later use.
    /// </summary>
    internal static void EnsureLoaded()
    {
        if (s_ready)
        {
            return;
        }
        lock (Gate)
        {
            if (!s_ready && s_failure is null)
            {
                s_failure = Initialize();
                s_ready = s_failure is null;
            }
        }
        if (s_failure is not null)
        {
            throw s_failure();
        }
    }

    private static Func<Exception>? Initialize()
    {
        var resolution = NativeLibraryLoader.Resolution;
        if (!resolution.Succeeded)
        {
            string message = resolution.DescribeFailure();
            return () => new DllNotFoundException(message);
        }
        uint actual;
        try
        {
            actual = NativeMethods.pattn_abi_version();
        }
        catch (Exception exception) when (exception is EntryPointNotFoundException or DllNotFoundException)
        {
            string message = $"{resolution.LoadedFrom} was loaded but is not a PaddedAttention library: {exception.Message}";
            return () => new DllNotFoundException(message);
        }
        string? abiError = DescribeAbiMismatch(actual, PattnConstants.AbiVersion, resolution.LoadedFrom);
        if (abiError is not null)
        {
            return () => new PaddedAttentionException(AttentionStatus.Unsupported, "", abiError);
        }
        return null;
    }

    /// <summary>The ABI check: null when the versions agree, else the error message.</summary>
    internal static string? DescribeAbiMismatch(uint libraryAbi, uint bindingsAbi, string? loadedFrom) =>
        libraryAbi == bindingsAbi
            ? null
            : $"ABI version mismatch: the native library {loadedFrom ?? "(unknown path)"} has ABI version {libraryAbi}, " +
              $"but these .NET bindings were generated for ABI version {bindingsAbi}. Use the native library and the PaddedAttention package of the same release.";

    /// <summary>Turns a failing status into <see cref="PaddedAttentionException"/> with the thread's native message.</summary>
    internal static unsafe void ThrowIfFailed(PattnStatus status)
    {
        if (status == PattnStatus.Success)
        {
            return;
        }
        string nativeMessage = Marshal.PtrToStringUTF8((IntPtr)NativeMethods.pattn_last_error_message()) ?? "";
        string statusName = Marshal.PtrToStringUTF8((IntPtr)NativeMethods.pattn_status_string(status)) ?? status.ToString();
        var publicStatus = (AttentionStatus)(int)status;
        string message = nativeMessage.Length > 0 ? $"{statusName}: {nativeMessage}" : statusName;
        throw new PaddedAttentionException(publicStatus, nativeMessage, message);
    }
}
