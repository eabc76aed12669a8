// PaddedAttention.CpuBench: the CPU backend against ONNX Runtime's CPU
// execution provider, in one process, on the same inputs.
//
// Per case and dtype, three contenders:
//   ours  Attention.SequencePrefill on host tensors (valid lengths on the host);
//   gqa   com.microsoft.GroupQueryAttention (causal only; it takes right-padded
//         rows with seqlens_k = length - 1, so it gets the same rows right-padded);
//   attn  ai.onnx Attention (opset 23) with a bool mask [B, 1, S, S] carrying
//         padding and causality, on the same layout as ours.
// Models: models/*.onnx, written by models/make_models.py. Each time is the median
// of --runs calls after --warmup; GFLOP/s counts real work only (4 * head_dim *
// num_qo_heads per visible (query, key) pair). Outputs of every contender are
// compared with ours on the real rows (max |difference| is printed).
// The fixed cost of a 1-token f32 prefill (b1 s1 8/2 d128) from C# closes the run.
//
//   PaddedAttention.CpuBench [--runs N] [--warmup N] [--filter TEXT] [--threads N] [--fixed-calls N]
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using PaddedAttention;

namespace PaddedAttention.CpuBench;

internal sealed record BenchCase(string Name, MaskMode Mask, int Batch, int Seq, int Hq, int Hkv, int D, int LenLo, int LenHi, string[] Dtypes)
{
    public bool Causal => Mask is MaskMode.CausalPaddedLeft or MaskMode.CausalPaddedRight;
    public bool LeftPadded => Mask is MaskMode.CausalPaddedLeft or MaskMode.PaddedLeft;

    public int[] Lengths() => Enumerable.Range(0, Batch)
        .Select(b => Batch == 1 ? LenHi : LenLo + (int)((long)(LenHi - LenLo) * b / (Batch - 1))).ToArray();

    public double RealFlops(int[] lens) =>
        4.0 * D * Hq * lens.Sum(l => Causal ? 0.5 * l * (l + 1.0) : (double)l * l);
}

internal static unsafe class Program
{
    private static int Runs = 21, WarmUp = 3, Threads, FixedCalls = 200_000;
    private static string? Filter;

    private static readonly BenchCase[] Cases =
    {
        new("causal-left b8 s512 8/2 d128", MaskMode.CausalPaddedLeft, 8, 512, 8, 2, 128, 23, 512, new[] { "f32", "f16", "bf16" }),
        new("bert-right b32 s128 12/12 d64", MaskMode.Padded, 32, 128, 12, 12, 64, 16, 128, new[] { "f32" }),
        new("long-row b1 s4096 32/8 d128", MaskMode.CausalPaddedLeft, 1, 4096, 32, 8, 128, 4096, 4096, new[] { "f32" }),
    };

    public static int Main(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => args[++i];
            switch (args[i])
            {
                case "--runs": Runs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--warmup": WarmUp = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--filter": Filter = Next(); break;
                case "--threads": Threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--fixed-calls": FixedCalls = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
            }
        }
        Console.WriteLine($"libpaddedattn {PaddedAttentionLibrary.Version}, ONNX Runtime {OrtEnv.Instance().GetVersionString()}, " +
                          $"{Environment.ProcessorCount} hardware threads, runs {Runs}");
        foreach (var c in Cases)
        {
            if (Filter is not null && !c.Name.Contains(Filter, StringComparison.Ordinal)) continue;
            foreach (var dtype in c.Dtypes)
            {
                RunCase(c, dtype);
            }
        }
        if (Filter is null || Filter == "fixed") FixedCost();
        return 0;
    }

    private static int ElementSize(string dtype) => dtype == "f32" ? 4 : 2;

    private static TensorElementType OrtType(string dtype) => dtype switch
    {
        "f32" => TensorElementType.Float,
        "f16" => TensorElementType.Float16,
        _ => TensorElementType.BFloat16,
    };

    private sealed class HostArray : IDisposable
    {
        public readonly IntPtr Pointer;
        public readonly long Bytes;
        public HostArray(long bytes) { Bytes = bytes; Pointer = (IntPtr)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 64), 64); }
        public void Dispose() => NativeMemory.AlignedFree((void*)Pointer);
    }

    private static void Store(string dtype, IntPtr p, long i, float x)
    {
        switch (dtype)
        {
            case "f32": ((float*)p)[i] = x; break;
            case "f16": ((Half*)p)[i] = (Half)x; break;
            default: ((BFloat16*)p)[i] = new BFloat16(x); break;
        }
    }

    private static float Load(string dtype, IntPtr p, long i) => dtype switch
    {
        "f32" => ((float*)p)[i],
        "f16" => (float)((Half*)p)[i],
        _ => (float)((BFloat16*)p)[i],
    };

    private static double Median(List<double> t)
    {
        t.Sort();
        return t[t.Count / 2];
    }

    private static (double Median, double Min) Time(Action call)
    {
        for (int i = 0; i < WarmUp; i++) call();
        var samples = new List<double>();
        for (int i = 0; i < Runs; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            call();
            samples.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        return (Median(samples), samples.Min());
    }

    private static void Report(BenchCase c, string dtype, string who, (double Median, double Min) t, double flops, string note)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{c.Name,-30} {dtype,-4} {who,-5} median {t.Median,9:F3} ms  min {t.Min,9:F3} ms  {flops / t.Median * 1e-6,7:F1} GFLOP/s  {note}"));
    }

    private static void RunCase(BenchCase c, string dtype)
    {
        int[] lens = c.Lengths();
        double flops = c.RealFlops(lens);
        long nq = (long)c.Batch * c.Seq * c.Hq * c.D, nk = (long)c.Batch * c.Seq * c.Hkv * c.D;
        int es = ElementSize(dtype);
        using var q = new HostArray(nq * es);
        using var k = new HostArray(nk * es);
        using var v = new HostArray(nk * es);
        using var o = new HostArray(nq * es);
        var rng = new Random(1234);
        for (long i = 0; i < nq; i++) Store(dtype, q.Pointer, i, (float)(rng.NextDouble() * 2 - 1));
        for (long i = 0; i < nk; i++) Store(dtype, k.Pointer, i, (float)(rng.NextDouble() * 2 - 1));
        for (long i = 0; i < nk; i++) Store(dtype, v.Pointer, i, (float)(rng.NextDouble() * 2 - 1));

        // Ours.
        long[] qShape = { c.Batch, c.Seq, c.Hq, c.D }, kShape = { c.Batch, c.Seq, c.Hkv, c.D };
        var options = new PrefillOptions { CpuMaxThreads = Threads };
        Action ours = dtype switch
        {
            "f32" => Prefill<float>(q, k, v, o, qShape, kShape, lens, c.Mask, options),
            "f16" => Prefill<Half>(q, k, v, o, qShape, kShape, lens, c.Mask, options),
            _ => Prefill<BFloat16>(q, k, v, o, qShape, kShape, lens, c.Mask, options),
        };
        var ourTime = Time(ours);
        Report(c, dtype, "ours", ourTime, flops, $"isa={Environment.GetEnvironmentVariable("PADDEDATTN_CPU_ISA") ?? "auto"}");

        // The real rows of our output, [b][token][head][d], for the comparisons.
        float RealOut(HostArray buffer, bool leftPadded, int b, int token, int h, int d)
        {
            int row = leftPadded ? c.Seq - lens[b] + token : token;
            return Load(dtype, buffer.Pointer, (((long)b * c.Seq + row) * c.Hq + h) * c.D + d);
        }
        double MaxDiff(HostArray other, bool otherLeftPadded)
        {
            double worst = 0;
            for (int b = 0; b < c.Batch; b++)
                for (int t = 0; t < lens[b]; t++)
                    for (int h = 0; h < c.Hq; h++)
                        for (int d = 0; d < c.D; d++)
                        {
                            double diff = Math.Abs(RealOut(o, c.LeftPadded, b, t, h, d) - RealOut(other, otherLeftPadded, b, t, h, d));
                            worst = double.IsNaN(diff) ? double.PositiveInfinity : Math.Max(worst, diff);
                        }
            return worst;
        }

        string suffix = $"{dtype}_h{c.Hq}kv{c.Hkv}_d{c.D}.onnx";
        string models = Path.Combine(AppContext.BaseDirectory, "models");
        using var sessionOptions = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (Threads > 0) sessionOptions.IntraOpNumThreads = Threads;
        var memory = OrtMemoryInfo.DefaultInstance;

        // ORT GroupQueryAttention: causal only, right-padded rows.
        if (c.Causal)
        {
            using var qr = new HostArray(nq * es);
            using var kr = new HostArray(nk * es);
            using var vr = new HostArray(nk * es);
            using var or = new HostArray(nq * es);
            using var presentK = new HostArray(nk * es);
            using var presentV = new HostArray(nk * es);
            CopyRows(q, qr, c, lens, c.Hq, es);
            CopyRows(k, kr, c, lens, c.Hkv, es);
            CopyRows(v, vr, c, lens, c.Hkv, es);
            int[] seqlensK = lens.Select(l => l - 1).ToArray();
            int[] total = { c.Seq };
            try
            {
                using var session = new InferenceSession(Path.Combine(models, "gqa_" + suffix), sessionOptions);
                var type = OrtType(dtype);
                using var inQ = Tokens(type, c, c.Hq, qr);
                using var inK = Tokens(type, c, c.Hkv, kr);
                using var inV = Tokens(type, c, c.Hkv, vr);
                using var inSeq = OrtValue.CreateTensorValueFromMemory(seqlensK, new long[] { c.Batch });
                using var inTotal = OrtValue.CreateTensorValueFromMemory(total, new long[] { 1 });
                using var outY = Tokens(type, c, c.Hq, or);
                using var outK = OrtValue.CreateTensorValueWithData(memory, type, new long[] { c.Batch, c.Hkv, c.Seq, c.D }, presentK.Pointer, presentK.Bytes);
                using var outV = OrtValue.CreateTensorValueWithData(memory, type, new long[] { c.Batch, c.Hkv, c.Seq, c.D }, presentV.Pointer, presentV.Bytes);
                using var runOptions = new RunOptions();
                string[] inNames = { "query", "key", "value", "seqlens_k", "total_sequence_length" };
                OrtValue[] inValues = { inQ, inK, inV, inSeq, inTotal };
                string[] outNames = { "output", "present_key", "present_value" };
                OrtValue[] outValues = { outY, outK, outV };
                var t = Time(() => session.Run(runOptions, inNames, inValues, outNames, outValues));
                Report(c, dtype, "gqa", t, flops, string.Create(CultureInfo.InvariantCulture,
                    $"max|ours-gqa| {MaxDiff(or, false):G3}  ours is {t.Median / ourTime.Median:F2}x faster"));
            }
            catch (OnnxRuntimeException e)
            {
                Console.WriteLine($"{c.Name,-30} {dtype,-4} gqa   fails: {FirstLine(e.Message)}");
            }
        }

        // ORT Attention (opset 23) + bool mask, same layout as ours.
        {
            var mask = new bool[(long)c.Batch * c.Seq * c.Seq];
            for (int b = 0; b < c.Batch; b++)
            {
                int first = c.LeftPadded ? c.Seq - lens[b] : 0;
                for (int i = 0; i < c.Seq; i++)
                    for (int j = 0; j < c.Seq; j++)
                    {
                        bool realQ = i >= first && i < first + lens[b], realK = j >= first && j < first + lens[b];
                        // Padding query rows attend to themselves only, so that no row is all-masked (NaN).
                        mask[((long)b * c.Seq + i) * c.Seq + j] = realQ ? realK && (!c.Causal || j <= i) : i == j;
                    }
            }
            using var ao = new HostArray(nq * es);
            try
            {
                using var session = new InferenceSession(Path.Combine(models, "attn_" + suffix), sessionOptions);
                var type = OrtType(dtype);
                using var inQ = Tokens(type, c, c.Hq, q);
                using var inK = Tokens(type, c, c.Hkv, k);
                using var inV = Tokens(type, c, c.Hkv, v);
                using var inMask = OrtValue.CreateTensorValueFromMemory(mask, new long[] { c.Batch, 1, c.Seq, c.Seq });
                using var outY = Tokens(type, c, c.Hq, ao);
                using var runOptions = new RunOptions();
                string[] inNames = { "Q", "K", "V", "attn_mask" };
                OrtValue[] inValues = { inQ, inK, inV, inMask };
                string[] outNames = { "Y" };
                OrtValue[] outValues = { outY };
                var t = Time(() => session.Run(runOptions, inNames, inValues, outNames, outValues));
                Report(c, dtype, "attn", t, flops, string.Create(CultureInfo.InvariantCulture,
                    $"max|ours-attn| {MaxDiff(ao, c.LeftPadded):G3}  ours is {t.Median / ourTime.Median:F2}x faster"));
            }
            catch (OnnxRuntimeException e)
            {
                Console.WriteLine($"{c.Name,-30} {dtype,-4} attn  fails: {FirstLine(e.Message)}");
            }
        }
    }

    // A [B, S, heads * D] ORT tensor over host memory (no copy).
    private static OrtValue Tokens(TensorElementType type, BenchCase c, int heads, HostArray data) =>
        OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, type, new long[] { c.Batch, c.Seq, heads * c.D }, data.Pointer, data.Bytes);

    private static string FirstLine(string s) => s.Split('\n')[0];

    // Real rows of a left- or right-padded [B, S, H, D] buffer into right-padded rows.
    private static void CopyRows(HostArray from, HostArray to, BenchCase c, int[] lens, int heads, int es)
    {
        long rowBytes = (long)heads * c.D * es;
        new Span<byte>((void*)to.Pointer, checked((int)to.Bytes)).Clear();
        for (int b = 0; b < c.Batch; b++)
        {
            int first = c.LeftPadded ? c.Seq - lens[b] : 0;
            Buffer.MemoryCopy((byte*)from.Pointer + ((long)b * c.Seq + first) * rowBytes, (byte*)to.Pointer + (long)b * c.Seq * rowBytes,
                lens[b] * rowBytes, lens[b] * rowBytes);
        }
    }

    private static Action Prefill<T>(HostArray q, HostArray k, HostArray v, HostArray o, long[] qShape, long[] kShape, int[] lens,
        MaskMode mask, PrefillOptions options) where T : unmanaged
    {
        var tq = DeviceTensor<T>.FromPointer(q.Pointer, Device.Cpu, qShape);
        var tk = DeviceTensor<T>.FromPointer(k.Pointer, Device.Cpu, kShape);
        var tv = DeviceTensor<T>.FromPointer(v.Pointer, Device.Cpu, kShape);
        var to = DeviceTensor<T>.FromPointer(o.Pointer, Device.Cpu, qShape);
        return () => Attention.SequencePrefill(tq, tk, tv, to, lens, mask, null, options);
    }

    // A 1-token f32 prefill (b1 s1 8/2 d128): the per-call cost of the managed
    // layer plus the native call.
    private static void FixedCost()
    {
        using var q = new HostArray(8 * 128 * 4);
        using var k = new HostArray(2 * 128 * 4);
        using var v = new HostArray(2 * 128 * 4);
        using var o = new HostArray(8 * 128 * 4);
        for (int i = 0; i < 8 * 128; i++) ((float*)q.Pointer)[i] = 0.01f * (i % 17);
        for (int i = 0; i < 2 * 128; i++) ((float*)k.Pointer)[i] = ((float*)v.Pointer)[i] = 0.02f * (i % 13);
        var call = Prefill<float>(q, k, v, o, new long[] { 1, 1, 8, 128 }, new long[] { 1, 1, 2, 128 }, new[] { 1 },
            MaskMode.CausalPaddedLeft, new PrefillOptions());
        for (int i = 0; i < 10_000; i++) call();
        var perCall = new List<double>();
        for (int round = 0; round < 7; round++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < FixedCalls; i++) call();
            perCall.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds / FixedCalls);
        }
        long gen0 = GC.CollectionCount(0);
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) call();
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fixed cost from C#, 1-token f32 prefill (b1 s1 8/2 d128): median {Median(perCall):F3} us, best {perCall.Min():F3} us per call " +
            $"({FixedCalls} calls x 7); {allocated / 10_000.0:F0} managed bytes allocated per call, gen0 GCs {GC.CollectionCount(0) - gen0}"));
    }
}
