using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PaddedAttention.Tests.Reference;
using static PaddedAttention.Tests.Reference.AttentionReference;
using Half = System.Half;

namespace PaddedAttention.Tests.Interop;

/// <summary>
/// An ILGPU CUDA accelerator's buffers (NativePtr) and stream (StreamPtr) handed to
/// FromPointer / CudaStream.FromHandle, on a thread where ILGPU's context is bound
/// (docs/interop.md). GPU category: inconclusive without a device.
/// </summary>
[TestClass]
public sealed class IlgpuInteropTests
{
    [TestMethod]
    [TestCategory("GPU")]
    public void IlgpuBuffersAndStream_PrefillInPlace_MatchesReference()
    {
        var device = Support.TestDevices.RequireCuda();
        using var context = Context.Create(builder => builder.Cuda());
        if (context.GetCudaDevices().Count == 0) Assert.Inconclusive("ILGPU sees no CUDA device");
        using var accelerator = context.CreateCudaAccelerator(0);
        accelerator.Bind();
        var s = new Shape(3, 77, 77, 8, 2, 128);
        var rng = new Random(9);
        ushort[] Random(long n) { var a = new ushort[n]; for (long i = 0; i < n; i++) a[i] = BitConverter.HalfToUInt16Bits((Half)(rng.NextDouble() * 2 - 1)); return a; }
        ushort[] q = Random(s.QElements), k = Random(s.KvElements), v = Random(s.KvElements);
        using var qb = accelerator.Allocate1D(q);
        using var kb = accelerator.Allocate1D(k);
        using var vb = accelerator.Allocate1D(v);
        using var ob = accelerator.Allocate1D<ushort>(s.QElements);
        ob.MemSet(0xFF); // NaN poison
        accelerator.Synchronize();
        long[] qShape = { 3, 77, 8, 128 }, kvShape = { 3, 77, 2, 128 };
        int[] lens = { 77, 1, 40 };
        var ilgpuStream = accelerator.CreateStream();
        try
        {
            using var stream = PaddedAttention.CudaStream.FromHandle(((ILGPU.Runtime.Cuda.CudaStream)ilgpuStream).StreamPtr, device);
            using (var qt = DeviceTensor<Half>.FromPointer(qb.NativePtr, qb.Length, device, qShape))
            using (var kt = DeviceTensor<Half>.FromPointer(kb.NativePtr, kb.Length, device, kvShape))
            using (var vt = DeviceTensor<Half>.FromPointer(vb.NativePtr, vb.Length, device, kvShape))
            using (var ot = DeviceTensor<Half>.FromPointer(ob.NativePtr, ob.Length, device, qShape))
            {
                Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DeviceTensor<Half>.FromPointer(kb.NativePtr, kb.Length, device, qShape));
                Attention.SequencePrefill(qt, kt, vt, ot, lens, MaskMode.CausalPaddedLeft, stream: stream);
            }
            ilgpuStream.Synchronize();
        }
        finally
        {
            ilgpuStream.Dispose();
        }
        var o = ob.GetAsArray1D();
        double[] Doubles(ushort[] a) => Array.ConvertAll(a, x => (double)BitConverter.UInt16BitsToHalf(x));
        var expected = Prefill(s, Doubles(q), Doubles(k), Doubles(v), lens, null, MaskMode.CausalPaddedLeft);
        double error = MaxRowRelativeError(Doubles(o), expected.O, s.HeadDim, out long row);
        Assert.IsTrue(error < RowTolerance(ElementType.Float16), $"row {row}: {error:E3}");
    }
}
