using Onnx;
using PaddedAttention.Onnx;

namespace PaddedAttention.Onnx.Tests;

[TestClass]
public sealed class RewriterTests
{
    [TestMethod]
    public void ReplacesExactlyTheSixAttentionSubgraphsOfMiniLm()
    {
        var result = ModelFixture.Rewrite;
        var graph = result.Model.Graph;
        Assert.HasCount(6, result.Layers);
        Assert.AreEqual(6, graph.Node.Count(n => n.OpType == AttentionRewriter.OpType && n.Domain == AttentionRewriter.Domain));
        Assert.AreEqual(0, graph.Node.Count(n => n.OpType == "Softmax"));
        foreach (var layer in result.Layers)
        {
            Assert.AreEqual(12, layer.NumHeads);
            Assert.AreEqual(32, layer.HeadDim);
            Assert.AreEqual(1.0 / Math.Sqrt(32), layer.Scale, 1e-6);
            Assert.AreEqual("attention_mask", layer.Mask);
        }
        // Each layer's replaced nodes are distinct and none is left in the graph.
        var stockNames = ModelFixture.StockModel.Graph.Node.Select(n => n.Name).ToHashSet();
        var left = graph.Node.Select(n => n.Name).ToHashSet();
        foreach (var name in result.Layers.SelectMany(l => l.ReplacedNodes))
        {
            Assert.Contains(name, stockNames);
            Assert.DoesNotContain(name, left);
        }
        Assert.AreEqual(result.Layers.Sum(l => l.ReplacedNodes.Count), result.Layers.SelectMany(l => l.ReplacedNodes).Distinct().Count());
        // The projections feed the operator; every other stock MatMul (the linear layers, 6 x 6) is still there.
        Assert.AreEqual(36, graph.Node.Count(n => n.OpType == "MatMul"));
        Assert.IsTrue(result.Model.OpsetImport.Any(o => o.Domain == AttentionRewriter.Domain && o.Version == 1));
    }

    [TestMethod]
    public void RewrittenGraphIsWellFormed()
    {
        var graph = ModelFixture.Rewrite.Model.Graph;
        var defined = new HashSet<string>(graph.Input.Select(i => i.Name).Concat(graph.Initializer.Select(i => i.Name)));
        foreach (var node in graph.Node)
        {
            foreach (var input in node.Input.Where(i => i.Length > 0))
                Assert.Contains(input, defined, $"node {node.Name} reads '{input}' before it is defined");
            foreach (var output in node.Output) defined.Add(output);
        }
        foreach (var output in graph.Output) Assert.Contains(output.Name, defined);
        // Dead shape and mask computations went with the attention.
        var read = new HashSet<string>(graph.Node.SelectMany(n => n.Input).Concat(graph.Output.Select(o => o.Name)));
        Assert.IsTrue(graph.Node.All(n => n.Output.Any(read.Contains)));
        Assert.IsTrue(graph.Initializer.All(i => read.Contains(i.Name)));
    }

    [TestMethod]
    public void LeavesTheInputModelUnchanged()
    {
        var model = ModelFixture.StockModel;
        int before = model.Graph.Node.Count;
        var result = AttentionRewriter.Rewrite(model);
        Assert.AreEqual(before, model.Graph.Node.Count);
        Assert.AreEqual(6, model.Graph.Node.Count(n => n.OpType == "Softmax"));
        Assert.IsLessThan(before, result.Model.Graph.Node.Count);
    }

    [TestMethod]
    public void CastToFloat16WrapsEachOperatorInCasts()
    {
        var result = AttentionRewriter.Rewrite(ModelFixture.StockModel, new AttentionRewriteOptions { CastToFloat16 = true });
        var graph = result.Model.Graph;
        foreach (var op in graph.Node.Where(n => n.OpType == AttentionRewriter.OpType))
        {
            foreach (var input in op.Input.Take(3))
            {
                var cast = graph.Node.Single(n => n.Output.Contains(input));
                Assert.AreEqual("Cast", cast.OpType);
                Assert.AreEqual((long)TensorProto.Types.DataType.Float16, cast.Attribute.Single(a => a.Name == "to").I);
            }
            var back = graph.Node.Single(n => n.Input.Contains(op.Output[0]));
            Assert.AreEqual("Cast", back.OpType);
            Assert.AreEqual((long)TensorProto.Types.DataType.Float, back.Attribute.Single(a => a.Name == "to").I);
        }
    }

    static AttentionRewriteException Refused(ModelProto model)
        => Assert.ThrowsExactly<AttentionRewriteException>(() => AttentionRewriter.Rewrite(model));

    [TestMethod]
    public void RefusesAGraphWithoutSoftmax()
    {
        var model = ModelFixture.StockModel;
        foreach (var n in model.Graph.Node.Where(n => n.OpType == "Softmax")) n.OpType = "Relu";
        StringAssert.Contains(Refused(model).Message, "no Softmax");
    }

    [TestMethod]
    public void RefusesASoftmaxOverTheWrongAxis()
    {
        var model = ModelFixture.StockModel;
        var softmax = model.Graph.Node.Where(n => n.OpType == "Softmax").ElementAt(2);
        softmax.Attribute.Single(a => a.Name == "axis").I = 1;
        var message = Refused(model).Message;
        StringAssert.Contains(message, $"'{softmax.Name}'");
        StringAssert.Contains(message, "axis is 1");
    }

    [TestMethod]
    public void RefusesANonConstantScale()
    {
        var model = ModelFixture.StockModel;
        var softmax = model.Graph.Node.First(n => n.OpType == "Softmax");
        var add = model.Graph.Node.Single(n => n.Output.Contains(softmax.Input[0]));
        var div = model.Graph.Node.Single(n => n.Output.Contains(add.Input[0]));
        Assert.AreEqual("Div", div.OpType);
        div.Input[1] = div.Input[0];  // scores / scores: no constant scale
        StringAssert.Contains(Refused(model).Message, "is not a constant scalar");
    }

    [TestMethod]
    public void RefusesAttentionProbabilitiesThatAreAGraphOutput()
    {
        var model = ModelFixture.StockModel;
        var softmax = model.Graph.Node.Last(n => n.OpType == "Softmax");
        model.Graph.Output.Add(new ValueInfoProto { Name = softmax.Output[0] });
        var message = Refused(model).Message;
        StringAssert.Contains(message, $"'{softmax.Name}'");
    }

    [TestMethod]
    public void RefusesAMaskThatIsNotComputedFromAGraphInput()
    {
        var model = ModelFixture.StockModel;
        var softmax = model.Graph.Node.First(n => n.OpType == "Softmax");
        var add = model.Graph.Node.Single(n => n.Output.Contains(softmax.Input[0]));
        add.Input[1] = add.Input[0];  // scores + scores
        StringAssert.Contains(Refused(model).Message, "additive mask");
    }
}
