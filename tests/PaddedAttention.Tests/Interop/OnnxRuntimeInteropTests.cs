using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static PaddedAttention.Tests.Reference.AttentionReference;

namespace PaddedAttention.Tests.Interop;

/// <summary>
/// ONNX Runtime OrtValues as inputs and outputs of prefill without a copy (docs/interop.md):
/// through TensorSpans over their memory, through FromPointer with their byte size, and
/// our own output memory exposed as an OrtValue.
/// </summary>
[TestClass]
public sealed class OnnxRuntimeInteropTests
{
    private static readonly Shape S = new(2, 13, 13, 4, 2, 64);
    private static readonly int[] Lens = { 13, 6 };

    private static OrtValue Allocate(long[] shape) =>
        OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, shape);

    private static (OrtValue Q, OrtValue K, OrtValue V) Inputs(int seed)
    {
        var rng = new Random(seed);
        var q = Allocate(new long[] { S.Batch, S.QLen, S.NumQoHeads, S.HeadDim });
        var k = Allocate(new long[] { S.Batch, S.KvLen, S.NumKvHeads, S.HeadDim });
        var v = Allocate(new long[] { S.Batch, S.KvLen, S.NumKvHeads, S.HeadDim });
        foreach (var value in new[] { q, k, v })
            foreach (ref float x in value.GetTensorMutableDataAsSpan<float>()) x = (float)(rng.NextDouble() * 2 - 1);
        return (q, k, v);
    }

    private static double[] D(ReadOnlySpan<float> a) { var d = new double[a.Length]; for (int i = 0; i < a.Length; i++) d[i] = a[i]; return d; }

    private static void Check(OrtValue q, OrtValue k, OrtValue v, ReadOnlySpan<float> o, MaskMode mode)
    {
        var expected = Prefill(S, D(q.GetTensorDataAsSpan<float>()), D(k.GetTensorDataAsSpan<float>()), D(v.GetTensorDataAsSpan<float>()), Lens, null, mode);
        double error = MaxRowRelativeError(D(o), expected.O, S.HeadDim, out long row);
        Assert.IsTrue(error < RowTolerance(ElementType.Float32), $"row {row}: {error:E3}");
    }

    [TestMethod]
    public void OrtValues_ThroughTensorSpans_OutputReadBackAsOrtValue()
    {
        var (q, k, v) = Inputs(1);
        using var _q = q; using var _k = k; using var _v = v;
        using var o = Allocate(new long[] { S.Batch, S.QLen, S.NumQoHeads, S.HeadDim });
        o.GetTensorMutableDataAsSpan<float>().Fill(float.NaN);
        nint[] qShape = { S.Batch, S.QLen, S.NumQoHeads, S.HeadDim }, kvShape = { S.Batch, S.KvLen, S.NumKvHeads, S.HeadDim };
        Attention.SequencePrefill(
            new ReadOnlyTensorSpan<float>(q.GetTensorDataAsSpan<float>(), qShape),
            new ReadOnlyTensorSpan<float>(k.GetTensorDataAsSpan<float>(), kvShape),
            new ReadOnlyTensorSpan<float>(v.GetTensorDataAsSpan<float>(), kvShape),
            new TensorSpan<float>(o.GetTensorMutableDataAsSpan<float>(), qShape),
            Lens, default, MaskMode.CausalPaddedLeft);
        var info = o.GetTensorTypeAndShape();
        CollectionAssert.AreEqual(new long[] { S.Batch, S.QLen, S.NumQoHeads, S.HeadDim }, info.Shape);
        Check(q, k, v, o.GetTensorDataAsSpan<float>(), MaskMode.CausalPaddedLeft);
    }

    [TestMethod]
    public unsafe void OrtValues_ThroughFromPointerWithTheirSize_AreCheckedAndUsedInPlace()
    {
        var (q, k, v) = Inputs(2);
        using var _q = q; using var _k = k; using var _v = v;
        using var o = Allocate(new long[] { S.Batch, S.QLen, S.NumQoHeads, S.HeadDim });
        o.GetTensorMutableDataAsSpan<float>().Fill(float.NaN);
        // What a CUDA OrtValue recipe does: its address and byte size (on the CPU here).
        DeviceTensor<float> View(OrtValue value, long[] shape)
        {
            ref byte first = ref MemoryMarshal.GetReference(value.GetTensorMutableRawData());
            return DeviceTensor<float>.FromPointer((IntPtr)System.Runtime.CompilerServices.Unsafe.AsPointer(ref first),
                value.GetTensorSizeInBytes() / sizeof(float), Device.Cpu, shape);
        }
        long[] qShape = { S.Batch, S.QLen, S.NumQoHeads, S.HeadDim }, kvShape = { S.Batch, S.KvLen, S.NumKvHeads, S.HeadDim };
        using (var qt = View(q, qShape)) using (var kt = View(k, kvShape)) using (var vt = View(v, kvShape)) using (var ot = View(o, qShape))
        {
            Attention.SequencePrefill(qt, kt, vt, ot, Lens, MaskMode.Padded);
        }
        Check(q, k, v, o.GetTensorDataAsSpan<float>(), MaskMode.Padded);
        // A view one token longer than the OrtValue is refused before anything is touched.
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => View(q, new long[] { S.Batch, S.QLen + 1, S.NumQoHeads, S.HeadDim }));
    }

    [TestMethod]
    public void OurOutputMemory_ExposedAsAnOrtValue_WithoutACopy()
    {
        var (q, k, v) = Inputs(3);
        using var _q = q; using var _k = k; using var _v = v;
        var output = new float[S.QElements];
        Array.Fill(output, float.NaN);
        long[] qShape = { S.Batch, S.QLen, S.NumQoHeads, S.HeadDim };
        using var asOrt = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, output.AsMemory(), qShape);
        nint[] qDims = { S.Batch, S.QLen, S.NumQoHeads, S.HeadDim }, kvDims = { S.Batch, S.KvLen, S.NumKvHeads, S.HeadDim };
        using var ot = DeviceTensor<float>.FromArray(output, qShape);
        Attention.SequencePrefill(
            new ReadOnlyTensorSpan<float>(q.GetTensorDataAsSpan<float>(), qDims),
            new ReadOnlyTensorSpan<float>(k.GetTensorDataAsSpan<float>(), kvDims),
            new ReadOnlyTensorSpan<float>(v.GetTensorDataAsSpan<float>(), kvDims),
            new TensorSpan<float>(output, qDims), Lens, default, MaskMode.PaddedLeft);
        // The OrtValue sees the result: same memory.
        Assert.IsTrue(asOrt.GetTensorDataAsSpan<float>().SequenceEqual(output));
        Check(q, k, v, asOrt.GetTensorDataAsSpan<float>(), MaskMode.PaddedLeft);
    }
}
