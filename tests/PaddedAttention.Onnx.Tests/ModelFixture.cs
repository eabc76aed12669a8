using Microsoft.ML.OnnxRuntime;
using Onnx;
using PaddedAttention.Onnx;
using SentenceEmbeddings;

namespace PaddedAttention.Onnx.Tests;

/// <summary>all-MiniLM-L6-v2, stock and rewritten, each in one session for the whole run.</summary>
public static class ModelFixture
{
    private static readonly Lazy<byte[]> StockBytes = new(MiniLmModel.LoadOnnx);
    private static readonly Lazy<AttentionRewriteResult> Rewritten = new(() => AttentionRewriter.Rewrite(StockBytes.Value));
    private static readonly Lazy<InferenceSession> StockSessionLazy = new(() => new InferenceSession(StockBytes.Value));
    private static readonly Lazy<InferenceSession> OursSessionLazy = new(() =>
    {
        using var options = OperatorOptions();
        return new InferenceSession(Rewritten.Value.ToBytes(), options);
    });

    public static byte[] Stock => StockBytes.Value;
    public static ModelProto StockModel => ModelProto.Parser.ParseFrom(StockBytes.Value);
    public static AttentionRewriteResult Rewrite => Rewritten.Value;
    public static InferenceSession StockSession => StockSessionLazy.Value;
    public static InferenceSession OursSession => OursSessionLazy.Value;

    /// <summary>Session options with libpaddedattn_ort registered.</summary>
    public static SessionOptions OperatorOptions()
    {
        // The refusals the tests provoke are checked through the exceptions, not ORT's log.
        var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
        options.RegisterCustomOpLibrary(OperatorLibrary.Locate());
        return options;
    }
}
