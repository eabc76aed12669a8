using PaddedAttention.Tests.Reference;
using PaddedAttention.Tests.Support;
using static PaddedAttention.Tests.Reference.ElementConversions;

namespace PaddedAttention.Tests.MultiDevice;

/// <summary>
/// The context-parallel recipe (Support/ContextParallelRecipe.cs, docs/context-parallel.md): one long
/// causal row split by keys over two devices, partial results merged by lse, against the float64
/// reference and a single-device pass. On the CPU here; on one GPU with both halves on device 0;
/// across two GPUs where there are two.
/// </summary>
[TestClass]
public sealed class ContextParallelTests
{
    [TestMethod]
    [DataRow(517, 200, 8, 2, 64)]
    [DataRow(333, 1, 4, 4, 128)]
    [DataRow(300, 299, 6, 2, 64)]
    public void CausalRowSplitOverTwoCpuParts_EqualsOnePass(int length, int split, int hq, int hkv, int headDim)
        => Check<BFloat16>(Device.Cpu, Device.Cpu, length, split, hq, hkv, headDim);

    [TestMethod]
    [TestCategory("GPU")]
    [DataRow(1537, 768, 8, 2, 128)]
    [DataRow(1031, 517, 8, 2, 64)]
    public void CausalRowSplitOnOneGpu_EqualsOnePass(int length, int split, int hq, int hkv, int headDim)
    {
        var device = TestDevices.RequireCuda();
        Check<BFloat16>(device, device, length, split, hq, hkv, headDim);
    }

    [TestMethod]
    [TestCategory("GPU")]
    [TestCategory("MultiGPU")]
    [DataRow(2049, 1024, 8, 2, 128)]
    [DataRow(1031, 517, 4, 2, 256)]
    public void CausalRowSplitOverTwoGpus_EqualsOnePass(int length, int split, int hq, int hkv, int headDim)
    {
        var (first, second) = TestDevices.RequireTwoCuda();
        Check<BFloat16>(first, second, length, split, hq, hkv, headDim);
    }

    private static void Check<T>(Device first, Device second, int length, int split, int hq, int hkv, int headDim) where T : unmanaged
    {
        var shape = new AttentionReference.Shape(1, length, length, hq, hkv, headDim);
        var rng = new Random(length * 31 + split);
        T[] q = FromFloats<T>(PrefillScenario.RandomValues(rng, shape.QElements, 3f));
        T[] k = FromFloats<T>(PrefillScenario.RandomValues(rng, shape.KvElements, 1f));
        T[] v = FromFloats<T>(PrefillScenario.RandomValues(rng, shape.KvElements, 1f));

        double[] split2 = ToDoubles<T>(ContextParallelRecipe.CausalRow(first, second, q, k, v, length, split, hq, hkv, headDim));

        using var qt = DeviceTensor<T>.Allocate(first, 1, length, hq, headDim);
        using var kt = DeviceTensor<T>.Allocate(first, 1, length, hkv, headDim);
        using var vt = DeviceTensor<T>.Allocate(first, 1, length, hkv, headDim);
        using var ot = DeviceTensor<T>.Allocate(first, 1, length, hq, headDim);
        qt.Buffer!.CopyFrom(q);
        kt.Buffer!.CopyFrom(k);
        vt.Buffer!.CopyFrom(v);
        ot.Buffer!.FillBytes(0xFF);
        Attention.SequencePrefill(qt, kt, vt, ot, MaskMode.CausalPaddedRight);
        double[] onePass = ToDoubles<T>(ot.Buffer!.ToArray());

        var expected = AttentionReference.Prefill(shape, ToDoubles<T>(q), ToDoubles<T>(k), ToDoubles<T>(v),
            null, null, MaskMode.CausalPaddedRight);
        // The merged rows are rounded to T twice (partial results, then the merge).
        double tol = 2 * AttentionReference.RowTolerance(TypeOf<T>());
        double err = AttentionReference.MaxRowRelativeError(split2, expected.O, headDim, out long worst);
        Assert.IsTrue(err <= tol, $"split over {first} + {second} vs float64 reference: row {worst} error {err:G4} (bound {tol:G3})");
        double errOnePass = AttentionReference.MaxRowRelativeError(split2, onePass, headDim, out worst);
        Assert.IsTrue(errOnePass <= tol, $"split over {first} + {second} vs one pass: row {worst} error {errOnePass:G4}");
    }
}
