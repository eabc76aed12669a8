// PaddedAttention.HostTime: the time a caller's thread spends inside
// Attention.SequencePrefill on the GPU path (the call only enqueues work on a
// stream), for batches of 1 to 4096 short rows, lengths on the host and on the
// device. BenchmarkDotNet 0.15.8 with its in-process toolchain (the GPU machine
// has a .NET runtime but no SDK, so BenchmarkDotNet cannot build the usual
// separate benchmark process there).
//
// Each BenchmarkDotNet iteration is 256 calls on one stream; the stream is
// drained before every iteration ([IterationSetup], not timed), so the GPU work
// of a batch never fills the launch queue and the time is the host's. Two
// methods per case: SequencePrefill (the public API, everything the C# layer
// does) and NativeCall (pattn_sequence_prefill with a parameter struct built
// once), whose difference is the C# layer's cost.
//
//   PaddedAttention.HostTime              BenchmarkDotNet, then a summary table with the targets
//   PaddedAttention.HostTime --quick      no BenchmarkDotNet: Stopwatch and thread CPU time per call,
//                                         median of 20 samples of 256 calls (a few seconds in all)
//   PaddedAttention.HostTime --rows 1,64  fewer batch sizes (either mode)
//   PaddedAttention.HostTime --device cpu --rows 1   the same calls on the CPU backend: a smoke test
//                                         of the harness where there is no GPU, not a host-time figure
//
// Without a CUDA device it prints so and exits 0. On a GPU machine without the
// .NET SDK: copy a Release build (dotnet build -c Release -p:UseAppHost=true -o DIR)
// and a .NET 10 runtime there, then run DIR/PaddedAttention.HostTime with
// DOTNET_ROOT set and PADDEDATTN_NATIVE_LIB naming the library to measure.

using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using PaddedAttention;
using PaddedAttention.Internal;
using PaddedAttention.Interop;

namespace PaddedAttention.HostTime;

/// <summary>Where the valid lengths live: a host span (the library stages them to the device) or a DeviceBuffer.</summary>
public enum LengthsOn
{
    Host,
    Device,
}

/// <summary>The measured calls. Public, with public fields and methods, as BenchmarkDotNet requires.</summary>
public class PrefillHostTime
{
    // Short rows: 32 tokens, lengths uniform in [1, 32]; GQA 8/2 heads of 64; bf16, causal, right padding.
    internal const int SeqLen = 32, QoHeads = 8, KvHeads = 2, HeadDim = 64;
    internal const MaskMode Mask = MaskMode.CausalPaddedRight;
    internal const int CallsPerIteration = 256;

    internal static int[] RowCounts = { 1, 64, 256, 1024, 4096 };
    internal static bool OnCpu;                       // --device cpu: a smoke test of the harness, no GPU figure
    public static IEnumerable<int> RowsValues => RowCounts;

    [ParamsSource(nameof(RowsValues))]
    public int Rows;

    [Params(LengthsOn.Host, LengthsOn.Device)]
    public LengthsOn Lengths;

    private CudaStream? _stream;
    private DeviceTensor<BFloat16> _q = null!, _k = null!, _v = null!, _o = null!;
    private int[] _hostLengths = null!;               // pinned: NativeCall passes its address
    private DeviceBuffer<int> _deviceLengths = null!;
    private readonly PrefillOptions _options = new();
    private PattnPrefillParams _native;

    [GlobalSetup]
    public unsafe void Setup()
    {
        var device = OnCpu ? Device.Cpu : Device.Cuda(0);
        _stream = OnCpu ? null : new CudaStream(device);
        var random = new Random(1000 + Rows);
        _q = RandomTensor(device, random, Rows, SeqLen, QoHeads, HeadDim);
        _k = RandomTensor(device, random, Rows, SeqLen, KvHeads, HeadDim);
        _v = RandomTensor(device, random, Rows, SeqLen, KvHeads, HeadDim);
        _o = DeviceTensor<BFloat16>.Allocate(device, Rows, SeqLen, QoHeads, HeadDim);
        _hostLengths = GC.AllocateArray<int>(Rows, pinned: true);
        for (int b = 0; b < Rows; b++)
        {
            _hostLengths[b] = random.Next(1, SeqLen + 1);
        }
        _deviceLengths = DeviceBuffer<int>.Create(device, _hostLengths);
        _native = new PattnPrefillParams
        {
            struct_size = (uint)sizeof(PattnPrefillParams),
            mask_mode = (PattnMaskMode)(int)Mask,
            q = AttentionCalls.Describe(_q),
            k = AttentionCalls.Describe(_k),
            v = AttentionCalls.Describe(_v),
            o = AttentionCalls.Describe(_o),
            q_valid_lens = Lengths == LengthsOn.Host
                ? AttentionCalls.HostLengths((int*)Marshal.UnsafeAddrOfPinnedArrayElement(_hostLengths, 0), Rows)
                : AttentionCalls.BufferLengths(_deviceLengths),
        };
        CheckOneCall(SequencePrefill);
        CheckOneCall(NativeCall);
        WarmUp(SequencePrefill);
        WarmUp(NativeCall);
    }

    // Half a second of calls, drained every 256, before anything is timed: the
    // JIT promotes a method to optimized code only after its first 30 calls and
    // a 100 ms pause in new compilations, later than a short run's first samples.
    private void WarmUp(Action call)
    {
        var clock = Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 500)
        {
            Drain();
            for (int i = 0; i < CallsPerIteration; i++)
            {
                call();
            }
        }
        Drain();
    }

    [IterationSetup]
    public void Drain() => _stream?.Synchronize();

    [Benchmark(Baseline = true, Description = "Attention.SequencePrefill")]
    public void SequencePrefill()
    {
        if (Lengths == LengthsOn.Host)
        {
            Attention.SequencePrefill(_q, _k, _v, _o, _hostLengths, Mask, null, _options, _stream);
        }
        else
        {
            Attention.SequencePrefill(_q, _k, _v, _o, _deviceLengths, null, Mask, null, _options, _stream);
        }
    }

    [Benchmark(Description = "pattn_sequence_prefill")]
    public unsafe void NativeCall()
    {
        fixed (PattnPrefillParams* parameters = &_native)
        {
            PaddedAttentionLibrary.ThrowIfFailed(NativeMethods.pattn_sequence_prefill(parameters, _stream is null ? null : (void*)_stream.Handle));
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Drain();
        _o.Dispose();
        _v.Dispose();
        _k.Dispose();
        _q.Dispose();
        _deviceLengths.Dispose();
        _stream?.Dispose();
    }

    // The timed call must do the work: output poisoned with NaN, one call, then
    // every real row finite and every padding row 0 (docs/semantics.md).
    private void CheckOneCall(Action call)
    {
        _o.Buffer.FillBytes(0xFF);
        call();
        Drain();
        var output = _o.Buffer.ToArray();
        int rowElements = QoHeads * HeadDim;
        for (int b = 0; b < Rows; b++)
        {
            for (int t = 0; t < SeqLen; t++)
            {
                var row = output.AsSpan(((b * SeqLen) + t) * rowElements, rowElements);
                bool real = t < _hostLengths[b];
                foreach (var x in row)
                {
                    float value = (float)x;
                    if (real ? !float.IsFinite(value) : value != 0f)
                    {
                        throw new InvalidOperationException(
                            $"{call.Method.Name}: row {b} token {t} ({(real ? "real" : "padding")}, length {_hostLengths[b]}) holds {value}");
                    }
                }
            }
        }
    }

    // Random values (never zeros), one block of 64K repeated: the host time does
    // not depend on the values, and filling 4096-row tensors element by element
    // would dominate a short run.
    private static DeviceTensor<BFloat16> RandomTensor(Device device, Random random, params long[] shape)
    {
        var block = new BFloat16[1 << 16];
        for (int i = 0; i < block.Length; i++)
        {
            block[i] = (BFloat16)(random.NextSingle() - 0.5f);
        }
        var tensor = DeviceTensor<BFloat16>.Allocate(device, shape);
        long length = tensor.Buffer.Length;
        for (long offset = 0; offset < length; offset += block.Length)
        {
            tensor.Buffer.CopyFrom(block.AsSpan(0, (int)Math.Min(block.Length, length - offset)), offset);
        }
        return tensor;
    }
}

/// <summary>One row of the closing table.</summary>
internal sealed record HostTimeRow(int Rows, LengthsOn Lengths, string Method, double WallMicroseconds, double? CpuMicroseconds, long? AllocatedBytes,
    double? SingleCallMicroseconds = null);

internal static class Program
{
    // Targets for the public call: 5 us up to 256 rows, 15 us above (4096 rows).
    private static double TargetMicroseconds(int rows) => rows <= 256 ? 5.0 : 15.0;

    private static int Main(string[] args)
    {
        bool quick = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--device" when i + 1 < args.Length:
                    PrefillHostTime.OnCpu = args[++i] == "cpu";
                    break;
                case "--rows" when i + 1 < args.Length:
                    PrefillHostTime.RowCounts = args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
                    break;
                default:
                    Console.Error.WriteLine($"unknown argument {args[i]} (--quick, --rows N,N,..., --device cuda|cpu)");
                    return 2;
            }
        }
        Console.WriteLine($"native library: {PaddedAttentionLibrary.LoadedFrom} ({PaddedAttentionLibrary.Version})");
        if (Device.CudaDeviceCount == 0 && !PrefillHostTime.OnCpu)
        {
            Console.WriteLine("no CUDA device: the GPU path's host time cannot be measured here");
            return 0;
        }
        Console.WriteLine($"device: {(PrefillHostTime.OnCpu ? "the CPU (harness smoke test: these times include the attention itself)" : Device.Cuda(0).GetProperties().Name)}; rows of {PrefillHostTime.SeqLen} tokens, " +
            $"{PrefillHostTime.QoHeads}/{PrefillHostTime.KvHeads} heads x {PrefillHostTime.HeadDim}, bf16, {PrefillHostTime.Mask}");
        var rows = quick ? RunQuick() : RunBenchmarkDotNet();
        PrintTable(rows, quick);
        return 0;
    }

    private static List<HostTimeRow> RunBenchmarkDotNet()
    {
        var job = Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithInvocationCount(PrefillHostTime.CallsPerIteration)
            .WithUnrollFactor(1)
            .WithWarmupCount(5)
            .WithIterationCount(20);
        var config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddLogger(ConsoleLogger.Default)
            .AddExporter(MarkdownExporter.GitHub)
            .WithArtifactsPath(Path.Combine(Environment.GetEnvironmentVariable("OUT") ?? ".", "BenchmarkDotNet.Artifacts"))
            .WithOptions(ConfigOptions.DisableLogFile);
        Summary summary = BenchmarkRunner.Run<PrefillHostTime>(config);
        var rows = new List<HostTimeRow>();
        foreach (var report in summary.Reports)
        {
            var parameters = report.BenchmarkCase.Parameters;
            rows.Add(new HostTimeRow(
                (int)parameters["Rows"], (LengthsOn)parameters["Lengths"],
                report.BenchmarkCase.Descriptor.WorkloadMethod.Name,
                (report.ResultStatistics?.Median ?? double.NaN) / 1000.0, null,
                report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase)));
        }
        return rows;
    }

    // Stopwatch and the thread's CPU clock around 256 calls (after draining the
    // stream), median over 20 samples; then single calls on a drained stream,
    // median over 200.
    private static List<HostTimeRow> RunQuick()
    {
        var rows = new List<HostTimeRow>();
        foreach (int rowCount in PrefillHostTime.RowCounts)
        {
            foreach (var lengths in new[] { LengthsOn.Host, LengthsOn.Device })
            {
                var bench = new PrefillHostTime { Rows = rowCount, Lengths = lengths };
                bench.Setup();
                foreach (var (name, call) in new (string, Action)[] { (nameof(bench.SequencePrefill), bench.SequencePrefill), (nameof(bench.NativeCall), bench.NativeCall) })
                {
                    var wall = new double[20];
                    var cpu = new double[20];
                    long allocated = 0;
                    for (int s = 0; s < wall.Length; s++)
                    {
                        bench.Drain();
                        long bytes0 = GC.GetAllocatedBytesForCurrentThread();
                        double cpu0 = ThreadCpuSeconds();
                        long t0 = Stopwatch.GetTimestamp();
                        for (int i = 0; i < PrefillHostTime.CallsPerIteration; i++)
                        {
                            call();
                        }
                        long t1 = Stopwatch.GetTimestamp();
                        double cpu1 = ThreadCpuSeconds();
                        allocated = (GC.GetAllocatedBytesForCurrentThread() - bytes0) / PrefillHostTime.CallsPerIteration;
                        wall[s] = (t1 - t0) * 1e6 / Stopwatch.Frequency / PrefillHostTime.CallsPerIteration;
                        cpu[s] = (cpu1 - cpu0) * 1e6 / PrefillHostTime.CallsPerIteration;
                    }
                    // One call at a time on a drained stream: the host's own cost,
                    // without waiting on a GPU that fell behind a burst of calls.
                    var single = new double[200];
                    for (int s = 0; s < single.Length; s++)
                    {
                        bench.Drain();
                        long t0 = Stopwatch.GetTimestamp();
                        call();
                        single[s] = (Stopwatch.GetTimestamp() - t0) * 1e6 / Stopwatch.Frequency;
                    }
                    rows.Add(new HostTimeRow(rowCount, lengths, name, Median(wall), Median(cpu), allocated, Median(single)));
                }
                bench.Cleanup();
            }
        }
        return rows;
    }

    private static double Median(double[] values)
    {
        var sorted = values.OrderBy(x => x).ToArray();
        return sorted[sorted.Length / 2];
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    private static double ThreadCpuSeconds()
    {
        const int ClockThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID (Linux)
        return ClockGetTime(ClockThreadCpuTime, out var time) == 0 ? time.Seconds + (time.Nanoseconds * 1e-9) : double.NaN;
    }

    private static void PrintTable(List<HostTimeRow> rows, bool quick)
    {
        Console.WriteLine();
        Console.WriteLine($"host time per call ({(quick ? "--quick: median of 20 x 256 calls, wall and thread CPU; 1 call: median of 200 single calls on a drained stream" : "BenchmarkDotNet median over iterations, in-process, 256 calls per iteration on a drained stream")}), microseconds");
        Console.WriteLine($"rows  lengths  {"Attention.SequencePrefill",38}  {"pattn_sequence_prefill",38}  C# layer  alloc B/call  target  verdict");
        foreach (var group in rows.GroupBy(r => (r.Rows, r.Lengths)).OrderBy(g => g.Key.Rows).ThenBy(g => g.Key.Lengths))
        {
            var managed = group.First(r => r.Method == nameof(PrefillHostTime.SequencePrefill));
            var native = group.First(r => r.Method == nameof(PrefillHostTime.NativeCall));
            double target = TargetMicroseconds(group.Key.Rows);
            string Time(HostTimeRow r) => r.CpuMicroseconds is double c
                ? string.Create(CultureInfo.InvariantCulture, $"{r.WallMicroseconds:F2} (cpu {c:F2}, 1 call {r.SingleCallMicroseconds:F2})")
                : string.Create(CultureInfo.InvariantCulture, $"{r.WallMicroseconds:F2}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{group.Key.Rows,4}  {group.Key.Lengths,-7}  {Time(managed),38}  {Time(native),38}  {managed.WallMicroseconds - native.WallMicroseconds,8:F2}  {managed.AllocatedBytes,12}  {target,6:F0}  {(PrefillHostTime.OnCpu ? "n/a (CPU)" : managed.WallMicroseconds <= target ? "met" : "MISSED")}"));
        }
    }
}
