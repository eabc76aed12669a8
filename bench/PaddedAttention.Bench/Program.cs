// PaddedAttention.Bench: times Attention.SequencePrefill and Attention.Decode from .NET.
//
// Cases: the six padded-prefill cases of docs/performance.md (bf16, head_dim 128,
// 32 query / 8 KV heads unless noted, valid lengths uniform random in the range with a
// fixed seed) and decode against a left-padded KV cache (batch 1/16/64 x cache
// 1k/8k/32k, kv lengths uniform in [cache/2, cache], one new token).
//
// Timing: after warm-up, each sample is a Stopwatch around N back-to-back launches on
// one stream followed by a stream synchronisation, divided by N; the reported time is
// the median over the samples (at least 20). TFLOP/s counts real work only:
// 4 * head_dim * num_qo_heads * (visible (query, key) pairs) — causal halves count
// half, padding counts nothing. Decode also reports GB/s of the real K/V bytes read.
//
//   PaddedAttention.Bench [--json PATH] [--device cuda|cpu] [--runs N] [--warmup N]
//                         [--launches N] [--lens host|device] [--cases all|prefill|decode]
//                         [--filter TEXT] [--seed N]
//
// Without a GPU it prints "no CUDA device" and exits 0; --device cpu runs small cases on
// the CPU backend instead (a smoke test of the harness, not a performance figure).

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using PaddedAttention;

namespace PaddedAttention.Bench;

internal sealed record PrefillCase(string Name, int Batch, int SeqLen, int NumQoHeads, int NumKvHeads, int HeadDim,
    MaskMode Mask, int MinLen, int MaxLen, bool NoPadding);

internal sealed record DecodeCase(string Name, int Batch, int CacheLen, int NumQoHeads, int NumKvHeads, int HeadDim);

/// <summary>One measured case, as printed and written to JSON.</summary>
internal sealed record CaseResult(
    string Name, string Kind, int Batch, int SeqLen, int NumQoHeads, int NumKvHeads, int HeadDim, string Mask,
    int MinLen, int MaxLen, double MeanLen, double RealPairs, double MedianMs, double MinMs, int Samples,
    int LaunchesPerSample, double Tflops, double? Gbps, bool OutputChecked);

internal sealed class BenchOptions
{
    public string? JsonPath;
    public string DeviceName = "cuda";
    public int Runs = 30;
    public int WarmUp = 5;
    public int Launches;          // 0: chosen per case so that a sample lasts about 20 ms
    public bool DeviceLengths;
    public string Cases = "all";
    public string? Filter;
    public int Seed = 1234;

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value");
            int IntValue() => int.Parse(Value(), CultureInfo.InvariantCulture);
            switch (name)
            {
                case "--json": o.JsonPath = Value(); break;
                case "--device": o.DeviceName = Value() is "cpu" or "cuda" ? args[i] : throw new ArgumentException("--device: cpu or cuda"); break;
                case "--runs": o.Runs = Math.Max(1, IntValue()); break;
                case "--warmup": o.WarmUp = Math.Max(0, IntValue()); break;
                case "--launches": o.Launches = Math.Max(1, IntValue()); break;
                case "--lens": o.DeviceLengths = Value() switch { "host" => false, "device" => true, _ => throw new ArgumentException("--lens: host or device") }; break;
                case "--cases": o.Cases = Value() is "all" or "prefill" or "decode" ? args[i] : throw new ArgumentException("--cases: all, prefill or decode"); break;
                case "--filter": o.Filter = Value(); break;
                case "--seed": o.Seed = IntValue(); break;
                case "--bdn": throw new ArgumentException("--bdn: this build has no BenchmarkDotNet mode (it would weigh down the GPU run bundle); the default mode is the measurement");
                case "-h" or "--help": throw new ArgumentException("");
                default: throw new ArgumentException($"unknown option {name}");
            }
        }
        return o;
    }
}

internal static class Program
{
    const string Usage = "usage: PaddedAttention.Bench [--json PATH] [--device cuda|cpu] [--runs N] [--warmup N] [--launches N] " +
                         "[--lens host|device] [--cases all|prefill|decode] [--filter TEXT] [--seed N]";

    static int Main(string[] args)
    {
        BenchOptions o;
        try { o = BenchOptions.Parse(args); }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            if (e.Message.Length > 0) Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return e.Message.Length > 0 ? 2 : 0;
        }

        Device device;
        if (o.DeviceName == "cpu") device = Device.Cpu;
        else if (Device.CudaDeviceCount == 0)
        {
            Console.WriteLine("no CUDA device (run with --device cpu for a small CPU smoke run)");
            return 0;
        }
        else device = Device.Cuda(0);

        bool cpu = !device.IsCuda;
        var prefillCases = cpu
            ? new List<PrefillCase>
            {
                new("cpu b4 s128 causal-left", 4, 128, 8, 2, 64, MaskMode.CausalPaddedLeft, 17, 128, false),
                new("cpu b4 s128 padded-right", 4, 128, 4, 4, 64, MaskMode.Padded, 17, 128, false),
                new("cpu b2 s128 causal no padding", 2, 128, 8, 2, 64, MaskMode.CausalPaddedLeft, 128, 128, true),
            }
            : new List<PrefillCase>
            {
                new("b64 s512 causal-left", 64, 512, 32, 8, 128, MaskMode.CausalPaddedLeft, 64, 512, false),
                new("b16 s2048 causal-left", 16, 2048, 32, 8, 128, MaskMode.CausalPaddedLeft, 256, 2048, false),
                new("b4 s8192 causal-left", 4, 8192, 32, 8, 128, MaskMode.CausalPaddedLeft, 4096, 8192, false),
                new("b64 s512 padded-right h16/16 d64", 64, 512, 16, 16, 64, MaskMode.Padded, 64, 512, false),
                new("b16 s2048 padded-right h32/32", 16, 2048, 32, 32, 128, MaskMode.Padded, 256, 2048, false),
                new("b8 s4096 causal no padding", 8, 4096, 32, 8, 128, MaskMode.CausalPaddedLeft, 4096, 4096, true),
            };
        var decodeCases = new List<DecodeCase>();
        foreach (int batch in cpu ? new[] { 1, 4 } : new[] { 1, 16, 64 })
            foreach (int cache in cpu ? new[] { 256 } : new[] { 1024, 8192, 32768 })
                decodeCases.Add(new DecodeCase($"decode b{batch} cache{cache / 1024.0:0.##}k", batch, cache, 32, 8, 128));
        if (o.Filter is not null)
        {
            prefillCases.RemoveAll(c => !c.Name.Contains(o.Filter, StringComparison.OrdinalIgnoreCase));
            decodeCases.RemoveAll(c => !c.Name.Contains(o.Filter, StringComparison.OrdinalIgnoreCase));
        }
        if (o.Cases == "decode") prefillCases.Clear();
        if (o.Cases == "prefill") decodeCases.Clear();
        if (cpu) { o.Runs = Math.Min(o.Runs, 5); o.WarmUp = Math.Min(o.WarmUp, 1); }

        string deviceText = device.IsCuda ? $"{device} {device.GetProperties().Name}" : "cpu";
        Console.WriteLine($"PaddedAttention.Bench: {deviceText}, library {PaddedAttentionLibrary.Version}, bf16, " +
                          $"{(o.DeviceLengths ? "device" : "host")} lengths, seed {o.Seed}");
        Console.WriteLine($"time = median over {o.Runs} samples of (Stopwatch around N launches + stream synchronise) / N, after {o.WarmUp} warm-up launches");

        using var stream = device.IsCuda ? new CudaStream(device) : null;
        var results = new List<CaseResult>();
        int failures = 0;
        foreach (var c in prefillCases)
        {
            try { results.Add(RunPrefill(c, device, stream, o)); }
            catch (Exception e) when (e is PaddedAttentionException or OutOfMemoryException)
            {
                failures++;
                Console.WriteLine($"{c.Name}: failed: {e.Message}");
            }
        }
        foreach (var c in decodeCases)
        {
            try { results.Add(RunDecode(c, device, stream, o)); }
            catch (Exception e) when (e is PaddedAttentionException or OutOfMemoryException)
            {
                failures++;
                Console.WriteLine($"{c.Name}: failed: {e.Message}");
            }
        }

        PrintTable(results);
        var report = new
        {
            device = deviceText,
            library = PaddedAttentionLibrary.Version,
            dtype = "bf16",
            lengths = o.DeviceLengths ? "device" : "host",
            timing = "median over samples of Stopwatch(N launches + stream synchronize) / N",
            samples = o.Runs,
            warmup = o.WarmUp,
            date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            cases = results,
        };
        var jsonOptions = new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        string json = JsonSerializer.Serialize(report, jsonOptions);
        Console.WriteLine("JSON:");
        Console.WriteLine(json);
        if (o.JsonPath is not null) File.WriteAllText(o.JsonPath, json + Environment.NewLine);
        failures += results.Count(r => !r.OutputChecked);
        return failures == 0 ? 0 : 1;
    }

    static int[] UniformLengths(int batch, int min, int max, int seed)
    {
        var rng = new Random(seed);
        var lens = new int[batch];
        for (int b = 0; b < batch; b++) lens[b] = rng.Next(min, max + 1);
        return lens;
    }

    static CaseResult RunPrefill(PrefillCase c, Device device, CudaStream? stream, BenchOptions o)
    {
        int[] lens = c.NoPadding ? Enumerable.Repeat(c.SeqLen, c.Batch).ToArray() : UniformLengths(c.Batch, c.MinLen, c.MaxLen, o.Seed);
        bool causal = c.Mask is MaskMode.CausalPaddedLeft or MaskMode.CausalPaddedRight;
        bool left = c.Mask is MaskMode.CausalPaddedLeft or MaskMode.PaddedLeft;
        double pairs = lens.Sum(l => causal ? l * (l + 1.0) / 2 : (double)l * l);

        using var q = RandomTensor(device, o.Seed + 1, c.Batch, c.SeqLen, c.NumQoHeads, c.HeadDim);
        using var k = RandomTensor(device, o.Seed + 2, c.Batch, c.SeqLen, c.NumKvHeads, c.HeadDim);
        using var v = RandomTensor(device, o.Seed + 3, c.Batch, c.SeqLen, c.NumKvHeads, c.HeadDim);
        using var output = DeviceTensor<BFloat16>.Allocate(device, c.Batch, c.SeqLen, c.NumQoHeads, c.HeadDim);
        output.Buffer!.FillBytes(0xFF);
        using var deviceLens = o.DeviceLengths && !c.NoPadding ? DeviceBuffer<int>.Create(device, lens) : null;

        Action launch = c.NoPadding
            ? () => Attention.SequencePrefill(q, k, v, output, c.Mask, null, null, stream)
            : deviceLens is not null
                ? () => Attention.SequencePrefill(q, k, v, output, deviceLens, null, c.Mask, null, null, stream)
                : () => Attention.SequencePrefill(q, k, v, output, lens, c.Mask, null, null, stream);

        var (median, min, n) = Time(launch, stream, device, o);
        bool checkedOk = CheckLastRows(output, lens, c.SeqLen, left, c.NumQoHeads * c.HeadDim, c.Name);
        double tflops = 4.0 * c.HeadDim * c.NumQoHeads * pairs / (median * 1e-3) / 1e12;
        return new CaseResult(c.Name, "prefill", c.Batch, c.SeqLen, c.NumQoHeads, c.NumKvHeads, c.HeadDim,
            c.NoPadding ? "causal (no lengths)" : c.Mask.ToString(), c.MinLen, c.MaxLen, lens.Average(), pairs,
            median, min, o.Runs, n, tflops, null, checkedOk);
    }

    static CaseResult RunDecode(DecodeCase c, Device device, CudaStream? stream, BenchOptions o)
    {
        int[] lens = UniformLengths(c.Batch, c.CacheLen / 2, c.CacheLen, o.Seed);
        double keys = lens.Sum(l => (double)l);
        double bytes = keys * c.NumKvHeads * c.HeadDim * 2 /* bytes per bf16 */ * 2 /* k and v */;

        using var q = RandomTensor(device, o.Seed + 1, c.Batch, 1, c.NumQoHeads, c.HeadDim);
        using var k = RandomTensor(device, o.Seed + 2, c.Batch, c.CacheLen, c.NumKvHeads, c.HeadDim);
        using var v = RandomTensor(device, o.Seed + 3, c.Batch, c.CacheLen, c.NumKvHeads, c.HeadDim);
        using var output = DeviceTensor<BFloat16>.Allocate(device, c.Batch, 1, c.NumQoHeads, c.HeadDim);
        output.Buffer!.FillBytes(0xFF);
        using var deviceLens = o.DeviceLengths ? DeviceBuffer<int>.Create(device, lens) : null;

        Action launch = deviceLens is not null
            ? () => Attention.Decode(q, k, v, output, deviceLens, PaddingSide.Left, null, null, stream)
            : () => Attention.Decode(q, k, v, output, lens, PaddingSide.Left, null, null, stream);

        var (median, min, n) = Time(launch, stream, device, o);
        bool checkedOk = CheckLastRows(output, Enumerable.Repeat(1, c.Batch).ToArray(), 1, true, c.NumQoHeads * c.HeadDim, c.Name);
        double seconds = median * 1e-3;
        return new CaseResult(c.Name, "decode", c.Batch, c.CacheLen, c.NumQoHeads, c.NumKvHeads, c.HeadDim, "left-padded cache",
            c.CacheLen / 2, c.CacheLen, lens.Average(), keys, median, min, o.Runs, n,
            4.0 * c.HeadDim * c.NumQoHeads * keys / seconds / 1e12, bytes / seconds / 1e9, checkedOk);
    }

    /// <summary>Median and minimum milliseconds per launch, and launches per sample.</summary>
    static (double median, double min, int launches) Time(Action launch, CudaStream? stream, Device device, BenchOptions o)
    {
        void Sync() { if (stream is not null) stream.Synchronize(); else device.Synchronize(); }
        for (int i = 0; i < Math.Max(1, o.WarmUp); i++) launch();
        Sync();
        int n = o.Launches;
        if (n == 0)
        {
            // Size a sample to about 20 ms so that launch overhead and timer resolution vanish.
            long start = Stopwatch.GetTimestamp();
            launch();
            Sync();
            double once = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            n = (int)Math.Clamp(20.0 / Math.Max(once, 1e-3), 1, 200);
        }
        var samples = new double[o.Runs];
        for (int r = 0; r < o.Runs; r++)
        {
            Sync();
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < n; i++) launch();
            Sync();
            samples[r] = Stopwatch.GetElapsedTime(start).TotalMilliseconds / n;
        }
        Array.Sort(samples);
        return (samples[samples.Length / 2], samples[0], n);
    }

    /// <summary>
    /// Cheap sanity check after timing: every sequence's last real row is finite and not
    /// all zero, and (when there is padding) its first padding row is exactly zero.
    /// </summary>
    static bool CheckLastRows(DeviceTensor<BFloat16> output, int[] lens, int seqLen, bool left, int rowWidth, string name)
    {
        var row = new BFloat16[rowWidth];
        bool ok = true;
        for (int b = 0; b < lens.Length && ok; b++)
        {
            int last = left ? seqLen - 1 : lens[b] - 1;
            if (lens[b] == 0) continue;
            output.Buffer!.CopyTo(row, ((long)b * seqLen + last) * rowWidth);
            bool anyNonZero = false;
            foreach (var x in row)
            {
                float f = (float)x;
                if (!float.IsFinite(f)) { ok = false; break; }
                anyNonZero |= f != 0;
            }
            ok &= anyNonZero;
            if (ok && lens[b] < seqLen)
            {
                int pad = left ? 0 : seqLen - 1;
                output.Buffer!.CopyTo(row, ((long)b * seqLen + pad) * rowWidth);
                ok &= row.All(x => (float)x == 0);
            }
        }
        if (!ok) Console.WriteLine($"{name}: output check FAILED (a last real row is not finite/non-zero, or a padding row is not zero)");
        return ok;
    }

    /// <summary>A tensor filled with a repeated block of random bf16 values in [-1, 1).</summary>
    static DeviceTensor<BFloat16> RandomTensor(Device device, int seed, params long[] shape)
    {
        var tensor = DeviceTensor<BFloat16>.Allocate(device, shape);
        var rng = new Random(seed);
        const int chunk = 1 << 20;
        var block = new BFloat16[(int)Math.Min(chunk, tensor.ElementCount)];
        for (int i = 0; i < block.Length; i++) block[i] = (BFloat16)(rng.NextSingle() * 2 - 1);
        for (long offset = 0; offset < tensor.ElementCount; offset += block.Length)
        {
            int count = (int)Math.Min(block.Length, tensor.ElementCount - offset);
            tensor.Buffer!.CopyFrom(block.AsSpan(0, count), offset);
        }
        return tensor;
    }

    /// <summary>One decimal for large values, three significant digits for small ones (CPU runs).</summary>
    static string Number(double value) =>
        value >= 10 ? value.ToString("F1", CultureInfo.InvariantCulture) : value.ToString("G3", CultureInfo.InvariantCulture);

    static void PrintTable(List<CaseResult> results)
    {
        Console.WriteLine();
        Console.WriteLine($"| {"case",-34} | {"mean len",8} | {"median ms",10} | {"min ms",9} | {"TFLOP/s",8} | {"GB/s",7} | check |");
        Console.WriteLine($"|{new string('-', 36)}|{new string('-', 10)}|{new string('-', 12)}|{new string('-', 11)}|{new string('-', 10)}|{new string('-', 9)}|-------|");
        foreach (var r in results)
            Console.WriteLine($"| {r.Name,-34} | {r.MeanLen,8:F1} | {r.MedianMs,10:F4} | {r.MinMs,9:F4} | {Number(r.Tflops),8} | {(r.Gbps is null ? "" : Number(r.Gbps.Value)),7} | {(r.OutputChecked ? "ok" : "FAIL"),-5} |");
        Console.WriteLine();
    }
}
