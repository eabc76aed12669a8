using System;

namespace PaddedAttention.Internal;

/// <summary>Non-owning CPU tensors over pinned System.Numerics.Tensors spans, for the span overloads of <see cref="Attention"/>.</summary>
internal static class HostTensorViews
{
    public static unsafe DeviceTensor<T> FromSpan<T>(T* data, ReadOnlySpan<nint> lengths, ReadOnlySpan<nint> strides, string parameterName)
        where T : unmanaged
    {
        if (lengths.Length is < 1 or > Interop.PattnConstants.MaxDims)
        {
            throw new ArgumentException($"{parameterName} has rank {lengths.Length}; tensors have 1 to {Interop.PattnConstants.MaxDims} dimensions.", parameterName);
        }
        var shape = new long[lengths.Length];
        var elementStrides = new long[lengths.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            shape[i] = lengths[i];
            elementStrides[i] = strides[i];
        }
        try
        {
            return DeviceTensor<T>.FromPointer((IntPtr)data, Device.Cpu, shape, elementStrides);
        }
        catch (ArgumentException exception)
        {
            // Name the caller's parameter, not FromPointer's.
            throw new ArgumentException(exception.Message, parameterName, exception);
        }
    }
}
