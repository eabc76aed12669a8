using Google.Protobuf;
using Onnx;

namespace PaddedAttention.Onnx;

/// <summary>What <see cref="AttentionRewriter.Rewrite"/> did to a model.</summary>
/// <param name="Model">The rewritten model (a new object; the input is not changed).</param>
/// <param name="Layers">One entry per replaced attention subgraph, in graph order.</param>
public sealed record AttentionRewriteResult(ModelProto Model, IReadOnlyList<RewrittenAttention> Layers)
{
    /// <summary>The model in ONNX's binary form, for an InferenceSession.</summary>
    public byte[] ToBytes() => Model.ToByteArray();
}

/// <summary>One replaced attention subgraph.</summary>
/// <param name="Softmax">Name of the Softmax node the subgraph was found from.</param>
/// <param name="ReplacedNodes">Names of the nodes the operator replaced (Q·Kᵀ, scale, mask add,
/// Softmax, ·V, and the head reshapes/transposes), for profiling the stock model.</param>
public sealed record RewrittenAttention(string Softmax, int NumHeads, int HeadDim, float Scale, string? Mask,
                                        IReadOnlyList<string> ReplacedNodes);

/// <summary>Options of <see cref="AttentionRewriter.Rewrite"/>.</summary>
public sealed record AttentionRewriteOptions
{
    /// <summary>Casts q, k, v of an f32 model to f16 around the operator (and the output back), for
    /// execution providers whose kernels take f16 only (the CUDA provider).</summary>
    public bool CastToFloat16 { get; init; }
}

/// <summary>A graph the rewriter does not recognise.</summary>
public sealed class AttentionRewriteException(string message) : Exception(message);

/// <summary>
/// Finds the self-attention of each layer of a BERT-family encoder exported from PyTorch —
/// <c>Softmax((Q·Kᵀ) / c + mask) · V</c> with Q, K, V the per-head views
/// <c>Transpose(Reshape(x, [B, S, H, D]))</c> of [B, S, H·D] projections, the result
/// transposed and reshaped back to [B, S, H·D], and the additive mask computed from a
/// [B, S] 0/1 graph input — and replaces it with one
/// <c>com.paddedattention.SequencePrefill</c> node (native/ort/paddedattn_ort.cpp) that
/// takes the projections and the mask input directly. Anything else is refused with an
/// <see cref="AttentionRewriteException"/> that names the node and what did not match.
/// </summary>
public static class AttentionRewriter
{
    /// <summary>The operator's domain and name (native/ort/paddedattn_ort.cpp).</summary>
    public const string Domain = "com.paddedattention";
    public const string OpType = "SequencePrefill";

    public static AttentionRewriteResult Rewrite(ModelProto model, AttentionRewriteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new AttentionRewriteOptions();
        var result = model.Clone();
        var graph = result.Graph ?? throw new AttentionRewriteException("the model has no graph");
        var index = new GraphIndex(graph);

        var softmaxes = graph.Node.Where(n => n.OpType == "Softmax" && n.Domain is "" or "ai.onnx").ToList();
        if (softmaxes.Count == 0)
            throw new AttentionRewriteException("the graph has no Softmax node: no attention subgraph to replace");

        var matches = new List<Match>();
        foreach (var softmax in softmaxes)
            matches.Add(MatchAttention(index, softmax));

        var replaced = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var layers = new List<RewrittenAttention>();
        int counter = 0;
        foreach (var m in matches)
        {
            var inserted = BuildReplacement(m, options, ref counter);
            int position = graph.Node.IndexOf(m.OutputReshape);
            for (int i = 0; i < inserted.Count; ++i) graph.Node.Insert(position + i, inserted[i]);
            foreach (var node in m.Nodes) replaced.Add(node);
            layers.Add(new RewrittenAttention(NodeName(m.Softmax), m.NumHeads, m.HeadDim, m.Scale, m.MaskInput,
                                              m.Nodes.Select(NodeName).ToList()));
        }
        foreach (var node in replaced) graph.Node.Remove(node);
        RemoveDeadNodes(graph);

        if (!result.OpsetImport.Any(o => o.Domain == Domain))
            result.OpsetImport.Add(new OperatorSetIdProto { Domain = Domain, Version = 1 });
        return new AttentionRewriteResult(result, layers);
    }

    /// <summary>Reads a model from ONNX's binary form and rewrites it.</summary>
    public static AttentionRewriteResult Rewrite(ReadOnlySpan<byte> onnxModel, AttentionRewriteOptions? options = null)
        => Rewrite(ModelProto.Parser.ParseFrom(onnxModel.ToArray()), options);

    // ------------------------------------------------------------ matching --

    private sealed record Match(NodeProto Softmax, NodeProto OutputReshape, string Q, string K, string V,
                                string? MaskInput, int NumHeads, int HeadDim, float Scale, List<NodeProto> Nodes);

    private static string NodeName(NodeProto n) => n.Name.Length > 0 ? n.Name : $"{n.OpType}({string.Join(",", n.Output)})";

    private static AttentionRewriteException Refuse(NodeProto softmax, string what)
        => new($"the attention subgraph around Softmax node '{NodeName(softmax)}' is not one the rewriter " +
               $"recognises: {what}. Expected Softmax((Transpose(Reshape(q))·Transpose(Reshape(k))) / c + mask)·" +
               "Transpose(Reshape(v)), transposed and reshaped back to [batch, seq, hidden]");

    private static Match MatchAttention(GraphIndex g, NodeProto softmax)
    {
        var nodes = new List<NodeProto> { softmax };
        long axis = Attr(softmax, "axis")?.I ?? -1;
        if (axis != -1 && axis != 3) throw Refuse(softmax, $"Softmax axis is {axis}, not the last (key) axis");

        // Softmax input: [Add(scaled, mask)] over [Div|Mul](MatMul(q, kT), c).
        var producer = g.Producer(softmax.Input[0]) ?? throw Refuse(softmax, "its input is not computed by a node");
        string? maskInput = null;
        if (producer.OpType == "Add")
        {
            nodes.Add(producer);
            NodeProto? scaled = null;
            string? maskTensor = null;
            foreach (var (a, b) in new[] { (0, 1), (1, 0) })
            {
                var p = g.Producer(producer.Input[a]);
                if (p is { OpType: "Div" or "Mul" } && g.Producer(p.Input[0]) is { OpType: "MatMul" })
                {
                    scaled = p;
                    maskTensor = producer.Input[b];
                    break;
                }
            }
            if (scaled is null) throw Refuse(softmax, "the Add before it is not (scaled scores) + mask");
            maskInput = TraceMask(g, maskTensor!) ??
                        throw Refuse(softmax, $"the additive mask '{maskTensor}' is not computed from a [batch, seq] " +
                                              "0/1 graph input by Unsqueeze/Cast/Sub/Mul");
            producer = scaled;
        }
        if (producer.OpType is not ("Div" or "Mul")) throw Refuse(softmax, $"no scale (Div/Mul) before it, found {producer.OpType}");
        nodes.Add(producer);
        float c = ScalarConstant(g, producer.Input[1]) ?? throw Refuse(softmax, $"the scale '{producer.Input[1]}' is not a constant scalar");
        float scale = producer.OpType == "Div" ? 1.0f / c : c;
        if (!(scale > 0) || float.IsInfinity(scale)) throw Refuse(softmax, $"the scale {scale} is not positive and finite");

        var qk = g.Producer(producer.Input[0])!;
        nodes.Add(qk);
        var (q, heads, headDim) = HeadView(g, softmax, qk.Input[0], [0, 2, 1, 3], nodes, "q");
        var (k, kHeads, kHeadDim) = HeadView(g, softmax, qk.Input[1], [0, 2, 3, 1], nodes, "k");

        // Softmax -> MatMul(P, v) -> Transpose(0,2,1,3) -> Reshape([B, S, H*D]).
        var pv = g.SoleConsumer(softmax.Output[0]);
        if (pv is not { OpType: "MatMul" } || pv.Input[0] != softmax.Output[0])
            throw Refuse(softmax, "its output is not used by exactly one MatMul with V");
        nodes.Add(pv);
        var (v, vHeads, vHeadDim) = HeadView(g, softmax, pv.Input[1], [0, 2, 1, 3], nodes, "v");
        if (kHeads != vHeads || kHeadDim != headDim || vHeadDim != headDim || heads % kHeads != 0)
            throw Refuse(softmax, $"q, k, v heads x head_dim {heads}x{headDim}, {kHeads}x{kHeadDim}, {vHeads}x{vHeadDim} do not fit");
        if (kHeads != heads) throw Refuse(softmax, "k and v have fewer heads than q (grouped-query attention is not recognised here)");

        var back = g.SoleConsumer(pv.Output[0]);
        if (back is not { OpType: "Transpose" } || !Perm(back, [0, 2, 1, 3]))
            throw Refuse(softmax, "the ·V product is not transposed back with perm [0, 2, 1, 3]");
        nodes.Add(back);
        // Besides the Reshape, only Shape nodes (of the reshape's target size) may read it.
        var readers = g.Consumers(back.Output[0]);
        var reshape = readers.SingleOrDefault(n => n.OpType == "Reshape");
        if (reshape is null || readers.Any(n => n != reshape && n.OpType != "Shape") || g.IsGraphOutput(back.Output[0]))
            throw Refuse(softmax, "the transposed result is not reshaped back to [batch, seq, hidden] (or has other readers)");
        var outShape = ShapeValues(g, reshape.Input[1]);
        if (outShape is null || outShape.Count != 3 || (outShape[2] != heads * headDim && outShape[2] != -1))
            throw Refuse(softmax, "the final Reshape's shape is not [batch, seq, heads * head_dim]");
        nodes.Add(reshape);

        foreach (var n in nodes)
            foreach (var output in n.Output)
                if (n != reshape && g.IsGraphOutput(output))
                    throw Refuse(softmax, $"the intermediate '{output}' is a graph output (e.g. attention probabilities)");
        return new Match(softmax, reshape, q, k, v, maskInput, heads, headDim, scale, nodes);
    }

    // Transpose(perm)(Reshape(x, [B, S, H, D])) -> (x, H, D). The Transpose and
    // Reshape join `nodes` when nothing else reads them.
    private static (string Input, int Heads, int HeadDim) HeadView(GraphIndex g, NodeProto softmax, string tensor,
                                                                  long[] perm, List<NodeProto> nodes, string what)
    {
        var transpose = g.Producer(tensor);
        if (transpose is not { OpType: "Transpose" } || !Perm(transpose, perm))
            throw Refuse(softmax, $"{what} is not a Transpose with perm [{string.Join(", ", perm)}]");
        var reshape = g.Producer(transpose.Input[0]);
        if (reshape is not { OpType: "Reshape" }) throw Refuse(softmax, $"{what}'s transpose does not read a Reshape");
        var shape = ShapeValues(g, reshape.Input[1]);
        if (shape is null || shape.Count != 4 || shape[2] <= 0 || shape[3] <= 0)
            throw Refuse(softmax, $"{what}'s Reshape does not split [batch, seq, hidden] into constant [.., .., heads, head_dim]");
        if (g.ConsumerCount(transpose.Output[0]) == 1) nodes.Add(transpose);
        if (g.ConsumerCount(reshape.Output[0]) == 1 && nodes.Contains(transpose)) nodes.Add(reshape);
        return (reshape.Input[0], checked((int)shape[2]), checked((int)shape[3]));
    }

    private static bool Perm(NodeProto transpose, long[] perm)
        => Attr(transpose, "perm") is { } a && a.Ints.SequenceEqual(perm);

    // The [batch, seq] graph input an additive mask is computed from:
    // Mul(Sub(1, Cast(Unsqueeze(Unsqueeze(m)))), -big) and its operand orders.
    private static string? TraceMask(GraphIndex g, string tensor)
    {
        var mul = g.Producer(tensor);
        if (mul is not { OpType: "Mul" }) return null;
        NodeProto? sub = null;
        foreach (var (a, b) in new[] { (0, 1), (1, 0) })
            if (g.Producer(mul.Input[a]) is { OpType: "Sub" } s && ScalarConstant(g, mul.Input[b]) is { } big && big < -1000)
                sub = s;
        if (sub is null || ScalarConstant(g, sub.Input[0]) != 1.0f) return null;
        string current = sub.Input[1];
        for (int steps = 0; steps < 8; ++steps)
        {
            if (g.IsGraphInput(current)) return g.InputRank(current) == 2 ? current : null;
            var p = g.Producer(current);
            if (p is not { OpType: "Cast" or "Unsqueeze" }) return null;
            current = p.Input[0];
        }
        return null;
    }

    // ------------------------------------------------------------ building --

    private static List<NodeProto> BuildReplacement(Match m, AttentionRewriteOptions options, ref int counter)
    {
        int id = counter++;
        string name = $"PaddedAttention_SequencePrefill_{id}";
        var created = new List<NodeProto>();
        string q = m.Q, k = m.K, v = m.V, output = m.OutputReshape.Output[0];
        string opOutput = output;
        if (options.CastToFloat16)
        {
            string Cast(string input, string suffix, TensorProto.Types.DataType to)
            {
                var cast = new NodeProto { Name = $"{name}_cast_{suffix}", OpType = "Cast" };
                cast.Input.Add(input);
                cast.Output.Add($"{name}_{suffix}");
                cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)to });
                created.Add(cast);
                return cast.Output[0];
            }
            q = Cast(q, "q_f16", TensorProto.Types.DataType.Float16);
            k = Cast(k, "k_f16", TensorProto.Types.DataType.Float16);
            v = Cast(v, "v_f16", TensorProto.Types.DataType.Float16);
            opOutput = $"{name}_o_f16";
        }
        var op = new NodeProto { Name = name, OpType = OpType, Domain = Domain };
        op.Input.Add(q);
        op.Input.Add(k);
        op.Input.Add(v);
        if (m.MaskInput is not null) op.Input.Add(m.MaskInput);
        op.Output.Add(opOutput);
        op.Attribute.Add(new AttributeProto { Name = "num_heads", Type = AttributeProto.Types.AttributeType.Int, I = m.NumHeads });
        op.Attribute.Add(new AttributeProto { Name = "mask_mode", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
        op.Attribute.Add(new AttributeProto { Name = "scale", Type = AttributeProto.Types.AttributeType.Float, F = m.Scale });
        created.Add(op);
        if (options.CastToFloat16)
        {
            var back = new NodeProto { Name = $"{name}_cast_o", OpType = "Cast" };
            back.Input.Add(opOutput);
            back.Output.Add(output);
            back.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)TensorProto.Types.DataType.Float });
            created.Add(back);
        }
        return created;
    }

    // Nodes none of whose outputs is read any more (the shape computations
    // and the additive mask of the replaced subgraphs), until none is left.
    private static void RemoveDeadNodes(GraphProto graph)
    {
        bool removed = true;
        while (removed)
        {
            var read = new HashSet<string>(graph.Output.Select(o => o.Name));
            foreach (var n in graph.Node) foreach (var i in n.Input) read.Add(i);
            var dead = graph.Node.Where(n => n.Output.All(o => !read.Contains(o))).ToList();
            foreach (var n in dead) graph.Node.Remove(n);
            removed = dead.Count > 0;
        }
        var used = new HashSet<string>(graph.Node.SelectMany(n => n.Input));
        foreach (var init in graph.Initializer.Where(i => !used.Contains(i.Name)).ToList()) graph.Initializer.Remove(init);
        var produced = new HashSet<string>(graph.Node.SelectMany(n => n.Output));
        foreach (var info in graph.ValueInfo.Where(i => !produced.Contains(i.Name)).ToList()) graph.ValueInfo.Remove(info);
    }

    // ----------------------------------------------------------- constants --

    private static AttributeProto? Attr(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name);

    private static TensorProto? ConstantTensor(GraphIndex g, string name)
    {
        if (g.Initializer(name) is { } init) return init;
        var p = g.Producer(name);
        return p is { OpType: "Constant" } ? Attr(p, "value")?.T : null;
    }

    private static float? ScalarConstant(GraphIndex g, string name)
    {
        var t = ConstantTensor(g, name);
        if (t is null || t.Dims.Aggregate(1L, (a, b) => a * b) != 1) return null;
        return (TensorProto.Types.DataType)t.DataType switch
        {
            TensorProto.Types.DataType.Float => t.RawData.Length == 4 ? BitConverter.ToSingle(t.RawData.Span) : t.FloatData.FirstOrDefault(),
            TensorProto.Types.DataType.Double => (float)(t.RawData.Length == 8 ? BitConverter.ToDouble(t.RawData.Span) : t.DoubleData.FirstOrDefault()),
            _ => null,
        };
    }

    private static List<long>? IntConstant(GraphIndex g, string name)
    {
        var t = ConstantTensor(g, name);
        if (t is null || (TensorProto.Types.DataType)t.DataType != TensorProto.Types.DataType.Int64) return null;
        if (t.RawData.Length > 0)
        {
            var values = new List<long>();
            for (int i = 0; i + 8 <= t.RawData.Length; i += 8) values.Add(BitConverter.ToInt64(t.RawData.Span[i..]));
            return values;
        }
        return t.Int64Data.ToList();
    }

    // A Reshape's shape: a constant, or a Concat of pieces of which the
    // constant ones are read (the others, e.g. Shape/Gather of the batch and
    // sequence sizes, give 0: "taken from the input").
    private static List<long>? ShapeValues(GraphIndex g, string name)
    {
        if (IntConstant(g, name) is { } constant) return constant;
        var concat = g.Producer(name);
        if (concat is not { OpType: "Concat" }) return null;
        var values = new List<long>();
        foreach (var piece in concat.Input)
        {
            if (IntConstant(g, piece) is { } c) values.AddRange(c);
            else if (g.Producer(piece) is { OpType: "Unsqueeze" }) values.Add(0);
            else return null;
        }
        return values;
    }

    private sealed class GraphIndex
    {
        private readonly Dictionary<string, NodeProto> _producers = new();
        private readonly Dictionary<string, List<NodeProto>> _consumers = new();
        private readonly Dictionary<string, TensorProto> _initializers = new();
        private readonly Dictionary<string, ValueInfoProto> _inputs = new();
        private readonly HashSet<string> _outputs = new();

        public GraphIndex(GraphProto graph)
        {
            foreach (var n in graph.Node)
            {
                foreach (var o in n.Output) _producers[o] = n;
                foreach (var i in n.Input)
                {
                    if (!_consumers.TryGetValue(i, out var list)) _consumers[i] = list = new List<NodeProto>();
                    list.Add(n);
                }
            }
            foreach (var i in graph.Initializer) _initializers[i.Name] = i;
            foreach (var i in graph.Input) if (!_initializers.ContainsKey(i.Name)) _inputs[i.Name] = i;
            foreach (var o in graph.Output) _outputs.Add(o.Name);
        }

        public NodeProto? Producer(string tensor) => _producers.GetValueOrDefault(tensor);
        public TensorProto? Initializer(string tensor) => _initializers.GetValueOrDefault(tensor);
        public int ConsumerCount(string tensor) => (_consumers.GetValueOrDefault(tensor)?.Count ?? 0) + (_outputs.Contains(tensor) ? 1 : 0);
        public IReadOnlyList<NodeProto> Consumers(string tensor) => _consumers.GetValueOrDefault(tensor) ?? [];
        public NodeProto? SoleConsumer(string tensor)
            => ConsumerCount(tensor) == 1 ? _consumers.GetValueOrDefault(tensor)?.FirstOrDefault() : null;
        public bool IsGraphInput(string tensor) => _inputs.ContainsKey(tensor);
        public bool IsGraphOutput(string tensor) => _outputs.Contains(tensor);
        public int InputRank(string tensor) => _inputs[tensor].Type?.TensorType?.Shape?.Dim.Count ?? -1;
    }
}
