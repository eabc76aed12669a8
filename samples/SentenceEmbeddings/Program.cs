// samples/SentenceEmbeddings — the main demo: sentence embeddings from
// all-MiniLM-L6-v2 with ONNX Runtime, once as shipped ("stock") and once with
// each layer's attention replaced by com.paddedattention.SequencePrefill
// (src/PaddedAttention.Onnx rewrites the graph, native/ort/ runs the operator
// on libpaddedattn). Prints the per-sentence cosine similarity of the two, a
// similarity matrix of the sentences, and the time of each on a larger
// mixed-length batch; PASS when every cosine is >= 0.9999.
//
//   dotnet run --project samples/SentenceEmbeddings [-- --batch 256 --seq 128 --runs 5 --cuda --profile]
//
// --profile: one more run of the large batch under ONNX Runtime's profiler
// for each model; prints the time per operator type and the share of the
// attention nodes (those the rewrite replaced; SequencePrefill in ours).
using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using PaddedAttention.Onnx;
using SentenceEmbeddings;

int batchSize = 256, padTo = 128, runs = 5;
bool cuda = false, profile = false;
for (int i = 0; i < args.Length; ++i)
{
    switch (args[i])
    {
        case "--batch": batchSize = int.Parse(args[++i]); break;
        case "--seq": padTo = int.Parse(args[++i]); break;
        case "--runs": runs = int.Parse(args[++i]); break;
        case "--cuda": cuda = true; break;
        case "--profile": profile = true; break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}

string[] sentences =
[
    "Hello!",
    "The cat sits on the mat.",
    "A kitten is resting on a rug.",
    "Stock markets fell sharply after the central bank raised interest rates again.",
    "Attention kernels for padded batches skip the work that padding tokens would otherwise cost, " +
    "which matters most when a few long documents share a batch with many short queries.",
    "Paris is the capital of France.",
    "What is the capital city of France?",
    "",
];

byte[] stockModel = MiniLmModel.LoadOnnx();
var rewrite = AttentionRewriter.Rewrite(stockModel, new AttentionRewriteOptions { CastToFloat16 = cuda });
Console.WriteLine($"all-MiniLM-L6-v2: {rewrite.Layers.Count} attention subgraphs replaced by {AttentionRewriter.Domain}.{AttentionRewriter.OpType} " +
                  $"({rewrite.Layers[0].NumHeads} heads x head_dim {rewrite.Layers[0].HeadDim}, scale {rewrite.Layers[0].Scale:G6}, mask '{rewrite.Layers[0].Mask}')");

string operatorLibrary = OperatorLibrary.Locate();
SessionOptions MakeOptions(bool withOperator)
{
    var options = new SessionOptions();
    if (cuda) options.AppendExecutionProvider_CUDA(0);
    if (withOperator) options.RegisterCustomOpLibrary(operatorLibrary);
    return options;
}
using var stockOptions = MakeOptions(false);
using var oursOptions = MakeOptions(true);
using var stock = new InferenceSession(stockModel, stockOptions);
using var ours = new InferenceSession(rewrite.ToBytes(), oursOptions);
Console.WriteLine($"ONNX Runtime {OrtEnv.Instance().GetVersionString()}, execution provider: {(cuda ? "CUDA (f16 attention)" : "CPU")}, operator library {operatorLibrary}");

// Per-sentence agreement on one mixed-length batch.
var tokens = MiniLmModel.Tokenize(sentences);
var expected = MiniLmModel.Embed(stock, tokens);
var actual = MiniLmModel.Embed(ours, tokens);
double threshold = cuda ? 0.999 : 0.9999, worst = 1.0;
Console.WriteLine();
Console.WriteLine($"{"tokens",6}  {"cosine(stock, ours)",20}  sentence");
for (int i = 0; i < sentences.Length; ++i)
{
    double cos = MiniLmModel.Cosine(expected[i], actual[i]);
    worst = Math.Min(worst, cos);
    string text = sentences[i].Length > 60 ? sentences[i][..57] + "..." : sentences[i];
    Console.WriteLine($"{tokens.Length(i),6}  {cos,20:F7}  \"{text}\"");
}

// Similarity of the sentences to each other (our embeddings).
Console.WriteLine();
Console.WriteLine("similarity matrix (ours):");
Console.Write("     ");
for (int j = 0; j < sentences.Length; ++j) Console.Write($"{j,6}");
Console.WriteLine();
for (int i = 0; i < sentences.Length; ++i)
{
    Console.Write($"{i,5}");
    for (int j = 0; j < sentences.Length; ++j) Console.Write($"{MiniLmModel.Cosine(actual[i], actual[j]),6:F2}");
    Console.WriteLine();
}

// Throughput on a larger batch: the sentences repeated, padded to padTo tokens.
var big = MiniLmModel.Tokenize(Enumerable.Range(0, batchSize).Select(i => sentences[i % sentences.Length]).ToArray(), padTo);
int realTokens = Enumerable.Range(0, big.Batch).Sum(big.Length);
// Stock and ours alternate, so that a busy machine slows both alike; the
// fastest run of each is reported, and the median.
foreach (var session in new[] { stock, ours })
    using (MiniLmModel.RunHidden(session, big)) { }  // warm-up
var stockTimes = new List<double>();
var oursTimes = new List<double>();
for (int r = 0; r < runs; ++r)
    foreach (var (session, times) in new[] { (stock, stockTimes), (ours, oursTimes) })
    {
        var watch = Stopwatch.StartNew();
        using (MiniLmModel.RunHidden(session, big)) { }
        times.Add(watch.Elapsed.TotalMilliseconds);
    }
static double Median(List<double> x) { var s = x.Order().ToList(); return s[s.Count / 2]; }
Console.WriteLine();
Console.WriteLine($"batch {big.Batch} x {big.SeqLen} tokens ({realTokens} real, {100.0 * realTokens / (big.Batch * big.SeqLen):F0}%), {runs} runs each, alternating:");
Console.WriteLine($"  {"",-22} {"fastest",9} {"median",9}");
Console.WriteLine($"  {"stock ONNX Runtime",-22} {stockTimes.Min(),9:F1} {Median(stockTimes),9:F1} ms");
Console.WriteLine($"  {"with SequencePrefill",-22} {oursTimes.Min(),9:F1} {Median(oursTimes),9:F1} ms   ({stockTimes.Min() / oursTimes.Min():F2}x stock's throughput, fastest runs)");

if (profile)
{
    var attentionNodes = rewrite.Layers.SelectMany(l => l.ReplacedNodes).ToHashSet();
    foreach (var (label, withOperator) in new[] { ("stock", false), ("with SequencePrefill", true) })
    {
        using var options = MakeOptions(withOperator);
        // The prefix first: EnableProfiling starts the profiler with the prefix it has then.
        options.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), $"sentence-embeddings-{(withOperator ? "ours" : "stock")}");
        options.EnableProfiling = true;
        using var session = new InferenceSession(withOperator ? rewrite.ToBytes() : stockModel, options);
        using (MiniLmModel.RunHidden(session, big)) { }  // warm-up, also profiled: the last run is read
        using (MiniLmModel.RunHidden(session, big)) { }
        string file = session.EndProfiling();
        Console.WriteLine();
        Console.WriteLine($"profile ({label}, {file}), last run:");
        Console.WriteLine(ProfileSummary.Read(file, attentionNodes));
    }
}

bool pass = worst >= threshold;
Console.WriteLine();
Console.WriteLine($"{(pass ? "PASS" : "FAIL")}: lowest cosine similarity {worst:F7} (threshold {threshold})");
return pass ? 0 : 1;
