using System.Text.Json;

namespace PaddedAttention.Bindings;

/// <summary>A resolved source position (clang's JSON omits repeated file and line values).</summary>
internal sealed record SourcePosition(string File, int Line, int Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>One node of clang's JSON AST, with its source position resolved.</summary>
internal sealed class AstNode
{
    public AstNode(JsonElement json, string kind, SourcePosition? position)
    {
        Json = json;
        Kind = kind;
        Position = position;
    }

    public JsonElement Json { get; }
    public string Kind { get; }
    public SourcePosition? Position { get; }
    public List<AstNode> Children { get; } = new();

    public string? Name => Json.TryGetProperty("name", out var name) ? name.GetString() : null;

    public string? QualType =>
        Json.TryGetProperty("type", out var type) && type.TryGetProperty("qualType", out var qual) ? qual.GetString() : null;

    public bool Flag(string property) =>
        Json.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.True;

    public string? StringProperty(string property) =>
        Json.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public string Where => Position?.ToString() ?? "<unknown location>";
}

/// <summary>
/// Reads clang's <c>-ast-dump=json</c> output. clang prints a location's "file"
/// and "line" only when they differ from the previously printed location, so
/// positions are resolved by walking the document in order, exactly as it was written.
/// </summary>
internal sealed class ClangAst
{
    private string? _lastFile;
    private int _lastLine;
    private int _lastColumn;
    private readonly Dictionary<string, bool> _fileIsIncluded = new(StringComparer.Ordinal);

    private ClangAst(AstNode root) => Root = root;

    public AstNode Root { get; private set; }

    /// <summary>Files that appear without "includedFrom": the main file of the translation unit.</summary>
    public IReadOnlyList<string> MainFiles { get; private set; } = Array.Empty<string>();

    public static ClangAst Parse(string json)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 4096 });
        var ast = new ClangAst(null!);
        var root = ast.VisitNode(document.RootElement.Clone());
        ast.Root = root ?? throw new BindingException("the AST dump has no root node", "<ast>");
        if (root.Kind != "TranslationUnitDecl")
        {
            throw new BindingException($"the AST root is a {root.Kind}, expected TranslationUnitDecl", "<ast>");
        }
        ast.MainFiles = ast._fileIsIncluded
            .Where(entry => !entry.Value && !entry.Key.StartsWith('<'))
            .Select(entry => entry.Key)
            .OrderBy(file => file, StringComparer.Ordinal)
            .ToList();
        return ast;
    }

    private AstNode? VisitNode(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty("kind", out var kindProperty))
        {
            WalkLocations(element);
            return null;
        }

        SourcePosition? position = null;
        var children = new List<AstNode>();
        foreach (var property in element.EnumerateObject())
        {
            switch (property.Name)
            {
                case "loc":
                    position = ResolveLocation(property.Value);
                    break;
                case "inner":
                    foreach (var child in property.Value.EnumerateArray())
                    {
                        var childNode = VisitNode(child);
                        if (childNode is not null)
                        {
                            children.Add(childNode);
                        }
                    }
                    break;
                default:
                    WalkLocations(property.Value);
                    break;
            }
        }

        var node = new AstNode(element, kindProperty.GetString() ?? "", position);
        node.Children.AddRange(children);
        return node;
    }

    // A node's "loc": a bare location, or spelling + expansion locations for
    // macro-expanded declarations (the expansion is where the declaration is).
    private SourcePosition? ResolveLocation(JsonElement loc)
    {
        if (loc.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        if (loc.TryGetProperty("spellingLoc", out _) || loc.TryGetProperty("expansionLoc", out _))
        {
            SourcePosition? expansion = null;
            foreach (var property in loc.EnumerateObject())
            {
                var resolved = UpdateFromBareLocation(property.Value);
                if (property.Name == "expansionLoc")
                {
                    expansion = resolved;
                }
            }
            return expansion;
        }
        return UpdateFromBareLocation(loc);
    }

    private SourcePosition? UpdateFromBareLocation(JsonElement loc)
    {
        if (loc.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        bool any = false;
        if (loc.TryGetProperty("file", out var file))
        {
            _lastFile = file.GetString();
            bool included = loc.TryGetProperty("includedFrom", out _);
            if (_lastFile is not null && !_fileIsIncluded.ContainsKey(_lastFile))
            {
                _fileIsIncluded[_lastFile] = included;
            }
            any = true;
        }
        if (loc.TryGetProperty("line", out var line))
        {
            _lastLine = line.GetInt32();
            any = true;
        }
        if (loc.TryGetProperty("col", out var column))
        {
            _lastColumn = column.GetInt32();
            any = true;
        }
        // "includedFrom" names the including file but is not itself a printed
        // location: clang does not update its "last file" for it, so neither do we.
        if (!any || _lastFile is null)
        {
            return null;
        }
        return new SourcePosition(_lastFile, _lastLine, _lastColumn);
    }

    // Any other JSON value: locations inside it ("range", "spellingLoc"...) still
    // move clang's "last printed location", so they are walked too.
    private void WalkLocations(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                if (element.TryGetProperty("offset", out _) || element.TryGetProperty("file", out _))
                {
                    UpdateFromBareLocation(element);
                    return;
                }
                foreach (var property in element.EnumerateObject())
                {
                    WalkLocations(property.Value);
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    WalkLocations(item);
                }
                break;
        }
    }
}
