using Microsoft.ML.OnnxRuntime;
using SentenceEmbeddings;

namespace PaddedAttention.Onnx.Tests;

/// <summary>The rewritten all-MiniLM-L6-v2 against stock ONNX Runtime (both f32 on the CPU).</summary>
[TestClass]
public sealed class EmbeddingTests
{
    // Sentence embeddings agree to a cosine of 0.9999; hidden states of real tokens to
    // 2e-4 absolute (the values are O(1): the layers end in LayerNorm), which f32 with a
    // different summation order in attention easily meets and a wrong mask does not.
    const double MinCosine = 0.9999;
    const float HiddenTolerance = 2e-4f;

    static readonly string[] Short =
    [
        "Hi.", "The cat sits on the mat.", "Dogs bark.", "Is it raining?", "Paris is in France.",
        "Tea or coffee?", "A kitten is resting on a rug.", "Numbers: 1, 2, 3.", "Ok", "Good morning, everyone!",
        "Where is the station?", "Red.", "Two words", "The quick brown fox jumps over the lazy dog.", "Fine.",
    ];

    const string Long =
        "Padded batches are what an embedding service sees: a long document arrives together with many short " +
        "queries, every sequence is padded to the longest one, and attention over the padding is wasted work " +
        "unless the kernel is told the real length of each row; the model's own attention mask carries exactly " +
        "that information, as one run of ones followed by zeros in every row of the batch, which is why the " +
        "rewritten graph passes it to the operator unchanged.";

    static void AssertAgree(TokenBatch tokens)
    {
        using var stockHidden = MiniLmModel.RunHidden(ModelFixture.StockSession, tokens);
        using var oursHidden = MiniLmModel.RunHidden(ModelFixture.OursSession, tokens);
        var expected = stockHidden.GetTensorDataAsSpan<float>();
        var actual = oursHidden.GetTensorDataAsSpan<float>();
        Assert.AreEqual(expected.Length, actual.Length);
        int dim = expected.Length / Math.Max(tokens.Batch * tokens.SeqLen, 1);
        for (int b = 0; b < tokens.Batch; ++b)
            for (int j = 0; j < tokens.Length(b); ++j)
                for (int d = 0; d < dim; ++d)
                {
                    int i = (b * tokens.SeqLen + j) * dim + d;
                    Assert.IsTrue(float.IsFinite(actual[i]) && Math.Abs(actual[i] - expected[i]) <= HiddenTolerance,
                        $"row {b} token {j} dim {d}: ours {actual[i]}, stock {expected[i]}");
                }
        var e = MiniLmModel.Embed(ModelFixture.StockSession, tokens);
        var a = MiniLmModel.Embed(ModelFixture.OursSession, tokens);
        for (int b = 0; b < tokens.Batch; ++b)
            if (tokens.Length(b) > 0)
                Assert.IsGreaterThanOrEqualTo(MinCosine, MiniLmModel.Cosine(e[b], a[b]), $"row {b}");
    }

    [TestMethod]
    public void OneLongSentenceAndManyShortOnes()
    {
        var sentences = Short.Take(7).Append(Long).Concat(Short.Skip(7)).ToArray();
        var tokens = MiniLmModel.Tokenize(sentences);
        Assert.IsGreaterThan(80, tokens.SeqLen);
        Assert.IsLessThan(8, tokens.Length(0));
        AssertAgree(tokens);
    }

    [TestMethod]
    public void PaddedToAFixedLength()
    {
        AssertAgree(MiniLmModel.Tokenize(Short, padTo: 128));
    }

    [TestMethod]
    public void EmptyAndOneWordSentences()
    {
        var tokens = MiniLmModel.Tokenize(["", "a", "", "Hello world, this is a longer one."]);
        Assert.AreEqual(2, tokens.Length(0));  // [CLS] [SEP]
        AssertAgree(tokens);
    }

    [TestMethod]
    public void OneTokenSequences()
    {
        // [CLS] alone: a batch of one with seq 1, and a seq-1 batch of several rows.
        AssertAgree(new TokenBatch(1, 1, [101], [0], [1]));
        AssertAgree(new TokenBatch(3, 1, [101, 7592, 102], [0, 0, 0], [1, 1, 1]));
    }

    [TestMethod]
    public void AnAllPaddingRowLeavesTheOthersAlone()
    {
        // Row 1 has no real token (mask all zero): stock ORT then attends uniformly over the
        // padding, the operator gives zeros; the other rows must agree and nothing is NaN.
        var tokens = MiniLmModel.Tokenize(["The cat sits on the mat.", "x", "Dogs bark loudly at night."]);
        Array.Fill(tokens.AttentionMask, 0L, tokens.SeqLen, tokens.SeqLen);
        Assert.AreEqual(0, tokens.Length(1));
        AssertAgree(tokens);
        using var hidden = MiniLmModel.RunHidden(ModelFixture.OursSession, tokens);
        foreach (float x in hidden.GetTensorDataAsSpan<float>()) Assert.IsTrue(float.IsFinite(x));
    }

    [TestMethod]
    public void PaddingTokensDoNotChangeTheRealOnes()
    {
        // The same sentences with garbage ids in the padding: ours gives the same hidden states.
        var tokens = MiniLmModel.Tokenize(Short.Take(5).ToArray(), padTo: 40);
        var garbage = tokens with { InputIds = (long[])tokens.InputIds.Clone() };
        var rng = new Random(5);
        for (int i = 0; i < garbage.InputIds.Length; ++i)
            if (garbage.AttentionMask[i] == 0) garbage.InputIds[i] = rng.Next(1000, 30000);
        using var a = MiniLmModel.RunHidden(ModelFixture.OursSession, tokens);
        using var b = MiniLmModel.RunHidden(ModelFixture.OursSession, garbage);
        var x = a.GetTensorDataAsSpan<float>();
        var y = b.GetTensorDataAsSpan<float>();
        int dim = x.Length / (tokens.Batch * tokens.SeqLen);
        for (int r = 0; r < tokens.Batch; ++r)
            for (int j = 0; j < tokens.Length(r); ++j)
                for (int d = 0; d < dim; ++d)
                {
                    int i = (r * tokens.SeqLen + j) * dim + d;
                    Assert.AreEqual(x[i], y[i], 1e-5f, $"row {r} token {j}");
                }
    }
}
