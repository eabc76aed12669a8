using PaddedAttention.Tests.Reference;
using static PaddedAttention.Tests.Reference.ElementConversions;

namespace PaddedAttention.Tests.Support;

/// <summary>How the valid lengths reach the library.</summary>
public enum LengthsKind
{
    /// <summary>No lengths: every row is full.</summary>
    None,
    /// <summary>Host span of q lengths; kv lengths equal (q_len == kv_len).</summary>
    HostEqual,
    /// <summary>Host spans of q and kv lengths.</summary>
    HostSeparate,
    /// <summary>DeviceBuffer&lt;int&gt; on the tensors' device (q and kv).</summary>
    DeviceSeparate,
    /// <summary>DeviceBuffer&lt;int&gt; holding out-of-range values the kernels must clamp (CUDA only).</summary>
    DeviceOutOfRange,
    /// <summary>The allocating overload (host q lengths, kv equal).</summary>
    Allocating,
}

/// <summary>How q/k/v/o are laid out in memory.</summary>
public enum Layout
{
    /// <summary>Each tensor in its own contiguous buffer.</summary>
    Contiguous,
    /// <summary>q, k, v as head slices of one packed [batch, seq, hq + 2 hkv, d] buffer; o a head slice of a wider buffer.</summary>
    PackedQkv,
}

/// <summary>One randomized prefill problem (sizes, lengths, layout) and how to call the library.</summary>
public sealed record PrefillScenario(
    string Name, int Batch, int QLen, int KvLen, int NumQoHeads, int NumKvHeads, int HeadDim,
    MaskMode Mask, LengthsKind Lengths, int[]? QLens, int[]? KvLens, Layout Layout,
    bool WithLse, float? Scale, int Seed)
{
    public override string ToString() =>
        $"{Name}: b{Batch} q{QLen} kv{KvLen} h{NumQoHeads}/{NumKvHeads} d{HeadDim} {Mask} {Lengths} {Layout} " +
        $"qlens=[{(QLens is null ? "-" : string.Join(",", QLens))}] kvlens=[{(KvLens is null ? "-" : string.Join(",", KvLens))}] " +
        $"lse={WithLse} scale={Scale?.ToString() ?? "default"} seed={Seed}";

    bool LeftPadded => Mask is MaskMode.CausalPaddedLeft or MaskMode.PaddedLeft;

    /// <summary>The lengths the library must act on (device values clamped into range).</summary>
    (int[]? q, int[]? kv) EffectiveLengths()
    {
        int[]? q = QLens?.Select(x => Math.Clamp(x, 0, QLen)).ToArray();
        int[]? kv = KvLens?.Select(x => Math.Clamp(x, 0, KvLen)).ToArray();
        return (q, kv);
    }

    /// <summary>
    /// Runs the scenario on <paramref name="device"/> for element type T and asserts the
    /// the accuracy bound of docs/semantics.md (Results), that every element of o (and lse) was written, and that nothing
    /// outside the output view was touched. Returns the worst row error (for reporting).
    /// </summary>
    public double Run<T>(Device device, CudaStream? stream = null) where T : unmanaged
    {
        ElementType type = TypeOf<T>();
        var shape = new AttentionReference.Shape(Batch, QLen, KvLen, NumQoHeads, NumKvHeads, HeadDim);
        var (qLensEff, kvLensEff) = EffectiveLengths();
        var rng = new Random(Seed);

        float[] qf = RandomValues(rng, shape.QElements, 2f);
        float[] kf = RandomValues(rng, shape.KvElements, 2f);
        float[] vf = RandomValues(rng, shape.KvElements, 1f);
        PoisonPadding(qf, kf, vf, qLensEff, kvLensEff ?? (Lengths is LengthsKind.HostEqual or LengthsKind.Allocating ? qLensEff : null));

        T[] qT = FromFloats<T>(qf), kT = FromFloats<T>(kf), vT = FromFloats<T>(vf);
        var expected = AttentionReference.Prefill(shape, ToDoubles<T>(qT), ToDoubles<T>(kT), ToDoubles<T>(vT),
            qLensEff, kvLensEff, Mask, Scale);

        var disposables = new List<IDisposable>();
        try
        {
            DeviceTensor<T> q, k, v, o;
            DeviceTensor<T>? wideOutput = null;
            if (Layout == Layout.PackedQkv)
            {
                if (QLen != KvLen) throw new InvalidOperationException("packed QKV needs q_len == kv_len");
                int heads = NumQoHeads + 2 * NumKvHeads;
                var packed = DeviceTensor<T>.Allocate(device, Batch, QLen, heads, HeadDim);
                disposables.Add(packed);
                q = packed.Slice(2, 0, NumQoHeads);
                k = packed.Slice(2, NumQoHeads, NumKvHeads);
                v = packed.Slice(2, NumQoHeads + NumKvHeads, NumKvHeads);
                disposables.AddRange(new IDisposable[] { q, k, v });
                // Fill the packed buffer with NaN first so that reading outside a view shows.
                packed.Buffer!.FillBytes(0xFF);
                TensorIO.Write(q, qT);
                TensorIO.Write(k, kT);
                TensorIO.Write(v, vT);
                // The output is head slice [1, 1 + hq) of a [b, q_len, hq + 2, d] buffer: strided, with an offset.
                wideOutput = DeviceTensor<T>.Allocate(device, Batch, QLen, NumQoHeads + 2, HeadDim);
                disposables.Add(wideOutput);
                o = wideOutput.Slice(2, 1, NumQoHeads);
                disposables.Add(o);
            }
            else
            {
                q = Upload(device, qT, Batch, QLen, NumQoHeads, HeadDim, disposables);
                k = Upload(device, kT, Batch, KvLen, NumKvHeads, HeadDim, disposables);
                v = Upload(device, vT, Batch, KvLen, NumKvHeads, HeadDim, disposables);
                o = DeviceTensor<T>.Allocate(device, Batch, QLen, NumQoHeads, HeadDim);
                disposables.Add(o);
            }
            // Poison: 0xFF bytes are NaN in f32, f16 and bf16 alike.
            o.Buffer!.FillBytes(0xFF);
            DeviceTensor<float>? lse = null;
            if (WithLse)
            {
                lse = DeviceTensor<float>.Allocate(device, Batch, QLen, NumQoHeads);
                disposables.Add(lse);
                lse.Buffer!.FillBytes(0xFF);
            }
            var options = Scale is null ? null : new PrefillOptions { SoftmaxScale = Scale };

            switch (Lengths)
            {
                case LengthsKind.None:
                    Attention.SequencePrefill(q, k, v, o, Mask, lse, options, stream);
                    break;
                case LengthsKind.HostEqual:
                    Attention.SequencePrefill(q, k, v, o, QLens, Mask, lse, options, stream);
                    break;
                case LengthsKind.HostSeparate:
                    Attention.SequencePrefill(q, k, v, o, QLens, KvLens, Mask, lse, options, stream);
                    break;
                case LengthsKind.DeviceSeparate:
                case LengthsKind.DeviceOutOfRange:
                {
                    var qLensBuffer = DeviceBuffer<int>.Create(device, QLens);
                    disposables.Add(qLensBuffer);
                    DeviceBuffer<int>? kvLensBuffer = null;
                    if (KvLens is not null)
                    {
                        kvLensBuffer = DeviceBuffer<int>.Create(device, KvLens);
                        disposables.Add(kvLensBuffer);
                    }
                    Attention.SequencePrefill(q, k, v, o, qLensBuffer, kvLensBuffer, Mask, lse, options, stream);
                    break;
                }
                case LengthsKind.Allocating:
                {
                    // The returned tensor is the output; copy it into the poisoned o so the checks below apply.
                    using var allocated = Attention.SequencePrefill(q, k, v, QLens, Mask, options, stream);
                    Assert.AreEqual(device, allocated.Device, "allocated output device");
                    CollectionAssert.AreEqual(new long[] { Batch, QLen, NumQoHeads, HeadDim }, allocated.Shape.ToArray(), "allocated output shape");
                    stream?.Synchronize();
                    TensorIO.Write(o, TensorIO.Read(allocated));
                    break;
                }
            }
            stream?.Synchronize();
            device.Synchronize();

            double[] actual = ToDoubles<T>(TensorIO.Read(o));
            double err = AttentionReference.MaxRowRelativeError(actual, expected.O, HeadDim, out long worstRow);
            double tol = AttentionReference.RowTolerance(type);
            Assert.IsTrue(err <= tol,
                $"{this} [{type}]: row {Describe(worstRow)} relative error {err:G4} > {tol:G4}");

            if (lse is not null)
            {
                float[] lseActual = TensorIO.Read(lse);
                double lseErr = AttentionReference.MaxLseErrorRatio(lseActual, expected.Lse, type, out long worstLse);
                const double lseTol = 1.0; // error / bound
                Assert.IsTrue(lseErr <= lseTol,
                    $"{this} [{type}]: lse {Describe(worstLse)} = {(worstLse >= 0 ? lseActual[worstLse] : 0)} vs {(worstLse >= 0 ? expected.Lse[worstLse] : 0)}, error/bound {lseErr:G4} > 1");
            }

            if (wideOutput is not null)
            {
                // Heads 0 and hq + 1 of the wide buffer lie outside the view: still poisoned.
                var inside = TensorIO.Offsets(o);
                T[] all = TensorIO.ReadBuffer(wideOutput);
                for (long i = 0; i < all.Length; i++)
                    if (!inside.Contains(i) && !double.IsNaN(ToDouble(all[i])))
                        Assert.Fail($"{this} [{type}]: element {i} of the output buffer outside the view was written");
            }
            return err;
        }
        finally
        {
            for (int i = disposables.Count - 1; i >= 0; i--) disposables[i].Dispose();
        }
    }

    string Describe(long row)
    {
        if (row < 0) return "-";
        long h = row % NumQoHeads, s = row / NumQoHeads % QLen, b = row / NumQoHeads / QLen;
        return $"(b{b}, s{s}, h{h})";
    }

    static DeviceTensor<T> Upload<T>(Device device, T[] data, int b, int s, int h, int d, List<IDisposable> owned) where T : unmanaged
    {
        var tensor = DeviceTensor<T>.Allocate(device, b, s, h, d);
        owned.Add(tensor);
        tensor.Buffer!.CopyFrom(data);
        return tensor;
    }

    /// <summary>Fresh values uniform in (-range, range), never all zero.</summary>
    public static float[] RandomValues(Random rng, long count, float range)
    {
        var values = new float[count];
        for (long i = 0; i < count; i++) values[i] = (float)((rng.NextDouble() * 2 - 1) * range);
        return values;
    }

    /// <summary>Writes NaN and ±Inf into every padding row of q, k and v: they must not leak.</summary>
    void PoisonPadding(float[] q, float[] k, float[] v, int[]? qLens, int[]? kvLens)
    {
        if (qLens is null && kvLens is null) return;
        int rowQ = NumQoHeads * HeadDim, rowKv = NumKvHeads * HeadDim;
        for (int b = 0; b < Batch; b++)
        {
            int qv = qLens?[b] ?? QLen, kv = kvLens?[b] ?? KvLen;
            for (int s = 0; s < QLen; s++)
            {
                bool real = LeftPadded ? s >= QLen - qv : s < qv;
                if (!real) Array.Fill(q, float.NaN, (b * QLen + s) * rowQ, rowQ);
            }
            for (int s = 0; s < KvLen; s++)
            {
                bool real = LeftPadded ? s >= KvLen - kv : s < kv;
                if (real) continue;
                Array.Fill(k, (s & 1) == 0 ? float.PositiveInfinity : float.NaN, (b * KvLen + s) * rowKv, rowKv);
                Array.Fill(v, (s & 1) == 0 ? float.NaN : float.NegativeInfinity, (b * KvLen + s) * rowKv, rowKv);
            }
        }
    }
}
