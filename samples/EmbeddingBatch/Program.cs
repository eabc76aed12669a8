// EmbeddingBatch: the main job of PaddedAttention, as an embedding server runs it.
//
// A decoder-style embedding model (Qwen3-Embedding, e5-mistral) reads a batch of
// variable-length texts, left-padded to one length so that every sequence's last
// real token sits in the last row; its embedding is taken from that row. This sample
// builds such a batch (random q/k/v with a fixed seed standing in for the model's
// projections, NaN in every padding row to show that padding never leaks), runs causal
// masked prefill on the GPU if there is one (else on the CPU), checks a sample of rows
// against a float64 reference, pools the last real token of every sequence, and prints
// how much work the masked prefill skipped compared with dense attention over the
// padded batch.
//
//   dotnet run -c Release --project samples/EmbeddingBatch -- [options]   (--help lists them)
//
// Exit code: 0 when every checked row is within the accuracy bound of docs/semantics.md (Results), 1 on a correctness
// failure, 2 on bad options or a missing device.

using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using PaddedAttention;

namespace EmbeddingBatch;

/// <summary>Command-line options of the sample.</summary>
internal sealed class SampleOptions
{
    public int Batch = 32;
    public int MinLen = 17;
    public int MaxLen = 512;
    public int Heads = 32;
    public int KvHeads = 8;
    public int HeadDim = 128;
    public string DType = "bf16";
    public MaskMode Mask = MaskMode.CausalPaddedLeft;
    public string? DeviceName;
    public int Seed = 2024;
    public int Runs = 0;        // 0: 10 on CUDA, 3 on the CPU
    public int WarmUp = 2;
    public int CheckSequences = 8;
    public readonly HashSet<string> Given = new();

    public const string Usage = """
        usage: EmbeddingBatch [options]
          --batch N          sequences in the batch (default 32; CPU: 8)
          --min-len N        shortest sequence (default 17)
          --max-len N        longest sequence (default 512); lengths are uniform in [min, max]
          --heads N          query heads (default 32; CPU: 8)
          --kv-heads N       KV heads, dividing --heads (default 8; CPU: 2)
          --head-dim N       32, 64, 80, 96, 128 or 256 (default 128)
          --dtype T          f16 | bf16 | f32 (default bf16; f32 runs on the CPU backend only)
          --mask M           causal-left | causal-right | padded | padded-left (default causal-left)
          --device D         cpu | cuda (default: the first GPU, else the CPU)
          --seed N           random seed (default 2024)
          --runs N           timed runs after warm-up (default 10 on CUDA, 3 on the CPU)
          --warmup N         warm-up runs (default 2)
          --check-seqs N     sequences whose rows are checked against the reference (default 8)
        """;

    public static SampleOptions Parse(string[] args)
    {
        var o = new SampleOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (name is "-h" or "--help") throw new OptionException(null);
            if (i + 1 >= args.Length) throw new OptionException($"{name} needs a value");
            string value = args[++i];
            o.Given.Add(name);
            switch (name)
            {
                case "--batch": o.Batch = PositiveInt(name, value); break;
                case "--min-len": o.MinLen = PositiveInt(name, value); break;
                case "--max-len": o.MaxLen = PositiveInt(name, value); break;
                case "--heads": o.Heads = PositiveInt(name, value); break;
                case "--kv-heads": o.KvHeads = PositiveInt(name, value); break;
                case "--head-dim": o.HeadDim = PositiveInt(name, value); break;
                case "--seed": o.Seed = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--runs": o.Runs = PositiveInt(name, value); break;
                case "--warmup": o.WarmUp = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--check-seqs": o.CheckSequences = PositiveInt(name, value); break;
                case "--dtype":
                    o.DType = value is "f16" or "bf16" or "f32" ? value : throw new OptionException($"--dtype {value}: expected f16, bf16 or f32");
                    break;
                case "--mask":
                    o.Mask = value switch
                    {
                        "causal-left" => MaskMode.CausalPaddedLeft,
                        "causal-right" => MaskMode.CausalPaddedRight,
                        "padded" => MaskMode.Padded,
                        "padded-left" => MaskMode.PaddedLeft,
                        _ => throw new OptionException($"--mask {value}: expected causal-left, causal-right, padded or padded-left"),
                    };
                    break;
                case "--device":
                    o.DeviceName = value is "cpu" or "cuda" ? value : throw new OptionException($"--device {value}: expected cpu or cuda");
                    break;
                default: throw new OptionException($"unknown option {name}");
            }
        }
        if (o.MinLen > o.MaxLen) throw new OptionException($"--min-len {o.MinLen} is above --max-len {o.MaxLen}");
        return o;
    }

    static int PositiveInt(string name, string value)
    {
        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n <= 0)
            throw new OptionException($"{name} {value}: expected a positive integer");
        return n;
    }

    /// <summary>On the CPU, shrink the defaults the user did not set so that the run takes seconds.</summary>
    public bool ApplyCpuDefaults()
    {
        bool changed = false;
        if (!Given.Contains("--batch")) { Batch = 8; changed = true; }
        if (!Given.Contains("--heads")) { Heads = 8; changed = true; }
        if (!Given.Contains("--kv-heads")) { KvHeads = 2; changed = true; }
        return changed;
    }
}

internal sealed class OptionException(string? message) : Exception(message ?? "") { public bool IsHelp => string.IsNullOrEmpty(Message); }

internal static class Program
{
    static int Main(string[] args)
    {
        SampleOptions options;
        try { options = SampleOptions.Parse(args); }
        catch (OptionException e)
        {
            if (e.IsHelp) { Console.WriteLine(SampleOptions.Usage); return 0; }
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(SampleOptions.Usage);
            return 2;
        }
        catch (FormatException e) { Console.Error.WriteLine(e.Message); return 2; }

        Device device;
        if (options.DeviceName == "cuda")
        {
            if (Device.CudaDeviceCount == 0) { Console.Error.WriteLine("--device cuda: no CUDA device"); return 2; }
            device = Device.Cuda(0);
        }
        else device = options.DeviceName == "cpu" ? Device.Cpu : Device.Default;

        if (device.IsCuda && options.DType == "f32")
        {
            Console.Error.WriteLine("--dtype f32 runs on the CPU backend only (CUDA kernels take f16 and bf16); add --device cpu");
            return 2;
        }
        string deviceText = device.IsCuda ? $"{device} ({device.GetProperties().Name})" : "cpu";
        if (!device.IsCuda && options.ApplyCpuDefaults())
            Console.WriteLine($"No GPU in use: running on the CPU backend with a smaller default batch " +
                $"({options.Batch} sequences of {options.MinLen}..{options.MaxLen} tokens, {options.Heads}/{options.KvHeads} heads); " +
                "pass --batch/--heads/--kv-heads to change it.");
        if (options.Heads % options.KvHeads != 0)
        {
            Console.Error.WriteLine($"--heads {options.Heads} is not a multiple of --kv-heads {options.KvHeads}");
            return 2;
        }

        try
        {
            return options.DType switch
            {
                "f16" => new EmbeddingJob<Half>(options, device, deviceText).Run(),
                "bf16" => new EmbeddingJob<BFloat16>(options, device, deviceText).Run(),
                _ => new EmbeddingJob<float>(options, device, deviceText).Run(),
            };
        }
        catch (PaddedAttentionException e)
        {
            Console.Error.WriteLine($"PaddedAttention failed: {e.Status}: {e.NativeMessage}");
            return 1;
        }
    }
}

/// <summary>One embedding batch of element type T: build, run, check, pool, report.</summary>
internal sealed class EmbeddingJob<T>(SampleOptions o, Device device, string deviceText) where T : unmanaged
{
    readonly bool leftPadded = o.Mask is MaskMode.CausalPaddedLeft or MaskMode.PaddedLeft;
    readonly bool causal = o.Mask is MaskMode.CausalPaddedLeft or MaskMode.CausalPaddedRight;

    public int Run()
    {
        // Sequence lengths, and the padded length of the batch (its longest sequence).
        var rng = new Random(o.Seed);
        int[] lengths = new int[o.Batch];
        for (int b = 0; b < o.Batch; b++) lengths[b] = rng.Next(o.MinLen, o.MaxLen + 1);
        int seqLen = lengths.Max();
        int d = o.HeadDim, hq = o.Heads, hkv = o.KvHeads;

        // Inputs: random real rows, NaN padding rows.
        T[] q = RandomRows(rng, lengths, seqLen, hq * d);
        T[] k = RandomRows(rng, lengths, seqLen, hkv * d);
        T[] v = RandomRows(rng, lengths, seqLen, hkv * d);

        using var qT = DeviceTensor<T>.Allocate(device, o.Batch, seqLen, hq, d);
        using var kT = DeviceTensor<T>.Allocate(device, o.Batch, seqLen, hkv, d);
        using var vT = DeviceTensor<T>.Allocate(device, o.Batch, seqLen, hkv, d);
        using var oT = DeviceTensor<T>.Allocate(device, o.Batch, seqLen, hq, d);
        qT.Buffer!.CopyFrom(q);
        kT.Buffer!.CopyFrom(k);
        vT.Buffer!.CopyFrom(v);
        oT.Buffer!.FillBytes(0xFF); // NaN: an unwritten element would show in the checks

        // Warm-up, then timed runs (each synchronised, so the time is the whole prefill).
        int runs = o.Runs > 0 ? o.Runs : (device.IsCuda ? 10 : 3);
        for (int i = 0; i < o.WarmUp; i++) Prefill(qT, kT, vT, oT, lengths);
        if (o.WarmUp == 0) Prefill(qT, kT, vT, oT, lengths); // one run is needed for the checks
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            device.Synchronize();
            long start = Stopwatch.GetTimestamp();
            Prefill(qT, kT, vT, oT, lengths);
            device.Synchronize();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        double medianMs = times[runs / 2];

        T[] output = oT.Buffer.ToArray();

        // Check a sample of rows against the float64 reference.
        var (maxError, checkedRows, failures) = CheckSample(q, k, v, output, lengths, seqLen);
        double bound = o.DType switch { "f32" => 1e-5, "f16" => 2e-3, _ => 1.6e-2 };

        // Last-token pooling: the output row of each sequence's last real token, its heads
        // concatenated into one hq * d vector (the layout the model's output projection reads).
        int embeddingDim = hq * d;
        var embeddings = new float[o.Batch][];
        int nonFinite = 0;
        for (int b = 0; b < o.Batch; b++)
        {
            int lastRow = leftPadded ? seqLen - 1 : lengths[b] - 1;
            long rowStart = ((long)b * seqLen + lastRow) * embeddingDim;
            embeddings[b] = new float[embeddingDim];
            for (int x = 0; x < embeddingDim; x++)
            {
                float value = (float)ToDouble(output[rowStart + x]);
                if (!float.IsFinite(value)) nonFinite++;
                embeddings[b][x] = value;
            }
        }
        double meanNorm = embeddings.Average(e => Math.Sqrt(e.Sum(x => (double)x * x)));

        // Work: (query, key) pairs attended, against dense attention over the padded batch.
        double realPairs = 0;
        foreach (int len in lengths) realPairs += causal ? len * (len + 1.0) / 2 : (double)len * len;
        double denseCausal = o.Batch * (seqLen * (seqLen + 1.0) / 2);
        double denseFull = o.Batch * ((double)seqLen * seqLen);
        double tflops = 4.0 * d * hq * realPairs / (medianMs * 1e-3) / 1e12;

        bool ok = maxError <= bound && nonFinite == 0 && failures.Count == 0;
        string maskName = o.Mask switch
        {
            MaskMode.CausalPaddedLeft => "causal, left padding",
            MaskMode.CausalPaddedRight => "causal, right padding",
            MaskMode.Padded => "bidirectional, right padding",
            _ => "bidirectional, left padding",
        };
        Console.WriteLine();
        Console.WriteLine($"EmbeddingBatch: masked prefill ({o.Mask}: {maskName}), {o.DType}, {deviceText}, library {PaddedAttentionLibrary.Version}");
        Console.WriteLine($"  {o.Batch} sequences padded to {seqLen} tokens, {hq} query / {hkv} KV heads, head_dim {d}, seed {o.Seed}");
        Console.WriteLine();
        var rows = new List<(string, string)>
        {
            ("lengths min / mean / max", $"{lengths.Min()} / {lengths.Average():F1} / {lengths.Max()}"),
            ($"max relative error ({checkedRows} rows checked)", $"{maxError:0.00e+0} (bound {bound:0.0e+0}) {(ok ? "ok" : "FAILED")}"),
            ($"time (median of {runs}, {o.WarmUp} warm-up)", $"{medianMs:F3} ms  ({tflops:F2} TFLOP/s on real work)"),
            ("real (query, key) pairs", $"{realPairs:N0}"),
            ("  / dense causal pairs", $"{100 * realPairs / denseCausal:F1} %  (skips {100 * (1 - realPairs / denseCausal):F1} %)"),
            ("  / dense full pairs", $"{100 * realPairs / denseFull:F1} %  (skips {100 * (1 - realPairs / denseFull):F1} %)"),
            ("pooled embeddings", $"{o.Batch} x {embeddingDim} (last real token, heads concatenated), mean L2 norm {meanNorm:F3}"),
        };
        int width = rows.Max(r => r.Item1.Length);
        Console.WriteLine($"  | {"".PadRight(width)} | value");
        Console.WriteLine($"  |-{new string('-', width)}-|------");
        foreach (var (name, value) in rows) Console.WriteLine($"  | {name.PadRight(width)} | {value}");
        Console.WriteLine();
        foreach (string f in failures.Take(10)) Console.WriteLine($"  check failed: {f}");
        if (nonFinite > 0) Console.WriteLine($"  {nonFinite} non-finite values in the pooled embeddings");
        Console.WriteLine(ok ? "PASS" : "FAIL");
        return ok ? 0 : 1;
    }

    void Prefill(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output, int[] lengths)
        => Attention.SequencePrefill(q, k, v, output, lengths, o.Mask);

    /// <summary>[batch, seqLen, rowWidth] with random real rows and NaN padding rows.</summary>
    T[] RandomRows(Random rng, int[] lengths, int seqLen, int rowWidth)
    {
        var data = new T[(long)lengths.Length * seqLen * rowWidth];
        T nan = FromFloat(float.NaN);
        for (int b = 0; b < lengths.Length; b++)
            for (int s = 0; s < seqLen; s++)
            {
                long start = ((long)b * seqLen + s) * rowWidth;
                if (!IsReal(s, lengths[b], seqLen)) { Array.Fill(data, nan, (int)start, rowWidth); continue; }
                for (int x = 0; x < rowWidth; x++) data[start + x] = FromFloat(rng.NextSingle() * 4 - 2);
            }
        return data;
    }

    bool IsReal(int row, int length, int seqLen) => leftPadded ? row >= seqLen - length : row < length;

    /// <summary>
    /// Checks, for a few sequences spread over the batch (always the shortest and the
    /// longest), their first, middle and last real rows against a float64 reference, and
    /// that a padding row is exactly zero.
    /// </summary>
    (double maxError, int rows, List<string> failures) CheckSample(T[] q, T[] k, T[] v, T[] output, int[] lengths, int seqLen)
    {
        int d = o.HeadDim, hq = o.Heads, hkv = o.KvHeads, group = hq / hkv;
        double scale = 1.0 / Math.Sqrt(d);
        var sequences = new SortedSet<int>
        {
            Array.IndexOf(lengths, lengths.Min()),
            Array.IndexOf(lengths, lengths.Max()),
        };
        for (int i = 0; sequences.Count < Math.Min(o.CheckSequences, o.Batch); i++)
            sequences.Add((int)((long)i * 7919 % o.Batch));
        double maxError = 0;
        int rows = 0;
        var failures = new List<string>();
        foreach (int b in sequences)
        {
            int len = lengths[b], firstReal = leftPadded ? seqLen - len : 0;
            var checkRows = new SortedSet<int> { firstReal, firstReal + len / 2, firstReal + len - 1 };
            if (len < seqLen) checkRows.Add(leftPadded ? 0 : seqLen - 1); // a padding row
            foreach (int row in checkRows)
            {
                for (int h = 0; h < hq; h++)
                {
                    long outStart = (((long)b * seqLen + row) * hq + h) * d;
                    double[] expected = new double[d];
                    if (IsReal(row, len, seqLen))
                    {
                        int i = row - firstReal;
                        var scores = new List<(double s, int key)>();
                        for (int j = 0; j < len; j++)
                        {
                            if (causal && j > i) break;
                            long kStart = (((long)b * seqLen + firstReal + j) * hkv + h / group) * d;
                            double dot = 0;
                            for (int x = 0; x < d; x++) dot += ToDouble(q[outStart + x]) * ToDouble(k[kStart + x]);
                            scores.Add((scale * dot, j));
                        }
                        double max = scores.Max(t => t.s), sum = 0;
                        foreach (var (s, j) in scores)
                        {
                            double p = Math.Exp(s - max);
                            sum += p;
                            long vStart = (((long)b * seqLen + firstReal + j) * hkv + h / group) * d;
                            for (int x = 0; x < d; x++) expected[x] += p * ToDouble(v[vStart + x]);
                        }
                        for (int x = 0; x < d; x++) expected[x] /= sum;
                    }
                    double diff = 0, norm = 0;
                    bool finite = true, zero = true;
                    for (int x = 0; x < d; x++)
                    {
                        double a = ToDouble(output[outStart + x]);
                        finite &= double.IsFinite(a);
                        zero &= a == 0;
                        diff += (a - expected[x]) * (a - expected[x]);
                        norm += expected[x] * expected[x];
                    }
                    rows++;
                    if (!IsReal(row, len, seqLen))
                    {
                        if (!zero) failures.Add($"sequence {b} padding row {row} head {h} is not zero");
                        continue;
                    }
                    double err = finite ? Math.Sqrt(diff / norm) : double.PositiveInfinity;
                    if (!finite) failures.Add($"sequence {b} row {row} head {h} is not finite");
                    maxError = Math.Max(maxError, err);
                }
            }
        }
        return (maxError, rows, failures);
    }

    static T FromFloat(float value)
    {
        if (typeof(T) == typeof(Half)) { Half h = (Half)value; return Unsafe.As<Half, T>(ref h); }
        if (typeof(T) == typeof(BFloat16)) { BFloat16 b = (BFloat16)value; return Unsafe.As<BFloat16, T>(ref b); }
        return Unsafe.As<float, T>(ref value);
    }

    static double ToDouble(T value)
    {
        if (typeof(T) == typeof(Half)) return (double)Unsafe.As<T, Half>(ref value);
        if (typeof(T) == typeof(BFloat16)) return (float)Unsafe.As<T, BFloat16>(ref value);
        return Unsafe.As<T, float>(ref value);
    }
}
