// Benchmark charts: reads the JSON that bench/python/bench_prefill.py or
// bench/python/bench_decode.py writes and saves a PNG next to it (same name,
// .png): for every case, one bar per peer giving ours / peer (throughput ratio
// for prefill, time ratio peer / ours for decode), so 1 is parity and above 1
// means ours is faster. Peers that did not run in a case are left out of it.
//
//   dotnet run --project bench/PaddedAttention.Charts -- [--peers a,b] bench_prefill.json [more.json ...]
// --peers keeps only the named peers (e.g. fa2,cudnn-dense), so one run's
// full JSON gives the chart of the peers that matter without a filtered copy.
using System.Globalization;
using System.Text.Json;
using ScottPlot;

HashSet<string>? onlyPeers = null;
var paths = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--peers" && i + 1 < args.Length)
        onlyPeers = new HashSet<string>(args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    else
        paths.Add(args[i]);
}
if (paths.Count == 0)
{
    Console.Error.WriteLine("usage: PaddedAttention.Charts [--peers a,b] BENCH.json [BENCH.json ...]  (writes BENCH.png beside each)");
    return 2;
}
foreach (string path in paths)
{
    var chart = BenchmarkChart.Read(path, onlyPeers);
    string png = Path.ChangeExtension(path, ".png");
    chart.Save(png);
    Console.WriteLine($"{png}: {chart.Cases.Count} cases, peers {string.Join(", ", chart.Peers)}");
}
return 0;

/// <summary>Ratios ours / peer per case, from either benchmark's JSON.</summary>
sealed record BenchmarkChart(string Title, string YLabel, List<string> Cases, List<string> Peers, Dictionary<(string Case, string Peer), double> Ratios)
{
    public static BenchmarkChart Read(string path, IReadOnlySet<string>? onlyPeers = null)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var root = document.RootElement;
        var cases = new List<string>();
        var peers = new List<string>();
        var ratios = new Dictionary<(string, string), double>();
        void Add(string label, string peer, double ratio)
        {
            if (!double.IsFinite(ratio) || ratio <= 0) return;
            if (onlyPeers != null && !onlyPeers.Contains(peer)) return;
            if (!cases.Contains(label)) cases.Add(label);
            if (!peers.Contains(peer)) peers.Add(peer);
            ratios[(label, peer)] = ratio;
        }
        string device = Text(root, "gpu") ?? Text(root, "device") ?? "unknown device";
        string date = Text(root, "date") ?? "";
        if (root.TryGetProperty("results", out var results))
        {
            // bench_prefill.py: results[].peers.{name: {tflops} | {na}}; "ours" is the reference.
            foreach (var result in results.EnumerateArray())
            {
                string label = Text(result, "case") ?? "?";
                var byPeer = result.GetProperty("peers");
                if (!byPeer.TryGetProperty("ours", out var ours) || !ours.TryGetProperty("tflops", out var oursTflops)) continue;
                foreach (var peer in byPeer.EnumerateObject())
                {
                    if (peer.Name.StartsWith("ours", StringComparison.Ordinal)) continue;
                    if (peer.Value.TryGetProperty("tflops", out var tflops))
                        Add(label, peer.Name, oursTflops.GetDouble() / tflops.GetDouble());
                }
            }
            return new BenchmarkChart($"Prefill, {device} {date}".Trim(), "ours / peer (TFLOP/s ratio)", cases, peers, ratios);
        }
        if (root.TryGetProperty("cases", out var decodeCases))
        {
            // bench_decode.py: cases[].{paddedattn: {us}, sdpa_flash|sdpa_cudnn|flex: {us} | {error}};
            // the varlen suite names its cases, whose batch x cache repeats (b32 x 4096 at d80 and d96).
            foreach (var result in decodeCases.EnumerateArray())
            {
                string label = Text(result, "name") ?? string.Create(CultureInfo.InvariantCulture,
                    $"b{result.GetProperty("batch").GetInt32()} x {result.GetProperty("cache_len").GetInt32()}");
                if (!result.TryGetProperty("paddedattn", out var ours) || !ours.TryGetProperty("us", out var oursUs)) continue;
                foreach (var peer in result.EnumerateObject())
                {
                    if (peer.Name.StartsWith("paddedattn", StringComparison.Ordinal) || peer.Value.ValueKind != JsonValueKind.Object) continue;
                    if (peer.Value.TryGetProperty("us", out var us) && us.ValueKind == JsonValueKind.Number)
                        Add(label, peer.Name, us.GetDouble() / oursUs.GetDouble());
                }
            }
            return new BenchmarkChart($"Decode, {device} {date}".Trim(), "peer time / ours (speedup)", cases, peers, ratios);
        }
        throw new InvalidDataException($"{path}: neither bench_prefill.py's 'results' nor bench_decode.py's 'cases'");
    }

    static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public void Save(string png)
    {
        if (Cases.Count == 0) throw new InvalidDataException("no case has both ours and a peer");
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double groupWidth = 0.8, barWidth = groupWidth / Math.Max(Peers.Count, 1);
        var bars = new List<Bar>();
        for (int c = 0; c < Cases.Count; c++)
        {
            for (int p = 0; p < Peers.Count; p++)
            {
                if (!Ratios.TryGetValue((Cases[c], Peers[p]), out double ratio)) continue;
                bars.Add(new Bar
                {
                    Position = c - groupWidth / 2 + barWidth * (p + 0.5),
                    Value = ratio,
                    Size = barWidth * 0.9,
                    FillColor = palette.GetColor(p),
                    Label = ratio.ToString("0.00", CultureInfo.InvariantCulture),
                });
            }
        }
        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 10;
        var parity = plot.Add.HorizontalLine(1.0);
        parity.LinePattern = LinePattern.Dashed;
        parity.Color = Colors.Black;
        for (int p = 0; p < Peers.Count; p++)
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = "vs " + Peers[p], FillColor = palette.GetColor(p) });
        plot.ShowLegend(Edge.Right);
        var ticks = Enumerable.Range(0, Cases.Count).Select(i => new Tick(i, Cases[i])).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 30;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 150; // room for the rotated case names
        plot.Axes.Margins(bottom: 0, top: 0.15);
        plot.Title(Title);
        plot.YLabel(YLabel);
        plot.SavePng(png, Math.Max(900, 140 * Cases.Count), 600);
    }
}
