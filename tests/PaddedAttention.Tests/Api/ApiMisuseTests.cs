using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Api;

/// <summary>
/// Every bad input gets the documented exception naming the C# parameter, before any
/// native call; the process survives; nothing leaks.
/// </summary>
[TestClass]
public sealed class ApiMisuseTests
{
    const int B = 2, S = 7, Hq = 4, Hkv = 2, D = 64;

    /// <summary>A valid CPU problem: q/o [2, 7, 4, 64], k/v [2, 7, 2, 64], lse [2, 7, 4].</summary>
    sealed class Problem : IDisposable
    {
        public readonly DeviceTensor<Half> Q = Filled(B, S, Hq, D);
        public readonly DeviceTensor<Half> K = Filled(B, S, Hkv, D);
        public readonly DeviceTensor<Half> V = Filled(B, S, Hkv, D);
        public readonly DeviceTensor<Half> O = DeviceTensor<Half>.Allocate(Device.Cpu, B, S, Hq, D);
        public readonly DeviceTensor<float> Lse = DeviceTensor<float>.Allocate(Device.Cpu, B, S, Hq);
        public readonly int[] Lens = { 3, 7 };

        static DeviceTensor<Half> Filled(params long[] shape)
        {
            var t = DeviceTensor<Half>.Allocate(Device.Cpu, shape);
            var rng = new Random(5);
            var data = new Half[t.ElementCount];
            for (int i = 0; i < data.Length; i++) data[i] = (Half)(rng.NextSingle() - 0.5f);
            t.Buffer!.CopyFrom(data);
            return t;
        }

        public void Dispose()
        {
            Q.Dispose(); K.Dispose(); V.Dispose(); O.Dispose(); Lse.Dispose();
        }
    }

    static TException ExpectArgument<TException>(string paramName, Action action) where TException : ArgumentException
    {
        var e = Assert.Throws<TException>(action);
        Assert.AreEqual(paramName, e.ParamName, $"ParamName of {e.GetType().Name}: {e.Message}");
        return e;
    }

    [TestMethod]
    public void ValidProblem_Runs()
    {
        // The baseline every misuse below departs from must itself be accepted.
        using var p = new Problem();
        Attention.SequencePrefill(p.Q, p.K, p.V, p.O, p.Lens, MaskMode.CausalPaddedLeft, p.Lse);
        Attention.SequencePrefill(p.Q, p.K, p.V, p.O, p.Lens, p.Lens, MaskMode.Padded, p.Lse);
        Attention.SequencePrefill(p.Q, p.K, p.V, p.O, MaskMode.Padded, p.Lse);
    }

    [TestMethod]
    public void NullTensors_ThrowArgumentNull_NamingTheParameter()
    {
        using var p = new Problem();
        ExpectArgument<ArgumentNullException>("q", () => Attention.SequencePrefill(null!, p.K, p.V, p.O, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentNullException>("k", () => Attention.SequencePrefill(p.Q, null!, p.V, p.O, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentNullException>("v", () => Attention.SequencePrefill(p.Q, p.K, null!, p.O, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentNullException>("output", () => Attention.SequencePrefill(p.Q, p.K, p.V, null!, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentNullException>("qValidLens", () => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, (DeviceBuffer<int>)null!, null, MaskMode.Padded));
        ExpectArgument<ArgumentNullException>("q", () => Attention.SequencePrefill<Half>(null!, p.K, p.V, p.Lens, MaskMode.Padded));
    }

    [TestMethod]
    public void WrongRank_ThrowsArgumentException()
    {
        using var p = new Problem();
        using var q3 = DeviceTensor<Half>.Allocate(Device.Cpu, B * S, Hq, D);
        using var k3 = DeviceTensor<Half>.Allocate(Device.Cpu, B * S, Hkv, D);
        using var o3 = DeviceTensor<Half>.Allocate(Device.Cpu, B * S, Hq, D);
        using var lse2 = DeviceTensor<float>.Allocate(Device.Cpu, B * S, Hq);
        ExpectArgument<ArgumentException>("q", () => Attention.SequencePrefill(q3, p.K, p.V, p.O, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentException>("k", () => Attention.SequencePrefill(p.Q, k3, p.V, p.O, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentException>("v", () => Attention.SequencePrefill(p.Q, p.K, k3, p.O, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentException>("output", () => Attention.SequencePrefill(p.Q, p.K, p.V, o3, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentException>("lse", () => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, p.Lens, MaskMode.Padded, lse2));
    }

    [TestMethod]
    public void ShapeMismatches_ThrowArgumentException_NamingTheParameter()
    {
        using var p = new Problem();
        using var kOtherDim = DeviceTensor<Half>.Allocate(Device.Cpu, B, S, Hkv, 128);
        using var kOtherBatch = DeviceTensor<Half>.Allocate(Device.Cpu, B + 1, S, Hkv, D);
        using var vOtherLen = DeviceTensor<Half>.Allocate(Device.Cpu, B, S + 2, Hkv, D);
        using var vOtherHeads = DeviceTensor<Half>.Allocate(Device.Cpu, B, S, Hkv * 2, D);
        using var oOtherHeads = DeviceTensor<Half>.Allocate(Device.Cpu, B, S, Hq + 1, D);
        using var oOtherLen = DeviceTensor<Half>.Allocate(Device.Cpu, B, S - 1, Hq, D);
        using var lseOther = DeviceTensor<float>.Allocate(Device.Cpu, B, S, Hq + 1);
        ExpectArgument<ArgumentException>("k", () => Attention.SequencePrefill(p.Q, kOtherDim, p.V, p.O, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentException>("k", () => Attention.SequencePrefill(p.Q, kOtherBatch, p.V, p.O, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentException>("v", () => Attention.SequencePrefill(p.Q, p.K, vOtherLen, p.O, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentException>("v", () => Attention.SequencePrefill(p.Q, p.K, vOtherHeads, p.O, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentException>("output", () => Attention.SequencePrefill(p.Q, p.K, p.V, oOtherHeads, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentException>("output", () => Attention.SequencePrefill(p.Q, p.K, p.V, oOtherLen, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentException>("lse", () => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, p.Lens, MaskMode.Padded, lseOther));
    }

    [TestMethod]
    public void NonContiguousLastDimension_ThrowsArgumentException()
    {
        using var p = new Problem();
        using var wide = DeviceTensor<Half>.Allocate(Device.Cpu, B, S, Hq, 2 * D);
        // Every other element of the last dimension: stride 2 there is not allowed.
        using var strided = new DeviceTensor<Half>(wide.Buffer!, new long[] { B, S, Hq, D },
            new long[] { S * Hq * 2 * D, Hq * 2 * D, 2 * D, 2 });
        ExpectArgument<ArgumentException>("q", () => Attention.SequencePrefill(strided, p.K, p.V, p.O, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentException>("output", () => Attention.SequencePrefill(p.Q, p.K, p.V, strided, p.Lens, MaskMode.Padded));
    }

    [TestMethod]
    public void WrongLengthsCount_ThrowsArgumentException()
    {
        using var p = new Problem();
        ExpectArgument<ArgumentException>("qValidLens", () => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, new[] { 1, 2, 3 }, MaskMode.Padded));
        ExpectArgument<ArgumentException>("qValidLens", () => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, new[] { 1 }, MaskMode.Padded));
        ExpectArgument<ArgumentException>("kvValidLens", () => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, p.Lens, new[] { 1, 2, 3 }, MaskMode.Padded));
        using var deviceLens = DeviceBuffer<int>.Create(Device.Cpu, new[] { 1, 2, 3 });
        using var goodLens = DeviceBuffer<int>.Create(Device.Cpu, p.Lens);
        ExpectArgument<ArgumentException>("qValidLens", () => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, deviceLens, null, MaskMode.Padded));
        ExpectArgument<ArgumentException>("kvValidLens", () => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, goodLens, deviceLens, MaskMode.Padded));
    }

    [TestMethod]
    [DataRow(-1)]
    [DataRow(S + 1)]
    [DataRow(int.MaxValue)]
    [DataRow(int.MinValue)]
    public void OutOfRangeHostLengths_ThrowArgumentException(int bad)
    {
        using var p = new Problem();
        ExpectArgument<ArgumentOutOfRangeException>("qValidLens", () => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, new[] { 3, bad }, MaskMode.CausalPaddedLeft));
        ExpectArgument<ArgumentOutOfRangeException>("kvValidLens", () => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, p.Lens, new[] { bad, 2 }, MaskMode.CausalPaddedLeft));
        ExpectArgument<ArgumentOutOfRangeException>("kvValidLens", () => Attention.Decode(p.Q.Slice(1, 0, 1), p.K, p.V, p.O.Slice(1, 0, 1), new[] { bad, 2 }, PaddingSide.Left));
    }

    [TestMethod]
    public void EqualLengthsOverload_NeedsEqualQAndKvLengths()
    {
        using var p = new Problem();
        using var kLonger = DeviceTensor<Half>.Allocate(Device.Cpu, B, S + 4, Hkv, D);
        using var vLonger = DeviceTensor<Half>.Allocate(Device.Cpu, B, S + 4, Hkv, D);
        var e = Assert.Throws<ArgumentException>(() => Attention.SequencePrefill(p.Q, kLonger, vLonger, p.O, p.Lens, MaskMode.Padded));
        Assert.IsNotNull(e.ParamName, e.Message);
        // The same problem with separate kv lengths is fine.
        Attention.SequencePrefill(p.Q, kLonger, vLonger, p.O, p.Lens, new[] { 11, 0 }, MaskMode.Padded);
    }

    [TestMethod]
    public void UndefinedMaskMode_ThrowsArgumentOutOfRange()
    {
        using var p = new Problem();
        ExpectArgument<ArgumentOutOfRangeException>("maskMode", () => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, p.Lens, (MaskMode)9));
        ExpectArgument<ArgumentOutOfRangeException>("paddingSide", () => Attention.Decode(p.Q, p.K, p.V, p.O, p.Lens, (PaddingSide)5));
    }

    [TestMethod]
    public void MixedDevices_ThrowArgumentException()
    {
        using var p = new Problem();
        // A tensor that claims to live on CUDA device 0 (its memory is never touched: the
        // mismatch must be caught before any native call).
        using var kCuda = DeviceTensor<Half>.FromPointer(p.K.DataPointer, Device.Cuda(0), new long[] { B, S, Hkv, D });
        using var lseCuda = DeviceTensor<float>.FromPointer(p.Lse.DataPointer, Device.Cuda(0), new long[] { B, S, Hq });
        ExpectArgument<ArgumentException>("k", () => Attention.SequencePrefill(p.Q, kCuda, p.V, p.O, p.Lens, MaskMode.Padded));
        ExpectArgument<ArgumentException>("lse", () => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, p.Lens, MaskMode.Padded, lseCuda));
        using var lensCuda = DeviceBuffer<int>.Wrap(p.Lse.DataPointer, B, Device.Cuda(0));
        ExpectArgument<ArgumentException>("qValidLens", () => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, lensCuda, null, MaskMode.Padded));
    }

    [TestMethod]
    public void CudaStreamWithCpuTensors_ThrowsArgumentException()
    {
        using var p = new Problem();
        // A foreign stream handle is only wrapped, never used: the call must be refused first.
        using var stream = CudaStream.FromHandle((IntPtr)0x1000, Device.Cuda(0));
        ExpectArgument<ArgumentException>("stream", () => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, p.Lens, MaskMode.Padded, null, null, stream));
        ExpectArgument<ArgumentException>("stream", () => Attention.Decode(p.Q, p.K, p.V, p.O, ReadOnlySpan<int>.Empty, PaddingSide.Left, null, null, stream));
    }

    [TestMethod]
    public void DisposedTensorOrBuffer_ThrowsObjectDisposed()
    {
        using var p = new Problem();
        var q = DeviceTensor<Half>.Allocate(Device.Cpu, B, S, Hq, D);
        q.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Attention.SequencePrefill(q, p.K, p.V, p.O, p.Lens, MaskMode.Padded));

        var buffer = DeviceBuffer<Half>.Allocate(Device.Cpu, (long)B * S * Hkv * D);
        using var view = buffer.AsTensor(B, S, Hkv, D);
        buffer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Attention.SequencePrefill(p.Q, view, p.V, p.O, p.Lens, MaskMode.Padded));

        var lens = DeviceBuffer<int>.Create(Device.Cpu, p.Lens);
        lens.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, lens, null, MaskMode.Padded));

        // A disposed stream is reported as disposed before anything else is said about it.
        var stream = CudaStream.FromHandle((IntPtr)0x1000, Device.Cuda(0));
        stream.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, p.Lens, MaskMode.Padded, null, null, stream));

        var lse = DeviceTensor<float>.Allocate(Device.Cpu, B, S, Hq);
        lse.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Attention.SequencePrefill(p.Q, p.K, p.V, p.O, p.Lens, MaskMode.Padded, lse));
        var oA = DeviceTensor<float>.Allocate(Device.Cpu, 2, 3, 64);
        oA.Dispose();
        using var lseA = DeviceTensor<float>.Allocate(Device.Cpu, 2, 3);
        using var oB = DeviceTensor<float>.Allocate(Device.Cpu, 2, 3, 64);
        Assert.Throws<ObjectDisposedException>(() => Attention.MergeStates(oA, lseA, oB, lseA, oB, lseA));
    }

    [TestMethod]
    public void UnsupportedElementType_IsRefused()
    {
        Assert.Throws<NotSupportedException>(() => DeviceBuffer<double>.Allocate(Device.Cpu, 4));
        Assert.Throws<NotSupportedException>(() => DeviceTensor<double>.Allocate(Device.Cpu, 1, 1, 1, 4));
        Assert.Throws<NotSupportedException>(() => DeviceBuffer<long>.Wrap((IntPtr)0x1000, 4, Device.Cpu));
        // int is a buffer type (for lengths) but not an attention element type.
        using var qi = DeviceTensor<int>.Allocate(Device.Cpu, B, S, Hq, D);
        using var ki = DeviceTensor<int>.Allocate(Device.Cpu, B, S, Hkv, D);
        using var oi = DeviceTensor<int>.Allocate(Device.Cpu, B, S, Hq, D);
        var e = Assert.Throws<ArgumentException>(() => Attention.SequencePrefill(qi, ki, ki, oi, new[] { 1, 2 }, MaskMode.Padded));
        Assert.AreEqual("q", e.ParamName, e.Message);
    }

    [TestMethod]
    public void BadBufferAndTensorConstruction_IsRefused()
    {
        ExpectArgument<ArgumentOutOfRangeException>("length", () => DeviceBuffer<float>.Allocate(Device.Cpu, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.Cuda(-1));
        using var buffer = DeviceBuffer<float>.Allocate(Device.Cpu, 24);
        ExpectArgument<ArgumentException>("shape", () => buffer.AsTensor(5, 5));
        // Views must stay inside their buffer.
        Assert.Throws<ArgumentException>(() => new DeviceTensor<float>(buffer, new long[] { 2, 3, 4 }, null, 1));
        Assert.Throws<ArgumentException>(() => new DeviceTensor<float>(buffer, new long[] { 2, 12 }, new long[] { 13, 1 }));
        using var t = buffer.AsTensor(2, 3, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Slice(3, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Slice(1, 2, 2));
        Assert.Throws<ArgumentException>(() => buffer.CopyFrom(new float[4], 21));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.CopyFrom(new float[1], 25));
        Assert.Throws<ArgumentException>(() => buffer.CopyTo(new float[25]));
        Assert.Throws<ArgumentException>(() => new CudaStream(Device.Cpu));
        Assert.Throws<InvalidOperationException>(() => Device.Cpu.GetProperties());
    }

    [TestMethod]
    public void MergeStates_Misuse_NamesTheParameter()
    {
        using var oA = DeviceTensor<float>.Allocate(Device.Cpu, 5, 3, 64);
        using var oB = DeviceTensor<float>.Allocate(Device.Cpu, 5, 3, 64);
        using var oOut = DeviceTensor<float>.Allocate(Device.Cpu, 5, 3, 64);
        using var lseA = DeviceTensor<float>.Allocate(Device.Cpu, 5, 3);
        using var lseB = DeviceTensor<float>.Allocate(Device.Cpu, 5, 3);
        using var lseOut = DeviceTensor<float>.Allocate(Device.Cpu, 5, 3);
        using var oWrong = DeviceTensor<float>.Allocate(Device.Cpu, 5, 4, 64);
        using var lseWrong = DeviceTensor<float>.Allocate(Device.Cpu, 4, 3);
        oA.Buffer!.FillBytes(0); oB.Buffer!.FillBytes(0); lseA.Buffer!.FillBytes(0); lseB.Buffer!.FillBytes(0);
        Attention.MergeStates(oA, lseA, oB, lseB, oOut, lseOut);
        ExpectArgument<ArgumentNullException>("oA", () => Attention.MergeStates(null!, lseA, oB, lseB, oOut, lseOut));
        ExpectArgument<ArgumentNullException>("lseOut", () => Attention.MergeStates(oA, lseA, oB, lseB, oOut, null!));
        ExpectArgument<ArgumentException>("oB", () => Attention.MergeStates(oA, lseA, oWrong, lseB, oOut, lseOut));
        ExpectArgument<ArgumentException>("oOut", () => Attention.MergeStates(oA, lseA, oB, lseB, oWrong, lseOut));
        ExpectArgument<ArgumentException>("lseA", () => Attention.MergeStates(oA, lseWrong, oB, lseB, oOut, lseOut));
        ExpectArgument<ArgumentException>("lseB", () => Attention.MergeStates(oA, lseA, oB, lseWrong, oOut, lseOut));
    }

    [TestMethod]
    public void Decode_Misuse_NamesTheParameter()
    {
        using var p = new Problem();
        using var q17 = DeviceTensor<Half>.Allocate(Device.Cpu, B, 17, Hq, D);
        using var o17 = DeviceTensor<Half>.Allocate(Device.Cpu, B, 17, Hq, D);
        using var kShort = DeviceTensor<Half>.Allocate(Device.Cpu, B, S - 1, Hkv, D);
        ExpectArgument<ArgumentNullException>("kCache", () => Attention.Decode(p.Q, null!, p.V, p.O, p.Lens, PaddingSide.Left));
        ExpectArgument<ArgumentException>("vCache", () => Attention.Decode(p.Q, p.K, kShort, p.O, p.Lens, PaddingSide.Left));
        ExpectArgument<ArgumentException>("kvValidLens", () => Attention.Decode(p.Q, p.K, p.V, p.O, new[] { 1 }, PaddingSide.Left));
        // q_len is 1..16.
        var e = Assert.Throws<ArgumentException>(() => Attention.Decode(q17, p.K, p.V, o17, p.Lens, PaddingSide.Left));
        Assert.AreEqual("q", e.ParamName, e.Message);
    }

    [TestMethod]
    public void HeadsNotAMultiple_IsRefusedByTheNativeCheck_NamingQ()
    {
        using var q = DeviceTensor<Half>.Allocate(Device.Cpu, 1, 3, 3, D);
        using var o = DeviceTensor<Half>.Allocate(Device.Cpu, 1, 3, 3, D);
        using var k = DeviceTensor<Half>.Allocate(Device.Cpu, 1, 3, 2, D);
        // The native validator names q (num_qo_heads is q's); the status comes along.
        var error = ExpectArgument<ArgumentException>("q", () => Attention.SequencePrefill(q, k, k, o, new[] { 3 }, MaskMode.Padded));
        Assert.AreEqual(AttentionStatus.InvalidArgument, ((PaddedAttentionArgumentException)error).Status);
        Assert.AreEqual("q", ((PaddedAttentionArgumentException)error).NativeArgument);
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(600)]
    public void UnsupportedHeadDim_SurfacesAsPaddedAttentionException_NamingIt(int headDim)
    {
        // C# does not pre-check head_dim (the supported set depends on the backend): the
        // native refusal comes back as the library's exception with status and message.
        using var q = DeviceTensor<Half>.Allocate(Device.Cpu, 1, 3, 2, headDim);
        using var o = DeviceTensor<Half>.Allocate(Device.Cpu, 1, 3, 2, headDim);
        var e = Assert.Throws<PaddedAttentionException>(() => Attention.SequencePrefill(q, q, q, o, new[] { 3 }, MaskMode.Padded));
        Assert.AreEqual(AttentionStatus.Unsupported, e.Status);
        StringAssert.Contains(e.NativeMessage, "head_dim");
        StringAssert.Contains(e.NativeMessage, $"= {headDim} ");
        StringAssert.Contains(e.Message, e.NativeMessage);
        // The process goes on: a valid call right after works.
        using var p = new Problem();
        Attention.SequencePrefill(p.Q, p.K, p.V, p.O, p.Lens, MaskMode.Padded);
    }

    [TestMethod]
    [DoNotParallelize]
    public void ManyRefusedCalls_AndAllocateDisposeLoops_DoNotLeak()
    {
        using var p = new Problem();
        // Warm up allocator and JIT, then measure the resident set around the loops.
        RunLoops(p, 20);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long before = ResidentBytes();
        RunLoops(p, 300);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long growth = ResidentBytes() - before;
        // 300 iterations allocate (and touch) 300 x 4 MiB: a leak would add ~1.2 GB.
        Assert.IsTrue(growth < 150L << 20, $"resident memory grew by {growth >> 20} MiB");
    }

    static void RunLoops(Problem p, int iterations)
    {
        for (int i = 0; i < iterations; i++)
        {
            using (var buffer = DeviceBuffer<float>.Allocate(Device.Cpu, 1 << 20))
                buffer.FillBytes((byte)i);
            using (var tensor = DeviceTensor<Half>.Allocate(Device.Cpu, 4, 16, 8, 64))
                tensor.Buffer!.FillBytes(1);
            try { Attention.SequencePrefill(p.Q, p.K, p.V, p.O, new[] { 1, 99 }, MaskMode.Padded); }
            catch (ArgumentException) { }
            try
            {
                using var q = DeviceTensor<Half>.Allocate(Device.Cpu, 1, 3, 3, D);
                using var o = DeviceTensor<Half>.Allocate(Device.Cpu, 1, 3, 3, D);
                using var k = DeviceTensor<Half>.Allocate(Device.Cpu, 1, 3, 2, D);
                Attention.SequencePrefill(q, k, k, o, new[] { 3 }, MaskMode.Padded);
            }
            catch (ArgumentException) { }
            try
            {
                using var q = DeviceTensor<Half>.Allocate(Device.Cpu, 1, 3, 2, 600);
                Attention.SequencePrefill(q, q, q, q, new[] { 3 }, MaskMode.Padded);
            }
            catch (PaddedAttentionException) { }
        }
    }

    /// <summary>Resident set size (VmRSS) of this process.</summary>
    public static long ResidentBytes()
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
    }
}
