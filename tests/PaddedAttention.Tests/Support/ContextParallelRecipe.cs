namespace PaddedAttention.Tests.Support;

/// <summary>
/// Context parallelism for one long causal row (docs/context-parallel.md): the keys and values are
/// split at <c>split</c> between two devices, each device attends the queries to its own keys
/// with lse, and the partial results of the queries that see both parts are gathered on the second
/// device (a peer copy between GPUs) and combined with <see cref="Attention.MergeStates{T}"/>.
/// With causal attention, queries before <c>split</c> see only the first part, so their result is
/// final on the first device. The two devices may be the same one, or the CPU.
/// </summary>
public static class ContextParallelRecipe
{
    /// <summary>
    /// Causal attention of one row: q [1, length, qoHeads, headDim], k and v [1, length, kvHeads, headDim]
    /// in host memory. Returns the output [1, length, qoHeads, headDim] in host memory.
    /// </summary>
    public static T[] CausalRow<T>(Device first, Device second, T[] q, T[] k, T[] v,
        int length, int split, int qoHeads, int kvHeads, int headDim) where T : unmanaged
    {
        int tail = length - split;
        long qRow = (long)qoHeads * headDim, kvRow = (long)kvHeads * headDim;

        // The first device holds keys [0, split), the second keys [split, length).
        using var kFirst = Upload(first, k.AsSpan(0, (int)(split * kvRow)), split, kvHeads, headDim);
        using var vFirst = Upload(first, v.AsSpan(0, (int)(split * kvRow)), split, kvHeads, headDim);
        using var kSecond = Upload(second, k.AsSpan((int)(split * kvRow)), tail, kvHeads, headDim);
        using var vSecond = Upload(second, v.AsSpan((int)(split * kvRow)), tail, kvHeads, headDim);
        using var qHead = Upload(first, q.AsSpan(0, (int)(split * qRow)), split, qoHeads, headDim);
        using var qTailOnFirst = Upload(first, q.AsSpan((int)(split * qRow)), tail, qoHeads, headDim);
        using var qTailOnSecond = Upload(second, q.AsSpan((int)(split * qRow)), tail, qoHeads, headDim);

        // First device: queries [0, split) against its keys, causally (their final result), and
        // queries [split, length) against all of its keys (every one is before them), with lse.
        using var oHead = DeviceTensor<T>.Allocate(first, 1, split, qoHeads, headDim);
        Attention.SequencePrefill(qHead, kFirst, vFirst, oHead, MaskMode.CausalPaddedRight);
        using var oTailFirst = DeviceTensor<T>.Allocate(first, 1, tail, qoHeads, headDim);
        using var lseTailFirst = DeviceTensor<float>.Allocate(first, 1, tail, qoHeads);
        Attention.SequencePrefill(qTailOnFirst, kFirst, vFirst, oTailFirst, MaskMode.Padded, lseTailFirst);

        // Second device: queries [split, length) against its keys, causally, with lse.
        using var oTailSecond = DeviceTensor<T>.Allocate(second, 1, tail, qoHeads, headDim);
        using var lseTailSecond = DeviceTensor<float>.Allocate(second, 1, tail, qoHeads);
        Attention.SequencePrefill(qTailOnSecond, kSecond, vSecond, oTailSecond, MaskMode.CausalPaddedRight, lseTailSecond);

        // Gather the first device's partial state on the second one and merge in place.
        using var oGathered = DeviceTensor<T>.Allocate(second, 1, tail, qoHeads, headDim);
        using var lseGathered = DeviceTensor<float>.Allocate(second, 1, tail, qoHeads);
        oGathered.Buffer!.CopyFrom(oTailFirst.Buffer!);
        lseGathered.Buffer!.CopyFrom(lseTailFirst.Buffer!);
        Attention.MergeStates(oTailSecond, lseTailSecond, oGathered, lseGathered, oTailSecond, lseTailSecond);

        var result = new T[length * qRow];
        oHead.Buffer!.CopyTo(result.AsSpan(0, (int)(split * qRow)));
        oTailSecond.Buffer!.CopyTo(result.AsSpan((int)(split * qRow)));
        return result;
    }

    private static DeviceTensor<T> Upload<T>(Device device, ReadOnlySpan<T> data, int rows, int heads, int headDim) where T : unmanaged
    {
        var tensor = DeviceTensor<T>.Allocate(device, 1, rows, heads, headDim);
        tensor.Buffer!.CopyFrom(data);
        return tensor;
    }
}
