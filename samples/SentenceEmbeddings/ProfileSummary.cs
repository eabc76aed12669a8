using System.Text;
using System.Text.Json;

namespace SentenceEmbeddings;

/// <summary>Time per operator type of the last model run in an ONNX Runtime profile
/// (the JSON array of trace events that SessionOptions.EnableProfiling writes).</summary>
public static class ProfileSummary
{
    /// <summary>
    /// Attention time: nodes named in <paramref name="attentionNodes"/> (the stock nodes the
    /// rewrite replaces), nodes ORT fused out of them (their name begins with one of those
    /// names), Softmax, and the SequencePrefill / Attention / MultiHeadAttention operators.
    /// </summary>
    public static string Read(string path, IReadOnlySet<string> attentionNodes)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var events = document.RootElement.EnumerateArray().ToList();
        // The last model_run event bounds the nodes of the last run.
        var run = events.Last(e => e.GetProperty("name").GetString() == "model_run");
        long runStart = run.GetProperty("ts").GetInt64(), runEnd = runStart + run.GetProperty("dur").GetInt64();
        var byOp = new Dictionary<string, long>();
        long total = 0, attention = 0;
        foreach (var e in events)
        {
            if (e.GetProperty("cat").GetString() != "Node") continue;
            string name = e.GetProperty("name").GetString() ?? "";
            if (!name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
            long ts = e.GetProperty("ts").GetInt64(), dur = e.GetProperty("dur").GetInt64();
            if (ts < runStart || ts > runEnd) continue;
            string node = name[..^"_kernel_time".Length];
            string op = e.GetProperty("args").TryGetProperty("op_name", out var o) ? o.GetString() ?? "?" : "?";
            byOp[op] = byOp.GetValueOrDefault(op) + dur;
            total += dur;
            if (op is "SequencePrefill" or "Softmax" or "Attention" or "MultiHeadAttention"
                || attentionNodes.Contains(node) || attentionNodes.Any(a => node.StartsWith(a + "_", StringComparison.Ordinal)))
                attention += dur;
        }
        var text = new StringBuilder();
        text.AppendLine($"  model run {(runEnd - runStart) / 1000.0:F1} ms, node time {total / 1000.0:F1} ms, attention {attention / 1000.0:F1} ms ({100.0 * attention / Math.Max(total, 1):F1}%)");
        foreach (var (op, dur) in byOp.OrderByDescending(p => p.Value).Take(10))
            text.AppendLine($"    {op,-24} {dur / 1000.0,9:F1} ms  {100.0 * dur / Math.Max(total, 1),5:F1}%");
        return text.ToString().TrimEnd();
    }
}
