namespace PaddedAttention.Tests.Reference;

/// <summary>
/// A float64 reference for docs/semantics.md, written from its text and sharing no
/// code with the library: for every (batch row, query row, key row) it decides
/// visibility from the padding side, the valid lengths and the causal rule,
/// then computes a plain two-pass softmax in double precision.
/// Tensors are contiguous row-major arrays: q/o [batch, qLen, hq, d],
/// k/v [batch, kvLen, hkv, d], lse [batch, qLen, hq].
/// </summary>
public static class AttentionReference
{
    /// <summary>Shapes of one attention problem.</summary>
    public readonly record struct Shape(int Batch, int QLen, int KvLen, int NumQoHeads, int NumKvHeads, int HeadDim)
    {
        public long QElements => (long)Batch * QLen * NumQoHeads * HeadDim;
        public long KvElements => (long)Batch * KvLen * NumKvHeads * HeadDim;
        public long LseElements => (long)Batch * QLen * NumQoHeads;
    }

    /// <summary>Result of the reference: o and lse (lse is -inf for rows that see no key).</summary>
    public sealed record Result(double[] O, double[] Lse);

    /// <summary>
    /// Which (query row, key row) pairs of batch row <paramref name="b"/> are visible.
    /// Row indices are positions in the padded tensors, not within the real tokens.
    /// </summary>
    public delegate bool Visibility(int b, int queryRow, int keyRow);

    /// <summary>
    /// Masked prefill as docs/semantics.md (Mask modes) defines it. <paramref name="qValidLens"/> null means
    /// every row is full (qv = qLen, kv = kvLen); <paramref name="kvValidLens"/> null means
    /// equal to the q lengths. <paramref name="maskMode"/> null with no lengths means plain
    /// bidirectional attention; <paramref name="causalWithoutLengths"/> selects causal then.
    /// </summary>
    public static Result Prefill(Shape s, double[] q, double[] k, double[] v,
        int[]? qValidLens, int[]? kvValidLens, MaskMode maskMode, double? scale = null,
        (int Left, int Right)? window = null, double softCap = 0)
    {
        bool left = maskMode is MaskMode.CausalPaddedLeft or MaskMode.PaddedLeft;
        bool causal = maskMode is MaskMode.CausalPaddedLeft or MaskMode.CausalPaddedRight;
        int[] qv = new int[s.Batch];
        int[] kv = new int[s.Batch];
        for (int b = 0; b < s.Batch; b++)
        {
            qv[b] = qValidLens is null ? s.QLen : qValidLens[b];
            kv[b] = kvValidLens is null ? (qValidLens is null ? s.KvLen : qv[b]) : kvValidLens[b];
        }
        return Compute(s, q, k, v, scale, (b, row, col) =>
        {
            // Index of the query / key within its sequence's real tokens; outside [0, len) is padding.
            int i = left ? row - (s.QLen - qv[b]) : row;
            int j = left ? col - (s.KvLen - kv[b]) : col;
            if (i < 0 || i >= qv[b] || j < 0 || j >= kv[b]) return false;
            return (!causal || j <= i + (kv[b] - qv[b])) && InWindow(window, i + (long)(kv[b] - qv[b]), j);
        }, softCap);
    }

    /// <summary>The sliding window around diagonal <paramref name="diag"/>: keys diag - Left .. diag + Right (-1 = unlimited side).</summary>
    static bool InWindow((int Left, int Right)? window, long diag, long j)
    {
        if (window is not (int left, int right)) return true;
        return (left < 0 || j >= diag - left) && (right < 0 || j <= diag + right);
    }

    /// <summary>
    /// Decode: every query row is real; row b has kv real keys at the start
    /// (right padding) or the end (left padding) of the cache; query i sees real key j
    /// iff j &lt;= i + kv - qLen. <paramref name="kvValidLens"/> null = full cache.
    /// </summary>
    public static Result Decode(Shape s, double[] q, double[] k, double[] v,
        int[]? kvValidLens, PaddingSide side, double? scale = null, (int Left, int Right)? window = null, double softCap = 0)
    {
        return Compute(s, q, k, v, scale, (b, row, col) =>
        {
            int kv = kvValidLens is null ? s.KvLen : kvValidLens[b];
            int j = side == PaddingSide.Left ? col - (s.KvLen - kv) : col;
            if (j < 0 || j >= kv) return false;
            return j <= row + kv - s.QLen && InWindow(window, row + (long)(kv - s.QLen), j);
        }, softCap);
    }

    /// <summary>Attention with an arbitrary visibility rule, in double precision.</summary>
    /// <remarks><paramref name="softCap"/> &gt; 0 replaces each score by softCap · tanh(score / softCap) (Gemma 2).</remarks>
    public static Result Compute(Shape s, double[] q, double[] k, double[] v, double? scale, Visibility visible, double softCap = 0)
    {
        int d = s.HeadDim;
        int group = s.NumQoHeads / s.NumKvHeads;
        double sc = scale ?? 1.0 / Math.Sqrt(d);
        var o = new double[s.QElements];
        var lse = new double[s.LseElements];
        var scores = new double[s.KvLen];
        var seen = new bool[s.KvLen];
        for (int b = 0; b < s.Batch; b++)
        for (int r = 0; r < s.QLen; r++)
        {
            int anyVisible = 0;
            for (int c = 0; c < s.KvLen; c++) { seen[c] = visible(b, r, c); anyVisible += seen[c] ? 1 : 0; }
            for (int h = 0; h < s.NumQoHeads; h++)
            {
                long lseIndex = ((long)b * s.QLen + r) * s.NumQoHeads + h;
                long qBase = lseIndex * d;
                if (anyVisible == 0)
                {
                    lse[lseIndex] = double.NegativeInfinity; // o stays 0
                    continue;
                }
                int hk = h / group;
                double max = double.NegativeInfinity;
                for (int c = 0; c < s.KvLen; c++)
                {
                    if (!seen[c]) continue;
                    long kBase = (((long)b * s.KvLen + c) * s.NumKvHeads + hk) * d;
                    double dot = 0;
                    for (int x = 0; x < d; x++) dot += q[qBase + x] * k[kBase + x];
                    scores[c] = softCap > 0 ? softCap * Math.Tanh(sc * dot / softCap) : sc * dot;
                    max = Math.Max(max, scores[c]);
                }
                double sum = 0;
                for (int c = 0; c < s.KvLen; c++)
                {
                    if (!seen[c]) continue;
                    double p = Math.Exp(scores[c] - max);
                    sum += p;
                    long vBase = (((long)b * s.KvLen + c) * s.NumKvHeads + hk) * d;
                    for (int x = 0; x < d; x++) o[qBase + x] += p * v[vBase + x];
                }
                for (int x = 0; x < d; x++) o[qBase + x] /= sum;
                lse[lseIndex] = max + Math.Log(sum);
            }
        }
        return new Result(o, lse);
    }

    /// <summary>
    /// Merge of two attention states over disjoint key sets (natural-log lse):
    /// the result over the union. A -inf lse contributes nothing; both -inf gives 0, -inf.
    /// </summary>
    public static double[] MergeState(ReadOnlySpan<double> oA, double lseA, ReadOnlySpan<double> oB, double lseB, out double lse)
    {
        var o = new double[oA.Length];
        if (double.IsNegativeInfinity(lseA) && double.IsNegativeInfinity(lseB))
        {
            lse = double.NegativeInfinity;
            return o;
        }
        double max = Math.Max(lseA, lseB);
        double wa = Math.Exp(lseA - max), wb = Math.Exp(lseB - max);
        lse = max + Math.Log(wa + wb);
        for (int x = 0; x < o.Length; x++) o[x] = (oA[x] * wa + oB[x] * wb) / (wa + wb);
        return o;
    }

    // ---------------------------------------------------------------- errors

    /// <summary>
    /// Largest per-row relative error ||o - ref|| / ||ref|| over all rows of
    /// [rows, d] data. A reference row that is exactly 0 (padding, or a row that
    /// sees no key) must be exactly 0 in <paramref name="actual"/>; a mismatch there
    /// counts as +inf. NaN anywhere counts as NaN, which fails every comparison.
    /// </summary>
    public static double MaxRowRelativeError(double[] actual, double[] expected, int headDim,
        out long worstRow)
    {
        double worst = 0;
        worstRow = -1;
        long rows = expected.Length / headDim;
        for (long row = 0; row < rows; row++)
        {
            double err = RowRelativeError(actual, expected, row * headDim, headDim);
            if (double.IsNaN(err) || err > worst) { worst = err; worstRow = row; }
            if (double.IsNaN(err)) break;
        }
        return worst;
    }

    /// <summary>Relative error of one row; see <see cref="MaxRowRelativeError"/>.</summary>
    public static double RowRelativeError(double[] actual, double[] expected, long start, int length)
    {
        double diff = 0, norm = 0;
        bool refIsZero = true;
        for (int x = 0; x < length; x++)
        {
            double a = actual[start + x], e = expected[start + x];
            if (double.IsNaN(a) || double.IsInfinity(a)) return double.NaN;
            diff += (a - e) * (a - e);
            norm += e * e;
            if (e != 0) refIsZero = false;
        }
        if (refIsZero)
        {
            for (int x = 0; x < length; x++) if (actual[start + x] != 0) return double.PositiveInfinity;
            return 0;
        }
        return Math.Sqrt(diff) / Math.Sqrt(norm);
    }

    /// <summary>
    /// Largest absolute lse error; -inf must match -inf exactly (anything else is +inf),
    /// NaN is NaN.
    /// </summary>
    public static double MaxLseError(float[] actual, double[] expected, out long worstIndex)
        => MaxLseErrorRatio(actual, expected, _ => 1.0, out worstIndex);

    /// <summary>
    /// Largest ratio of absolute lse error to its bound <see cref="LseTolerance(ElementType, double)"/>
    /// (at most 1 passes); -inf must match -inf exactly, NaN gives NaN.
    /// </summary>
    public static double MaxLseErrorRatio(float[] actual, double[] expected, ElementType type, out long worstIndex)
        => MaxLseErrorRatio(actual, expected, e => LseTolerance(type, e), out worstIndex);

    static double MaxLseErrorRatio(float[] actual, double[] expected, Func<double, double> bound, out long worstIndex)
    {
        double worst = 0;
        worstIndex = -1;
        for (long i = 0; i < expected.Length; i++)
        {
            double a = actual[i], e = expected[i];
            double err;
            if (double.IsNaN(a)) err = double.NaN;
            else if (double.IsNegativeInfinity(e)) err = double.IsNegativeInfinity(a) ? 0 : double.PositiveInfinity;
            else if (double.IsInfinity(a)) err = double.PositiveInfinity;
            else err = Math.Abs(a - e) / bound(e);
            if (double.IsNaN(err) || err > worst) { worst = err; worstIndex = i; }
            if (double.IsNaN(err)) break;
        }
        return worst;
    }

    /// <summary>The relative-error bound of docs/semantics.md (Results) per output row for an element type.</summary>
    public static double RowTolerance(ElementType type) => type switch
    {
        ElementType.Float32 => 1e-5,
        ElementType.Float16 => 2e-3,
        ElementType.BFloat16 => 1.6e-2,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>The absolute lse bound of docs/semantics.md (Results) for an element type.</summary>
    public static double LseTolerance(ElementType type) => type == ElementType.Float32 ? 1e-5 : 1e-3;

    /// <summary>
    /// The absolute lse bound of docs/semantics.md (Results), widened only by what an f32 result can represent:
    /// lse is stored as f32, whose spacing at |lse| is about 1.2e-7·|lse| (a merge of states
    /// at lse ≈ 1e4 cannot be closer than ~5e-4 to the exact value). For |lse| below ~100
    /// this adds at most 1e-5 and the spec's bound dominates.
    /// </summary>
    public static double LseTolerance(ElementType type, double expected) => LseTolerance(type) + 1.2e-7 * Math.Abs(expected);
}
