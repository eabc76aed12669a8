namespace PaddedAttention.Tests.Support;

/// <summary>
/// The randomized prefill matrix shared by the CPU and the CUDA suites: element type ×
/// head_dim × head layout (MHA, GQA 4, MQA) per mask mode, each row running two
/// scenarios (q_len == kv_len with equal lengths; q_len ≠ kv_len with separate kv
/// lengths) whose odd sizes, valid lengths (0, 1, full, random), layouts (packed QKV
/// views, strided output) and options rotate with the row index. Sizes are capped so
/// that the whole CPU matrix runs in well under two minutes on two cores.
/// </summary>
public static class PrefillMatrix
{
    /// <summary>Heads per layout: (num_qo_heads, num_kv_heads).</summary>
    public static (int Hq, int Hkv) Heads(string layout) => layout switch
    {
        "mha" => (2, 2),
        "gqa4" => (8, 2),
        "mqa" => (3, 1),
        _ => throw new ArgumentOutOfRangeException(nameof(layout)),
    };

    static readonly int[] EqualLengths = { 7, 65, 1, 127, 63, 333 };
    static readonly (int Q, int Kv)[] SeparateLengths = { (1, 127), (65, 63), (127, 65), (63, 7), (7, 333), (333, 65) };

    /// <summary>Budget of (query, key, head, dim) products per batch row, to keep the reference fast.</summary>
    const long CostPerBatchRow = 30_000_000;

    /// <summary>head_dims of the matrix: the kernels' instantiations, and on the CPU (which
    /// takes any head_dim) the same ones, so both backends are checked at each of them.</summary>
    static readonly int[] CpuHeadDims = { 64, 128, 256, 32, 80, 96 };
    static readonly int[] CudaHeadDims = { 64, 128, 256, 32, 80, 96 };

    /// <summary>Rows for one mask (or for decode): (dtype, head_dim, heads). The CUDA prefill and decode
    /// kernels have the same head_dims.</summary>
    public static IEnumerable<object[]> Rows(bool cuda)
    {
        string[] dtypes = cuda ? new[] { "f16", "bf16" } : new[] { "f32", "f16", "bf16" };
        foreach (string dtype in dtypes)
            foreach (int d in cuda ? CudaHeadDims : CpuHeadDims)
                foreach (string heads in new[] { "mha", "gqa4", "mqa" })
                    yield return new object[] { dtype, d, heads };
    }

    /// <summary>
    /// The scenarios of one row. <paramref name="mask"/> null = no valid lengths (then the
    /// row runs bidirectional and causal). On CUDA the separate-length scenario passes
    /// device lengths with out-of-range values that the kernels must clamp.
    /// </summary>
    public static List<PrefillScenario> Scenarios(MaskMode? mask, string dtype, int headDim, string heads, bool cuda)
    {
        var (hq, hkv) = Heads(heads);
        int row = RowIndex(mask, dtype, headDim, heads);
        int seed = 1009 * row + (cuda ? 7 : 0) + 17;
        var rng = new Random(seed);
        var list = new List<PrefillScenario>();

        int l = Pick(EqualLengths, row, x => (long)x * x * hq * headDim);
        int lq = 0, lk = 0;
        (lq, lk) = Pick(SeparateLengths, row + 3, p => (long)p.Q * p.Kv * hq * headDim);

        if (mask is null)
        {
            list.Add(new PrefillScenario("full-bidirectional", 3, l, l, hq, hkv, headDim, MaskMode.Padded,
                LengthsKind.None, null, null, row % 2 == 0 ? Layout.PackedQkv : Layout.Contiguous, true, null, seed));
            // Full rows with q_len != kv_len: causal is bottom-right aligned (q_len > kv_len leaves
            // the first rows with nothing to see: o = 0, lse = -inf).
            list.Add(new PrefillScenario("full-causal", 2, lq, lk, hq, hkv, headDim, MaskMode.CausalPaddedLeft,
                LengthsKind.None, null, null, Layout.Contiguous, row % 3 != 0, row % 4 == 1 ? 0.3f : null, seed + 1));
            return list;
        }

        // Scenario 1: q_len == kv_len, lengths 0, 1, full and random; kv lengths equal to q lengths.
        int[] qLens = { 0, 1, l, rng.Next(1, l + 1) };
        var kind1 = row % 5 == 4 ? LengthsKind.Allocating : LengthsKind.HostEqual;
        list.Add(new PrefillScenario("equal-lengths", qLens.Length, l, l, hq, hkv, headDim, mask.Value, kind1,
            qLens, null, row % 2 == 0 ? Layout.PackedQkv : Layout.Contiguous,
            kind1 != LengthsKind.Allocating && row % 3 != 2, null, seed));

        // Scenario 2: q_len != kv_len, separate kv lengths: a full row seeing fewer keys (causal rows
        // with nothing visible), one query against the whole cache, kv = 0 with real queries, an
        // all-padding row and a full/full row.
        int[] q2 = { lq, 1, rng.Next(0, lq + 1), 0, lq };
        int[] kv2 = { rng.Next(1, lk + 1), lk, 0, lk, lk };
        // On the CPU every third row passes the lengths as (host) DeviceBuffer<int>s.
        LengthsKind kind2 = row % 3 == 0 ? LengthsKind.DeviceSeparate : LengthsKind.HostSeparate;
        if (cuda)
        {
            // Out-of-range device lengths are clamped into [0, q_len] / [0, kv_len].
            kind2 = LengthsKind.DeviceOutOfRange;
            q2 = new[] { lq + 7, 1, q2[2], -3, lq };
            kv2 = new[] { kv2[0], lk + 100, -5, lk, int.MaxValue };
        }
        list.Add(new PrefillScenario("separate-kv-lengths", q2.Length, lq, lk, hq, hkv, headDim, mask.Value, kind2,
            q2, kv2, Layout.Contiguous, true, row % 4 == 1 ? 0.3f : null, seed + 1));
        return list;
    }

    static int RowIndex(MaskMode? mask, string dtype, int headDim, string heads)
    {
        int m = mask is null ? 4 : (int)mask.Value;
        int t = dtype switch { "f32" => 0, "f16" => 1, _ => 2 };
        int d = headDim switch { 64 => 0, 128 => 1, _ => 2 };
        int h = heads switch { "mha" => 0, "gqa4" => 1, _ => 2 };
        return ((m * 3 + t) * 3 + d) * 3 + h;
    }

    /// <summary>The first choice, in rotation from <paramref name="start"/>, that fits the cost budget.</summary>
    static TItem Pick<TItem>(TItem[] choices, int start, Func<TItem, long> cost)
    {
        for (int i = 0; i < choices.Length; i++)
        {
            var c = choices[(start + i) % choices.Length];
            if (cost(c) <= CostPerBatchRow) return c;
        }
        return choices[start % choices.Length];
    }

    /// <summary>Runs every scenario of a row with the row's element type.</summary>
    public static void RunRow(Device device, MaskMode? mask, string dtype, int headDim, string heads, CudaStream? stream = null)
    {
        foreach (var scenario in Scenarios(mask, dtype, headDim, heads, device.IsCuda))
        {
            switch (dtype)
            {
                case "f32": scenario.Run<float>(device, stream); break;
                case "f16": scenario.Run<Half>(device, stream); break;
                case "bf16": scenario.Run<BFloat16>(device, stream); break;
                default: throw new ArgumentOutOfRangeException(nameof(dtype));
            }
        }
    }
}
