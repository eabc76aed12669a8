using System;
using System.Threading;
using System.Threading.Tasks;
using PaddedAttention.Internal;
using PaddedAttention.Interop;

namespace PaddedAttention;

/// <summary>
/// A CUDA event (a <c>cudaEvent_t</c>) of one device: a marker in a stream's
/// work. Record it on a stream, then make another stream wait for it
/// (<see cref="CudaStream.Wait(CudaEvent)"/>), wait for it from the host
/// (<see cref="Synchronize"/>, <see cref="WaitAsync"/>), or time the work
/// between two events (<see cref="Elapsed"/>). Destroyed by <see cref="Dispose"/>
/// (or the finalizer).
/// </summary>
public sealed class CudaEvent : IDisposable
{
    // WaitAsync polls: a few yields first (work that is nearly done), then
    // delays that double up to this cap, so a long wait costs a timer tick
    // every few milliseconds and never a blocked thread.
    private const int YieldsBeforeDelay = 4;
    private const int MaxPollDelayMilliseconds = 4;

    private readonly EventHandle _handle;

    /// <summary>Creates an event on a CUDA device (with timing).</summary>
    /// <param name="device">A CUDA device.</param>
    /// <exception cref="ArgumentException"><paramref name="device"/> is the CPU.</exception>
    /// <exception cref="PaddedAttentionException">The device does not exist, CUDA is not built in, or creation failed.</exception>
    public unsafe CudaEvent(Device device)
    {
        if (!device.IsCuda)
        {
            throw new ArgumentException("A CUDA event needs a CUDA device; CPU work is synchronous.", nameof(device));
        }
        PaddedAttentionLibrary.EnsureLoaded();
        void* cudaEvent = null;
        PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_event_create(device.Id, &cudaEvent));
        _handle = new EventHandle((IntPtr)cudaEvent);
        Device = device;
    }

    /// <summary>The device the event belongs to.</summary>
    public Device Device { get; }

    /// <summary>The <c>cudaEvent_t</c>, e.g. for another CUDA library.</summary>
    /// <exception cref="ObjectDisposedException">The event was disposed.</exception>
    public IntPtr Handle => _handle.GetPointer(nameof(CudaEvent));

    internal EventHandle SafeHandle => _handle;

    /// <summary>Whether the work captured by the last <see cref="Record"/> has finished (true if never recorded); never blocks.</summary>
    /// <exception cref="ObjectDisposedException">The event was disposed.</exception>
    /// <exception cref="PaddedAttentionException">The CUDA runtime reported an error (including one of the recorded work).</exception>
    public unsafe bool IsCompleted
    {
        get
        {
            var lease = new HandleLease();
            try
            {
                lease.Add(_handle);
                int completed = 0;
                PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_event_query((void*)_handle.DangerousGetHandle(), &completed));
                return completed != 0;
            }
            finally
            {
                lease.Dispose();
            }
        }
    }

    /// <summary>Captures the work queued on <paramref name="stream"/> so far; a later <see cref="Record"/> replaces it.</summary>
    /// <param name="stream">A stream of the event's device (<see cref="CudaStream.FromHandle"/> with zero for the default stream).</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="stream"/> belongs to another device.</exception>
    /// <exception cref="ObjectDisposedException">The event or the stream was disposed.</exception>
    /// <exception cref="PaddedAttentionException">The CUDA runtime reported an error.</exception>
    public unsafe void Record(CudaStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.Device != Device)
        {
            throw new ArgumentException($"The stream belongs to {stream.Device} but the event to {Device}.", nameof(stream));
        }
        var lease = new HandleLease();
        try
        {
            lease.Add(_handle);
            lease.Add(stream.SafeHandle);
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_event_record(
                (void*)_handle.DangerousGetHandle(), (void*)stream.SafeHandle.DangerousGetHandle()));
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>Blocks the calling thread until the recorded work has finished.</summary>
    /// <exception cref="ObjectDisposedException">The event was disposed.</exception>
    /// <exception cref="PaddedAttentionException">The CUDA runtime reported an error (including one of the recorded work).</exception>
    public unsafe void Synchronize()
    {
        var lease = new HandleLease();
        try
        {
            lease.Add(_handle);
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_event_synchronize((void*)_handle.DangerousGetHandle()));
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>
    /// Completes when the recorded work has finished, without blocking a
    /// thread: it polls the event (a few yields, then delays of 1 to 4 ms).
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (the device work goes on).</param>
    /// <returns>A task that completes when the work is done, or fails with the CUDA error.</returns>
    /// <exception cref="ObjectDisposedException">The event was disposed.</exception>
    public async Task WaitAsync(CancellationToken cancellationToken = default)
    {
        int polls = 0, delay = 1;
        while (!IsCompleted)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (polls++ < YieldsBeforeDelay)
            {
                await Task.Yield();
                continue;
            }
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = Math.Min(delay * 2, MaxPollDelayMilliseconds);
        }
    }

    /// <summary>The device time between two recorded, completed events of one device (about 0.5 µs resolution).</summary>
    /// <param name="start">The earlier event.</param>
    /// <param name="end">The later event.</param>
    /// <returns>The time from <paramref name="start"/> to <paramref name="end"/>.</returns>
    /// <exception cref="ArgumentNullException">An event is null.</exception>
    /// <exception cref="ArgumentException">The events belong to different devices.</exception>
    /// <exception cref="ObjectDisposedException">An event was disposed.</exception>
    /// <exception cref="PaddedAttentionException">An event was not recorded or has not completed, or the CUDA runtime reported an error.</exception>
    public static unsafe TimeSpan Elapsed(CudaEvent start, CudaEvent end)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(end);
        if (start.Device != end.Device)
        {
            throw new ArgumentException($"start belongs to {start.Device} but end to {end.Device}.", nameof(end));
        }
        var lease = new HandleLease();
        try
        {
            lease.Add(start._handle);
            lease.Add(end._handle);
            float milliseconds = 0;
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_event_elapsed_ms(
                (void*)start._handle.DangerousGetHandle(), (void*)end._handle.DangerousGetHandle(), &milliseconds));
            return TimeSpan.FromMilliseconds(milliseconds);
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>Destroys the event; calling it again does nothing.</summary>
    public void Dispose() => _handle.Dispose();

    /// <summary>"cuda:N event 0x..." for diagnostics.</summary>
    /// <returns>The text.</returns>
    public override string ToString() =>
        _handle.IsClosed ? $"{Device} event (disposed)" : $"{Device} event 0x{_handle.DangerousGetHandle():x}";
}
