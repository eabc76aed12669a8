namespace PaddedAttention.Tests.Support;

/// <summary>Reads and writes strided tensor views through their buffer, element by element.</summary>
public static class TensorIO
{
    /// <summary>The logical elements of a view (row-major over its shape), read through its buffer.</summary>
    public static T[] Read<T>(DeviceTensor<T> tensor) where T : unmanaged
    {
        var buffer = tensor.Buffer ?? throw new InvalidOperationException("the view has no buffer");
        T[] all = buffer.ToArray();
        var result = new T[tensor.ElementCount];
        long n = 0;
        ForEachOffset(tensor, offset => result[n++] = all[offset]);
        return result;
    }

    /// <summary>The raw contents of the whole buffer behind a view (to check what lies outside it).</summary>
    public static T[] ReadBuffer<T>(DeviceTensor<T> tensor) where T : unmanaged
        => (tensor.Buffer ?? throw new InvalidOperationException("the view has no buffer")).ToArray();

    /// <summary>Buffer offsets of every element of the view, row-major.</summary>
    public static HashSet<long> Offsets<T>(DeviceTensor<T> tensor) where T : unmanaged
    {
        var set = new HashSet<long>();
        ForEachOffset(tensor, offset => set.Add(offset));
        return set;
    }

    /// <summary>Writes logical elements (row-major over the view's shape) into the view's place in its buffer.</summary>
    public static void Write<T>(DeviceTensor<T> tensor, ReadOnlySpan<T> values) where T : unmanaged
    {
        var buffer = tensor.Buffer ?? throw new InvalidOperationException("the view has no buffer");
        if (values.Length != tensor.ElementCount) throw new ArgumentException("length mismatch", nameof(values));
        T[] all = buffer.ToArray();
        T[] copy = values.ToArray();
        long n = 0;
        ForEachOffset(tensor, offset => all[offset] = copy[n++]);
        buffer.CopyFrom(all);
    }

    private static void ForEachOffset<T>(DeviceTensor<T> tensor, Action<long> action) where T : unmanaged
    {
        int rank = tensor.Rank;
        var shape = tensor.Shape;
        var strides = tensor.Strides;
        if (tensor.ElementCount == 0) return;
        var index = new long[rank];
        while (true)
        {
            long offset = tensor.ElementOffset;
            for (int i = 0; i < rank; i++) offset += index[i] * strides[i];
            action(offset);
            int dim = rank - 1;
            while (dim >= 0)
            {
                if (++index[dim] < shape[dim]) break;
                index[dim] = 0;
                dim--;
            }
            if (dim < 0) return;
        }
    }
}
