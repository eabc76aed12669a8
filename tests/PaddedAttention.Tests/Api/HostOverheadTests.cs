using PaddedAttention.Tests.Reference;
using PaddedAttention.Tests.Support;

namespace PaddedAttention.Tests.Api;

/// <summary>
/// The C# layer's own cost per call: after warm-up, an attention call
/// allocates nothing on the managed heap (the handle lease is inline, the
/// buffers' names are built once per type), and the calls measured still
/// compute the right thing. bench/PaddedAttention.HostTime times the same
/// calls on a GPU.
/// </summary>
[TestClass]
public sealed class HostOverheadTests
{
    private const int Calls = 200;

    [TestMethod]
    public void CpuPrefill_HostLengths_AllocatesNothingPerCall()
    {
        var shape = new AttentionReference.Shape(3, 7, 7, 4, 2, 16);
        int[] lengths = { 7, 0, 4 };
        using var problem = new Problem<float>(Device.Cpu, shape, new Random(71), x => x, x => x);
        var options = new PrefillOptions();
        void Call() => Attention.SequencePrefill(problem.Q, problem.K, problem.V, problem.O, lengths, MaskMode.CausalPaddedLeft, null, options);

        AssertNoAllocation(Call, "CPU prefill, host lengths");
        problem.AssertMatchesReference(lengths, MaskMode.CausalPaddedLeft, Call);
    }

    [TestMethod]
    public void CpuPrefill_OverArrays_AllocatesNothingPerCall()
    {
        // Managed memory is pinned for the call only (ManagedMemoryHandle): that must not allocate either.
        var shape = new AttentionReference.Shape(2, 5, 5, 2, 1, 8);
        var random = new Random(72);
        float[] q = RandomValues(random, shape.QElements), k = RandomValues(random, shape.KvElements), v = RandomValues(random, shape.KvElements);
        float[] o = new float[shape.QElements];
        using var qt = DeviceTensor<float>.FromArray(q, 2, 5, 2, 8);
        using var kt = DeviceTensor<float>.FromArray(k, 2, 5, 1, 8);
        using var vt = DeviceTensor<float>.FromArray(v, 2, 5, 1, 8);
        using var ot = DeviceTensor<float>.FromArray(o, 2, 5, 2, 8);
        int[] lengths = { 3, 5 };
        void Call() => Attention.SequencePrefill(qt, kt, vt, ot, lengths, MaskMode.Padded);

        AssertNoAllocation(Call, "CPU prefill over arrays");
        Array.Fill(o, float.NaN);
        Call();
        var expected = AttentionReference.Prefill(shape, ToDouble(q), ToDouble(k), ToDouble(v), lengths, null, MaskMode.Padded);
        double error = AttentionReference.MaxRowRelativeError(ToDouble(o), expected.O, shape.HeadDim, out long row);
        Assert.IsTrue(error <= 1e-5, $"row {row}: relative error {error}");
    }

    [TestMethod]
    [TestCategory("GPU")]
    public void CudaPrefill_HostAndDeviceLengths_AllocateNothingPerCall()
    {
        var device = TestDevices.RequireCuda();
        var shape = new AttentionReference.Shape(5, 33, 33, 8, 2, 64);
        int[] lengths = { 33, 1, 0, 17, 32 };
        using var problem = new Problem<BFloat16>(device, shape, new Random(73), x => (BFloat16)x, x => (float)x);
        using var stream = new CudaStream(device);
        using var deviceLengths = DeviceBuffer<int>.Create(device, lengths);
        var options = new PrefillOptions();
        void HostCall() => Attention.SequencePrefill(problem.Q, problem.K, problem.V, problem.O, lengths, MaskMode.CausalPaddedRight, null, options, stream);
        void DeviceCall() => Attention.SequencePrefill(problem.Q, problem.K, problem.V, problem.O, deviceLengths, null, MaskMode.CausalPaddedRight, null, options, stream);

        AssertNoAllocation(HostCall, "CUDA prefill, host lengths", stream.Synchronize);
        AssertNoAllocation(DeviceCall, "CUDA prefill, device lengths", stream.Synchronize);
        problem.AssertMatchesReference(lengths, MaskMode.CausalPaddedRight, () => { HostCall(); stream.Synchronize(); });
        problem.AssertMatchesReference(lengths, MaskMode.CausalPaddedRight, () => { DeviceCall(); stream.Synchronize(); });
    }

    // Warm-up first (the first calls load the library, JIT and may grow native
    // staging), then Calls calls on this thread must allocate 0 bytes.
    private static void AssertNoAllocation(Action call, string what, Action? drain = null)
    {
        for (int i = 0; i < 50; i++)
        {
            call();
        }
        drain?.Invoke();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Calls; i++)
        {
            call();
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        drain?.Invoke();
        Assert.AreEqual(0L, allocated, $"{what}: {allocated / (double)Calls:F1} bytes allocated per call");
    }

    private static float[] RandomValues(Random random, long count)
    {
        var values = new float[count];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(random.NextDouble() * 2 - 1);
        }
        return values;
    }

    private static double[] ToDouble(float[] values) => Array.ConvertAll(values, x => (double)x);

    /// <summary>q, k, v and o of one shape on one device, random values of element type T, with a float64 reference check.</summary>
    private sealed class Problem<T> : IDisposable where T : unmanaged
    {
        private readonly AttentionReference.Shape _shape;
        private readonly double[] _q, _k, _v;
        private readonly Func<T, double> _toDouble;

        public Problem(Device device, AttentionReference.Shape shape, Random random, Func<float, T> fromFloat, Func<T, double> toDouble)
        {
            _shape = shape;
            _toDouble = toDouble;
            long[] qShape = { shape.Batch, shape.QLen, shape.NumQoHeads, shape.HeadDim };
            long[] kvShape = { shape.Batch, shape.KvLen, shape.NumKvHeads, shape.HeadDim };
            T[] q = Array.ConvertAll(RandomValues(random, shape.QElements), x => fromFloat(x));
            T[] k = Array.ConvertAll(RandomValues(random, shape.KvElements), x => fromFloat(x));
            T[] v = Array.ConvertAll(RandomValues(random, shape.KvElements), x => fromFloat(x));
            // The reference sees the inputs as rounded to T.
            _q = Array.ConvertAll(q, x => toDouble(x));
            _k = Array.ConvertAll(k, x => toDouble(x));
            _v = Array.ConvertAll(v, x => toDouble(x));
            Q = Upload(device, q, qShape);
            K = Upload(device, k, kvShape);
            V = Upload(device, v, kvShape);
            O = DeviceTensor<T>.Allocate(device, qShape);
        }

        public DeviceTensor<T> Q { get; }
        public DeviceTensor<T> K { get; }
        public DeviceTensor<T> V { get; }
        public DeviceTensor<T> O { get; }

        /// <summary>Output poisoned with NaN, <paramref name="call"/> run once (and synchronized by it), then compared with the float64 reference.</summary>
        public void AssertMatchesReference(int[] lengths, MaskMode mask, Action call)
        {
            O.Buffer.FillBytes(0xFF);
            call();
            double[] actual = Array.ConvertAll(O.Buffer.ToArray(), x => _toDouble(x));
            var expected = AttentionReference.Prefill(_shape, _q, _k, _v, lengths, null, mask);
            double tolerance = typeof(T) == typeof(float) ? 1e-5 : AttentionReference.RowTolerance(ElementType.BFloat16);
            double error = AttentionReference.MaxRowRelativeError(actual, expected.O, _shape.HeadDim, out long row);
            Assert.IsTrue(error <= tolerance, $"row {row}: relative error {error} (tolerance {tolerance})");
        }

        private static DeviceTensor<T> Upload(Device device, T[] values, long[] shape)
        {
            var tensor = DeviceTensor<T>.Allocate(device, shape);
            tensor.Buffer.CopyFrom(values);
            return tensor;
        }

        public void Dispose()
        {
            Q.Dispose();
            K.Dispose();
            V.Dispose();
            O.Dispose();
        }
    }
}
