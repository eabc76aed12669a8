using System;
using System.Threading;
using System.Threading.Tasks;
using PaddedAttention.Internal;
using PaddedAttention.Interop;

namespace PaddedAttention;

/// <summary>
/// A CUDA stream (a <c>cudaStream_t</c>) of one device. Work given a stream is
/// queued on it and runs asynchronously; <see cref="Synchronize"/> waits for it.
/// A stream created here is destroyed by <see cref="Dispose"/> (or the
/// finalizer); one wrapped with <see cref="FromHandle"/> is never destroyed.
/// </summary>
public sealed class CudaStream : IDisposable
{
    private readonly StreamHandle _handle;

    /// <summary>Creates a stream on a CUDA device (non-blocking with respect to the default stream).</summary>
    /// <param name="device">A CUDA device.</param>
    /// <exception cref="ArgumentException"><paramref name="device"/> is the CPU.</exception>
    /// <exception cref="PaddedAttentionException">The device does not exist, CUDA is not built in, or creation failed.</exception>
    public unsafe CudaStream(Device device)
    {
        if (!device.IsCuda)
        {
            throw new ArgumentException("A CUDA stream needs a CUDA device; CPU work is synchronous and takes no stream.", nameof(device));
        }
        PaddedAttentionLibrary.EnsureLoaded();
        void* stream = null;
        PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_stream_create(device.Id, &stream));
        _handle = new StreamHandle((IntPtr)stream, ownsHandle: true);
        Device = device;
    }

    private CudaStream(IntPtr handle, Device device)
    {
        _handle = new StreamHandle(handle, ownsHandle: false);
        Device = device;
    }

    /// <summary>
    /// Wraps a stream created elsewhere (TorchSharp, ONNX Runtime, another CUDA
    /// library) without taking ownership: disposing the wrapper never destroys it.
    /// <see cref="IntPtr.Zero"/> is the device's default stream.
    /// </summary>
    /// <param name="handle">The <c>cudaStream_t</c>.</param>
    /// <param name="device">The CUDA device the stream belongs to.</param>
    /// <returns>A non-owning stream.</returns>
    /// <exception cref="ArgumentException"><paramref name="device"/> is the CPU.</exception>
    public static CudaStream FromHandle(IntPtr handle, Device device)
    {
        if (!device.IsCuda)
        {
            throw new ArgumentException("A CUDA stream belongs to a CUDA device, not the CPU.", nameof(device));
        }
        return new CudaStream(handle, device);
    }

    /// <summary>The device the stream belongs to.</summary>
    public Device Device { get; }

    /// <summary>The <c>cudaStream_t</c>.</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public IntPtr Handle => _handle.GetPointer(nameof(CudaStream));

    /// <summary>Whether disposing destroys the stream (false for <see cref="FromHandle"/>).</summary>
    public bool IsOwner => _handle.IsOwner;

    internal StreamHandle SafeHandle => _handle;

    internal bool IsDisposed => _handle.IsClosed;

    internal void ThrowIfDisposed()
    {
        if (_handle.IsClosed)
        {
            throw new ObjectDisposedException(nameof(CudaStream), "The stream was disposed.");
        }
    }

    /// <summary>Waits until all work queued on the stream has finished.</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    /// <exception cref="PaddedAttentionException">The CUDA runtime reported an error (including one of earlier asynchronous work).</exception>
    public unsafe void Synchronize()
    {
        ThrowIfDisposed();
        PaddedAttentionLibrary.EnsureLoaded();
        var lease = new HandleLease();
        try
        {
            lease.Add(_handle);
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_stream_synchronize((void*)Handle));
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>
    /// Makes work queued on this stream after the call wait for the work
    /// <paramref name="cudaEvent"/> captured (on the device: the calling thread
    /// does not wait). Orders this stream after another library's work, or
    /// after another of our streams.
    /// </summary>
    /// <param name="cudaEvent">A recorded event (of any device).</param>
    /// <exception cref="ArgumentNullException"><paramref name="cudaEvent"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The stream or the event was disposed.</exception>
    /// <exception cref="PaddedAttentionException">The CUDA runtime reported an error.</exception>
    public unsafe void Wait(CudaEvent cudaEvent)
    {
        ArgumentNullException.ThrowIfNull(cudaEvent);
        ThrowIfDisposed();
        var lease = new HandleLease();
        try
        {
            lease.Add(_handle);
            lease.Add(cudaEvent.SafeHandle);
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_stream_wait_event(
                (void*)_handle.DangerousGetHandle(), (void*)cudaEvent.SafeHandle.DangerousGetHandle()));
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>
    /// Completes when all work queued on the stream so far has finished,
    /// without blocking a thread: an event is recorded and polled
    /// (see <see cref="CudaEvent.WaitAsync"/>).
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (the device work goes on).</param>
    /// <returns>A task that completes when the work is done, or fails with the CUDA error.</returns>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    /// <exception cref="PaddedAttentionException">The event could not be created or recorded.</exception>
    public async Task SynchronizeAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        using var done = new CudaEvent(Device);
        done.Record(this);
        await done.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Destroys the stream if this object owns it; calling it again does nothing.</summary>
    public void Dispose() => _handle.Dispose();

    /// <summary>"cuda:N stream 0x..." for diagnostics.</summary>
    /// <returns>The text.</returns>
    public override string ToString() =>
        _handle.IsClosed ? $"{Device} stream (disposed)" : $"{Device} stream 0x{_handle.DangerousGetHandle():x}";
}
