using System;
using System.Collections.Generic;
using System.Globalization;
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

    /// <summary>
    /// What the loaded native library was built with: whether the CUDA backend
    /// is compiled in, its CUDA architectures and runtime version, and the CPU
    /// instruction set the CPU backend runs with.
    /// </summary>
    /// <exception cref="DllNotFoundException">The library could not be loaded; the message lists every path tried.</exception>
    /// <exception cref="PaddedAttentionException">The library's ABI version differs from the bindings'.</exception>
    public static unsafe LibraryCapabilities Capabilities
    {
        get
        {
            EnsureLoaded();
            PattnCapabilities native = default;
            native.struct_size = (uint)sizeof(PattnCapabilities);
            ThrowIfFailed(NativeMethods.pattn_get_capabilities(&native));
            int count = Math.Clamp(native.cuda_architecture_count, 0, 16);
            var architectures = new string[count];
            for (int i = 0; i < count; i++)
            {
                architectures[i] = string.Create(CultureInfo.InvariantCulture,
                    $"sm_{native.cuda_architectures[i]}{(native.cuda_arch_specific[i] != 0 ? "a" : "")}");
            }
            var isaBytes = new ReadOnlySpan<byte>(native.cpu_isa, 64);
            int end = isaBytes.IndexOf((byte)0);
            string cpuIsa = System.Text.Encoding.UTF8.GetString(end < 0 ? isaBytes : isaBytes[..end]);
            return new LibraryCapabilities(native.cuda_built != 0, native.cuda_runtime_version, Array.AsReadOnly(architectures), cpuIsa);
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

/// <summary>What the native library was built with (<see cref="PaddedAttentionLibrary.Capabilities"/>).</summary>
/// <param name="CudaBuilt">Whether the CUDA backend is compiled in (false: a CPU-only build).</param>
/// <param name="CudaRuntimeVersion">The CUDA runtime version built against, e.g. 11080 for 11.8; 0 without CUDA.</param>
/// <param name="CudaArchitectures">The GPU architectures compiled in, e.g. "sm_80", "sm_90a"; empty without CUDA.</param>
/// <param name="CpuIsa">The instruction set the CPU backend runs with, e.g. "x86-64 AVX2".</param>
public sealed record LibraryCapabilities(bool CudaBuilt, int CudaRuntimeVersion, IReadOnlyList<string> CudaArchitectures, string CpuIsa);
