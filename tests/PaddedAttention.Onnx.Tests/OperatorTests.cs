using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using PaddedAttention.Onnx;

namespace PaddedAttention.Onnx.Tests;

/// <summary>com.paddedattention.SequencePrefill alone, in one-node models on ONNX Runtime's CPU
/// provider: results against a float64 reference, and bad inputs refused with ORT errors.</summary>
[TestClass]
public sealed class OperatorTests
{
    // ------------------------------------------------------------ model --

    enum Valid { None, MaskInt64, MaskInt32, LengthsInt32 }

    static ValueInfoProto Tensor(string name, TensorProto.Types.DataType type, params string[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    static byte[] OneNodeModel(TensorProto.Types.DataType type, Valid valid, Dictionary<string, object> attributes)
    {
        var node = new NodeProto { Name = "attention", OpType = AttentionRewriter.OpType, Domain = AttentionRewriter.Domain };
        node.Input.Add(new[] { "q", "k", "v" });
        if (valid != Valid.None) node.Input.Add("valid");
        node.Output.Add("o");
        foreach (var (name, value) in attributes)
            node.Attribute.Add(value is float f
                ? new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = f }
                : new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = Convert.ToInt64(value) });
        var graph = new GraphProto { Name = "one_node" };
        graph.Node.Add(node);
        graph.Input.Add(Tensor("q", type, "b", "s", "hq"));
        graph.Input.Add(Tensor("k", type, "b", "t", "hk"));
        graph.Input.Add(Tensor("v", type, "b", "t", "hk"));
        if (valid == Valid.MaskInt64) graph.Input.Add(Tensor("valid", TensorProto.Types.DataType.Int64, "b", "t"));
        if (valid == Valid.MaskInt32) graph.Input.Add(Tensor("valid", TensorProto.Types.DataType.Int32, "b", "t"));
        if (valid == Valid.LengthsInt32) graph.Input.Add(Tensor("valid", TensorProto.Types.DataType.Int32, "b"));
        graph.Output.Add(Tensor("o", type, "b", "s", "hq"));
        var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "PaddedAttention.Onnx.Tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = AttentionRewriter.Domain, Version = 1 });
        return model.ToByteArray();
    }

    static InferenceSession Session(byte[] model)
    {
        using var options = ModelFixture.OperatorOptions();
        return new InferenceSession(model, options);
    }

    // -------------------------------------------------------- reference --

    /// <summary>softmax(scale · q·kᵀ over the visible keys)·v in float64, [b, s, hq·d] layout.
    /// Query i of row b (real rows only) sees key j when both are real and, for causal modes,
    /// j ≤ i + kvLen − qLen counted within the real rows (here q and k share lengths).</summary>
    static double[] Reference(float[] q, float[] k, float[] v, int batch, int seq, int hq, int hkv, int d,
                              int[] lengths, int maskMode, double scale)
    {
        var o = new double[batch * seq * hq * d];
        bool left = maskMode is 1 or 3, causal = maskMode is 1 or 2;
        for (int b = 0; b < batch; ++b)
        {
            int len = lengths[b], first = left ? seq - len : 0;
            for (int h = 0; h < hq; ++h)
            {
                int kh = h / (hq / hkv);
                for (int i = 0; i < len; ++i)
                {
                    var scores = new List<(int J, double S)>();
                    for (int j = 0; j < len && (!causal || j <= i); ++j)
                    {
                        double s = 0;
                        for (int x = 0; x < d; ++x)
                            s += (double)q[((b * seq + first + i) * hq + h) * d + x] * k[((b * seq + first + j) * hkv + kh) * d + x];
                        scores.Add((j, s * scale));
                    }
                    double max = scores.Max(p => p.S), sum = scores.Sum(p => Math.Exp(p.S - max));
                    foreach (var (j, s) in scores)
                    {
                        double w = Math.Exp(s - max) / sum;
                        for (int x = 0; x < d; ++x)
                            o[((b * seq + first + i) * hq + h) * d + x] += w * v[((b * seq + first + j) * hkv + kh) * d + x];
                    }
                }
            }
        }
        return o;
    }

    /// <summary>Random values in real rows, NaN / ±Inf in padding rows (which must not leak).</summary>
    static float[] Fill(Random rng, int batch, int seq, int width, int[] lengths, bool left)
    {
        var data = new float[batch * seq * width];
        for (int b = 0; b < batch; ++b)
            for (int s = 0; s < seq; ++s)
            {
                bool real = left ? s >= seq - lengths[b] : s < lengths[b];
                for (int x = 0; x < width; ++x)
                    data[(b * seq + s) * width + x] = real ? (float)(rng.NextDouble() * 4 - 2)
                        : (x % 3) switch { 0 => float.NaN, 1 => float.PositiveInfinity, _ => float.NegativeInfinity };
            }
        return data;
    }

    static OrtValue ValidInput(Valid valid, int batch, int seq, int[] lengths, bool left)
    {
        if (valid == Valid.LengthsInt32) return OrtValue.CreateTensorValueFromMemory((int[])lengths.Clone(), [batch]);
        var mask64 = new long[batch * seq];
        for (int b = 0; b < batch; ++b)
            for (int s = 0; s < seq; ++s)
                mask64[b * seq + s] = (left ? s >= seq - lengths[b] : s < lengths[b]) ? 1 : 0;
        return valid == Valid.MaskInt64
            ? OrtValue.CreateTensorValueFromMemory(mask64, [batch, seq])
            : OrtValue.CreateTensorValueFromMemory(mask64.Select(x => (int)x).ToArray(), [batch, seq]);
    }

    /// <summary>Runs one case in f32 (or f16) into a NaN-poisoned output; checks real rows against
    /// the reference and padding rows for zeros.</summary>
    static void RunCase(int batch, int seq, int hq, int hkv, int d, int[] lengths, int maskMode, Valid valid,
                        float? scale, bool f16, int seed)
    {
        var rng = new Random(seed);
        bool left = maskMode is 1 or 3;
        var attributes = new Dictionary<string, object> { ["num_heads"] = hq, ["mask_mode"] = maskMode };
        if (hkv != hq) attributes["kv_num_heads"] = hkv;
        if (scale is { } s) attributes["scale"] = s;
        var q = Fill(rng, batch, seq, hq * d, lengths, left);
        var k = Fill(rng, batch, seq, hkv * d, lengths, left);
        var v = Fill(rng, batch, seq, hkv * d, lengths, left);
        if (f16)
            foreach (var t in new[] { q, k, v })
                for (int i = 0; i < t.Length; ++i) t[i] = (float)(Half)t[i];  // the reference sees the f16 values
        double effectiveScale = scale ?? 1.0 / Math.Sqrt(d);
        var expected = Reference(q, k, v, batch, seq, hq, hkv, d, lengths, maskMode, effectiveScale);

        var type = f16 ? TensorProto.Types.DataType.Float16 : TensorProto.Types.DataType.Float;
        using var session = Session(OneNodeModel(type, valid, attributes));
        var inputs = new List<OrtValue>();
        try
        {
            long[] qShape = [batch, seq, hq * d], kvShape = [batch, seq, hkv * d];
            inputs.Add(f16 ? OrtValue.CreateTensorValueFromMemory(ToF16(q), qShape) : OrtValue.CreateTensorValueFromMemory(q, qShape));
            inputs.Add(f16 ? OrtValue.CreateTensorValueFromMemory(ToF16(k), kvShape) : OrtValue.CreateTensorValueFromMemory(k, kvShape));
            inputs.Add(f16 ? OrtValue.CreateTensorValueFromMemory(ToF16(v), kvShape) : OrtValue.CreateTensorValueFromMemory(v, kvShape));
            var names = new List<string> { "q", "k", "v" };
            if (valid != Valid.None) { inputs.Add(ValidInput(valid, batch, seq, lengths, left)); names.Add("valid"); }
            // The output is ours, NaN-poisoned: every element must be written.
            float[] actual = new float[batch * seq * hq * d];
            Float16[] actual16 = new Float16[actual.Length];
            Array.Fill(actual, float.NaN);
            Array.Fill(actual16, new Float16(0x7E00));
            using var output = f16 ? OrtValue.CreateTensorValueFromMemory(actual16, qShape) : OrtValue.CreateTensorValueFromMemory(actual, qShape);
            using var runOptions = new RunOptions();
            session.Run(runOptions, names, inputs, ["o"], [output]);
            if (f16) for (int i = 0; i < actual.Length; ++i) actual[i] = (float)BitConverter.UInt16BitsToHalf(actual16[i].value);

            double tolerance = f16 ? 4e-3 : 2e-5;  // f16 output rounding (|o| <= 2) / f32 accumulation
            for (int b = 0; b < batch; ++b)
                for (int t = 0; t < seq; ++t)
                {
                    bool real = left ? t >= seq - lengths[b] : t < lengths[b];
                    for (int x = 0; x < hq * d; ++x)
                    {
                        int i = (b * seq + t) * hq * d + x;
                        if (real)
                            Assert.IsTrue(Math.Abs(actual[i] - expected[i]) <= tolerance * Math.Max(1, Math.Abs(expected[i])),
                                $"row {b} token {t} element {x}: {actual[i]} vs {expected[i]}");
                        else
                            Assert.AreEqual(0.0f, actual[i], $"padding row {b} token {t} element {x}");
                    }
                }
        }
        finally
        {
            foreach (var value in inputs) value.Dispose();
        }
    }

    static Float16[] ToF16(float[] x) => x.Select(f => new Float16(BitConverter.HalfToUInt16Bits((Half)f))).ToArray();

    [TestMethod]
    public void MaskInputRightPaddedMatchesReference()
        => RunCase(5, 13, 4, 4, 32, [13, 0, 1, 7, 12], 0, Valid.MaskInt64, null, false, 11);

    [TestMethod]
    public void GroupedQueryHeadsWithInt32Lengths()
        => RunCase(4, 9, 6, 2, 80, [9, 3, 0, 8], 0, Valid.LengthsInt32, 0.3f, false, 12);

    [TestMethod]
    public void LeftPaddedInt32MaskBidirectional()
        => RunCase(3, 11, 2, 1, 96, [11, 4, 1], 3, Valid.MaskInt32, null, false, 13);

    [TestMethod]
    public void CausalRightPaddedMask()
        => RunCase(3, 17, 3, 3, 32, [17, 9, 2], 2, Valid.MaskInt64, null, false, 14);

    [TestMethod]
    public void CausalLeftPaddedLengths()
        => RunCase(3, 10, 2, 2, 64, [10, 5, 0], 1, Valid.LengthsInt32, null, false, 15);

    [TestMethod]
    public void WithoutValidInputEveryRowIsFull()
        => RunCase(2, 7, 2, 2, 32, [7, 7], 0, Valid.None, null, false, 16);

    [TestMethod]
    public void Float16OnTheCpuProvider()
        => RunCase(3, 12, 4, 2, 32, [12, 5, 1], 0, Valid.MaskInt64, null, true, 17);

    // ----------------------------------------------------------- errors --

    static OnnxRuntimeException RunFails(Dictionary<string, object> attributes, Valid valid, long[] qShape, long[] kShape,
                                         Array? validData, long[] validShape)
    {
        using var session = Session(OneNodeModel(TensorProto.Types.DataType.Float, valid, attributes));
        var values = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(new float[qShape.Aggregate(1L, (a, b) => a * b)], qShape),
            OrtValue.CreateTensorValueFromMemory(new float[kShape.Aggregate(1L, (a, b) => a * b)], kShape),
            OrtValue.CreateTensorValueFromMemory(new float[kShape.Aggregate(1L, (a, b) => a * b)], kShape),
        };
        var names = new List<string> { "q", "k", "v" };
        if (validData is long[] l) { values.Add(OrtValue.CreateTensorValueFromMemory(l, validShape)); names.Add("valid"); }
        if (validData is int[] i) { values.Add(OrtValue.CreateTensorValueFromMemory(i, validShape)); names.Add("valid"); }
        try
        {
            using var runOptions = new RunOptions();
            return Assert.ThrowsExactly<OnnxRuntimeException>(() => session.Run(runOptions, names, values, ["o"]).Dispose());
        }
        finally
        {
            foreach (var value in values) value.Dispose();
        }
    }

    static readonly Dictionary<string, object> TwoHeads = new() { ["num_heads"] = 2 };

    [TestMethod]
    public void RefusesHiddenSizeNotAMultipleOfNumHeads()
    {
        var e = RunFails(new() { ["num_heads"] = 3 }, Valid.None, [1, 4, 8], [1, 4, 8], null, []);
        StringAssert.Contains(e.Message, "SequencePrefill");
        StringAssert.Contains(e.Message, "not a multiple of num_heads = 3");
    }

    [TestMethod]
    public void RefusesKeysOfAnotherShape()
    {
        var e = RunFails(TwoHeads, Valid.None, [2, 4, 8], [2, 4, 6], null, []);
        StringAssert.Contains(e.Message, "k has shape [2, 4, 6]");
    }

    [TestMethod]
    public void RefusesAMaskWithAHole()
    {
        var e = RunFails(TwoHeads, Valid.MaskInt64, [2, 4, 8], [2, 4, 8], new long[] { 1, 1, 1, 1, 1, 0, 1, 0 }, [2, 4]);
        StringAssert.Contains(e.Message, "attention mask row 1 is not right-padded");
    }

    [TestMethod]
    public void RefusesAMaskValueOtherThanZeroOrOne()
    {
        var e = RunFails(TwoHeads, Valid.MaskInt32, [1, 3, 8], [1, 3, 8], new[] { 1, 2, 0 }, [1, 3]);
        StringAssert.Contains(e.Message, "attention mask[0, 1] = 2 is not 0 or 1");
    }

    [TestMethod]
    public void RefusesAMaskOfTheWrongShape()
    {
        var e = RunFails(TwoHeads, Valid.MaskInt64, [2, 4, 8], [2, 4, 8], new long[] { 1, 1, 1, 1, 1, 1 }, [2, 3]);
        StringAssert.Contains(e.Message, "attention mask has shape [2, 3]");
    }

    [TestMethod]
    public void RefusesLengthsOutOfRange()
    {
        var e = RunFails(TwoHeads, Valid.LengthsInt32, [2, 4, 8], [2, 4, 8], new[] { 3, 5 }, [2]);
        StringAssert.Contains(e.Message, "pattn_sequence_prefill: PATTN_STATUS_INVALID_ARGUMENT");
        StringAssert.Contains(e.Message, "q_valid_lens");
    }

    [TestMethod]
    public void RefusesLengthsOfTheWrongBatch()
    {
        var e = RunFails(TwoHeads, Valid.LengthsInt32, [2, 4, 8], [2, 4, 8], new[] { 3, 1, 1 }, [3]);
        StringAssert.Contains(e.Message, "valid lengths have shape [3]");
    }

    [TestMethod]
    public void RefusesBadAttributesWhenTheSessionIsCreated()
    {
        foreach (var (attributes, expected) in new (Dictionary<string, object>, string)[]
                 {
                     (new(), "'num_heads' is required"),
                     (new() { ["num_heads"] = 0 }, "num_heads = 0"),
                     (new() { ["num_heads"] = 4, ["kv_num_heads"] = 3 }, "kv_num_heads = 3"),
                     (new() { ["num_heads"] = 2, ["mask_mode"] = 7 }, "mask_mode = 7"),
                     (new() { ["num_heads"] = 2, ["scale"] = -1.0f }, "scale = -1"),
                 })
        {
            var e = Assert.ThrowsExactly<OnnxRuntimeException>(() => Session(OneNodeModel(TensorProto.Types.DataType.Float, Valid.None, attributes)).Dispose());
            StringAssert.Contains(e.Message, expected);
        }
    }
}
