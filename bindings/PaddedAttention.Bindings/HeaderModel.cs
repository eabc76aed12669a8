using System.Globalization;
using System.Text.RegularExpressions;

namespace PaddedAttention.Bindings;

/// <summary>A construct the generator does not understand; it refuses instead of guessing.</summary>
internal sealed class BindingException : Exception
{
    public BindingException(string message, string location) : base(message) => Location = location;

    public string Location { get; }
}

/// <summary>An enum constant; ShortName is its C name without the prefix all constants of the enum share (INVALID_ARGUMENT).</summary>
internal sealed record EnumMember(string CName, string CSharpName, string ShortName, long Value);

internal sealed record CEnum(string CName, string CSharpName, string UnderlyingType, bool IsConstants, IReadOnlyList<EnumMember> Members);

/// <summary>A field: its C# type, and for arrays the element count (a C# fixed buffer).</summary>
internal sealed record CField(string CName, string CType, string CSharpType, int? FixedLength);

internal sealed record CStruct(string CName, string CSharpName, IReadOnlyList<CField> Fields);

internal sealed record CParameter(string CName, string CType, string CSharpType);

internal sealed record CFunction(string CName, string ReturnCType, string ReturnCSharpType, IReadOnlyList<CParameter> Parameters);

/// <summary>
/// The declarations of one C header, checked and mapped to C# types. Only what a
/// plain, binding-friendly C ABI uses is accepted: fixed-width integers, float,
/// double, pointers, enums with constant values, structs of those (and of
/// nested structs), fixed-size arrays of primitives, and functions over them.
/// </summary>
internal sealed class HeaderModel
{
    private static readonly Dictionary<string, string> PrimitiveTypes = new(StringComparer.Ordinal)
    {
        ["int8_t"] = "sbyte",
        ["uint8_t"] = "byte",
        ["int16_t"] = "short",
        ["uint16_t"] = "ushort",
        ["int32_t"] = "int",
        ["uint32_t"] = "uint",
        ["int64_t"] = "long",
        ["uint64_t"] = "ulong",
        ["intptr_t"] = "nint",
        ["uintptr_t"] = "nuint",
        ["char"] = "byte",
        ["signed char"] = "sbyte",
        ["unsigned char"] = "byte",
        ["short"] = "short",
        ["unsigned short"] = "ushort",
        ["int"] = "int",
        ["unsigned int"] = "uint",
        ["long long"] = "long",
        ["unsigned long long"] = "ulong",
        ["float"] = "float",
        ["double"] = "double",
    };

    // C# types allowed as the element of a fixed-size buffer.
    private static readonly HashSet<string> FixedBufferElementTypes = new(StringComparer.Ordinal)
    {
        "sbyte", "byte", "short", "ushort", "int", "uint", "long", "ulong", "float", "double",
    };

    // Node kinds a function may carry besides its parameters (export macros).
    private static readonly HashSet<string> AllowedFunctionAttributes = new(StringComparer.Ordinal)
    {
        "VisibilityAttr", "DLLImportAttr", "DLLExportAttr", "WarnUnusedResultAttr",
    };

    private readonly Dictionary<string, CEnum> _enumsByTag = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CStruct> _structsByTag = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _typedefs = new(StringComparer.Ordinal); // typedef name -> C# type

    public List<CEnum> Enums { get; } = new();
    public List<CStruct> Structs { get; } = new();
    public List<CFunction> Functions { get; } = new();

    public static HeaderModel Build(ClangAst ast, string mainFile)
    {
        var model = new HeaderModel();
        foreach (var node in ast.Root.Children)
        {
            if (node.Flag("isImplicit") || node.Position is null || node.Position.File != mainFile)
            {
                continue; // builtins and declarations of included (system) headers
            }
            switch (node.Kind)
            {
                case "EnumDecl":
                    model.AddEnum(node);
                    break;
                case "RecordDecl":
                    model.AddRecord(node);
                    break;
                case "TypedefDecl":
                    model.AddTypedef(node);
                    break;
                case "FunctionDecl":
                    model.AddFunction(node);
                    break;
                default:
                    throw new BindingException($"unsupported declaration kind {node.Kind} '{node.Name}'", node.Where);
            }
        }
        return model;
    }

    private void AddEnum(AstNode node)
    {
        string? name = node.Name;
        if (string.IsNullOrEmpty(name))
        {
            throw new BindingException("anonymous enum (give it a tag name)", node.Where);
        }
        if (node.Json.TryGetProperty("fixedUnderlyingType", out _))
        {
            throw new BindingException($"enum {name} has a fixed underlying type", node.Where);
        }
        if (_enumsByTag.ContainsKey(name))
        {
            throw new BindingException($"enum {name} is declared twice", node.Where);
        }

        var values = new List<(string CName, long Value)>();
        long next = 0;
        foreach (var child in node.Children)
        {
            if (child.Kind != "EnumConstantDecl")
            {
                throw new BindingException($"unsupported {child.Kind} inside enum {name}", child.Where);
            }
            long value = next;
            if (child.Children.Count > 0)
            {
                var constant = child.Children.FirstOrDefault(c => c.Kind == "ConstantExpr")
                    ?? throw new BindingException($"enum constant {child.Name} has an initializer without a constant value", child.Where);
                string? text = constant.StringProperty("value");
                if (text is null || !long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
                {
                    throw new BindingException($"enum constant {child.Name} has a value that is not a 64-bit integer ('{text}')", child.Where);
                }
            }
            values.Add((child.Name!, value));
            next = value + 1;
        }
        if (values.Count == 0)
        {
            throw new BindingException($"enum {name} has no constants (a forward declaration?)", node.Where);
        }

        string underlying;
        if (values.All(v => v.Value >= int.MinValue && v.Value <= int.MaxValue))
        {
            underlying = "int";
        }
        else if (values.All(v => v.Value >= 0 && v.Value <= uint.MaxValue))
        {
            underlying = "uint";
        }
        else
        {
            throw new BindingException($"enum {name} has values outside the range of int and of unsigned int", node.Where);
        }

        var memberTokens = StripCommonPrefix(name, values.Select(v => v.CName).ToList());
        var members = values.Select((v, i) => new EnumMember(v.CName,
            string.Concat(memberTokens[i].Select(Naming.Capitalize)), string.Join('_', memberTokens[i]), v.Value)).ToList();
        if (members.Select(m => m.CSharpName).Distinct(StringComparer.Ordinal).Count() != members.Count)
        {
            throw new BindingException($"enum {name}: two constants map to the same C# name", node.Where);
        }
        var result = new CEnum(name, Naming.PascalCase(name), underlying, name.EndsWith("_constants", StringComparison.Ordinal), members);
        _enumsByTag[name] = result;
        Enums.Add(result);
    }

    private void AddRecord(AstNode node)
    {
        string? tag = node.StringProperty("tagUsed");
        string? name = node.Name;
        if (tag != "struct")
        {
            throw new BindingException($"{tag ?? "record"} {name ?? "(anonymous)"}: only structs are supported (no unions)", node.Where);
        }
        if (string.IsNullOrEmpty(name))
        {
            throw new BindingException("anonymous struct (give it a tag name)", node.Where);
        }
        if (!node.Flag("completeDefinition"))
        {
            throw new BindingException($"struct {name} is declared without a definition (opaque types are not supported)", node.Where);
        }
        if (_structsByTag.ContainsKey(name))
        {
            throw new BindingException($"struct {name} is defined twice", node.Where);
        }

        var fields = new List<CField>();
        foreach (var child in node.Children)
        {
            if (child.Kind == "RecordDecl")
            {
                throw new BindingException($"struct {name} contains a nested or anonymous {child.StringProperty("tagUsed") ?? "record"} declaration", child.Where);
            }
            if (child.Kind != "FieldDecl")
            {
                throw new BindingException($"unsupported {child.Kind} inside struct {name}", child.Where);
            }
            string fieldName = child.Name ?? "";
            if (fieldName.Length == 0)
            {
                throw new BindingException($"struct {name} has an unnamed field", child.Where);
            }
            if (child.Flag("isBitfield"))
            {
                throw new BindingException($"bit field {name}.{fieldName}", child.Where);
            }
            if (child.Children.Count > 0)
            {
                throw new BindingException($"field {name}.{fieldName} has {child.Children[0].Kind} (attributes or initializers are not supported)", child.Where);
            }
            string cType = child.QualType ?? throw new BindingException($"field {name}.{fieldName} has no type", child.Where);
            fields.Add(MapField(cType, $"field {name}.{fieldName}", child.Where) with { CName = fieldName });
        }
        if (fields.Count == 0)
        {
            throw new BindingException($"struct {name} has no fields", node.Where);
        }
        var result = new CStruct(name, Naming.PascalCase(name), fields);
        _structsByTag[name] = result;
        Structs.Add(result);
    }

    private void AddTypedef(AstNode node)
    {
        string name = node.Name ?? "";
        string? aliased = node.QualType;
        // Only `typedef enum X {...} X;` and `typedef struct X {...} X;` are
        // understood: the typedef is another spelling of a type we generate.
        if (aliased == $"enum {name}" && _enumsByTag.TryGetValue(name, out var enumType))
        {
            _typedefs[name] = enumType.CSharpName;
            return;
        }
        if (aliased == $"struct {name}" && _structsByTag.TryGetValue(name, out var structType))
        {
            _typedefs[name] = structType.CSharpName;
            return;
        }
        throw new BindingException($"typedef {name} of '{aliased}' is not understood (only 'typedef enum X {{...}} X' and 'typedef struct X {{...}} X' are)", node.Where);
    }

    private void AddFunction(AstNode node)
    {
        string name = node.Name ?? "";
        string what = $"function {name}";
        if (node.Flag("variadic"))
        {
            throw new BindingException($"variadic {what}", node.Where);
        }
        if (node.StringProperty("storageClass") is { } storage && storage != "extern")
        {
            throw new BindingException($"{what} has storage class '{storage}' (only exported functions are bound)", node.Where);
        }
        if (node.Flag("inline"))
        {
            throw new BindingException($"inline {what}", node.Where);
        }
        if (Functions.Any(f => f.CName == name))
        {
            throw new BindingException($"{what} is declared twice", node.Where);
        }

        string functionType = node.QualType ?? throw new BindingException($"{what} has no type", node.Where);
        int open = functionType.IndexOf('(');
        if (open < 0 || !functionType.EndsWith(')'))
        {
            throw new BindingException($"{what} has a type clang printed as '{functionType}', which is not understood", node.Where);
        }
        string returnCType = functionType[..open].Trim();
        if (returnCType.Contains(')') || functionType.IndexOf('(', open + 1) >= 0)
        {
            throw new BindingException($"{what} uses a function pointer ('{functionType}')", node.Where);
        }
        string returnCSharp = MapType(returnCType, $"return type of {what}", node.Where, allowVoid: true);

        var parameters = new List<CParameter>();
        foreach (var child in node.Children)
        {
            if (child.Kind == "ParmVarDecl")
            {
                string parameterName = string.IsNullOrEmpty(child.Name) ? $"arg{parameters.Count}" : child.Name!;
                if (child.Children.Count > 0)
                {
                    throw new BindingException($"parameter {parameterName} of {what} has {child.Children[0].Kind} (not supported)", child.Where);
                }
                string cType = child.QualType ?? throw new BindingException($"parameter {parameterName} of {what} has no type", child.Where);
                string csType = MapType(cType, $"parameter {parameterName} of {what}", child.Where, allowVoid: false);
                parameters.Add(new CParameter(parameterName, cType, csType));
            }
            else if (child.Kind == "CompoundStmt")
            {
                throw new BindingException($"{what} has a body in the header", child.Where);
            }
            else if (!AllowedFunctionAttributes.Contains(child.Kind))
            {
                throw new BindingException($"{what} has {child.Kind}, which is not understood", child.Where);
            }
        }
        // `f()` in C means unspecified parameters, not none; demand `f(void)`.
        if (parameters.Count == 0 && !functionType.EndsWith("(void)", StringComparison.Ordinal))
        {
            throw new BindingException($"{what} has an unprototyped parameter list '{functionType}' (write (void))", node.Where);
        }
        Functions.Add(new CFunction(name, returnCType, returnCSharp, parameters));
    }

    private static readonly Regex ArrayPattern = new(@"^(?<element>[^\[\]]+?)\s*\[(?<length>[^\]]*)\]$", RegexOptions.CultureInvariant);

    private CField MapField(string cType, string what, string where)
    {
        if (cType.Contains('['))
        {
            var match = ArrayPattern.Match(cType);
            if (!match.Success)
            {
                throw new BindingException($"{what}: multi-dimensional or unusual array type '{cType}'", where);
            }
            string lengthText = match.Groups["length"].Value.Trim();
            if (lengthText.Length == 0)
            {
                throw new BindingException($"{what}: array of unknown size '{cType}'", where);
            }
            if (!int.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out int length) || length <= 0)
            {
                throw new BindingException($"{what}: array length '{lengthText}' is not a positive constant", where);
            }
            string elementCSharp = MapType(match.Groups["element"].Value, what, where, allowVoid: false);
            if (!FixedBufferElementTypes.Contains(elementCSharp))
            {
                throw new BindingException($"{what}: array of '{match.Groups["element"].Value}' (only arrays of primitive numbers are supported)", where);
            }
            return new CField("", cType, elementCSharp, length);
        }
        return new CField("", cType, MapType(cType, what, where, allowVoid: false), null);
    }

    /// <summary>Maps a C type as clang prints it ("const pattn_tensor *", "uint32_t") to C#.</summary>
    private string MapType(string cType, string what, string where, bool allowVoid)
    {
        if (cType.Contains('(') || cType.Contains(')'))
        {
            throw new BindingException($"{what}: function pointer type '{cType}'", where);
        }
        if (cType.Contains('['))
        {
            throw new BindingException($"{what}: array type '{cType}' is only supported as a struct field", where);
        }

        // Tokens: words and '*'. Qualifiers do not change the layout.
        var tokens = Regex.Matches(cType, @"\*|[A-Za-z_][A-Za-z0-9_]*").Select(m => m.Value).ToList();
        string leftover = Regex.Replace(cType, @"\*|[A-Za-z_][A-Za-z0-9_]*|\s", "");
        if (leftover.Length > 0 || tokens.Count == 0)
        {
            throw new BindingException($"{what}: type '{cType}' is not understood", where);
        }
        int pointerDepth = tokens.Count(t => t == "*");
        int firstStar = tokens.IndexOf("*");
        var baseWords = (firstStar < 0 ? tokens : tokens.Take(firstStar)).ToList();
        var afterStars = firstStar < 0 ? new List<string>() : tokens.Skip(firstStar).Where(t => t != "*").ToList();
        foreach (var qualifier in afterStars)
        {
            if (qualifier is not ("const" or "volatile" or "restrict"))
            {
                throw new BindingException($"{what}: type '{cType}' is not understood", where);
            }
        }
        foreach (var word in baseWords)
        {
            if (word is "_Atomic" or "_Complex" or "_Imaginary")
            {
                throw new BindingException($"{what}: {word} type '{cType}'", where);
            }
        }
        baseWords.RemoveAll(w => w is "const" or "volatile" or "restrict");
        string baseType = string.Join(' ', baseWords);

        string csBase = baseType switch
        {
            "void" when pointerDepth > 0 || allowVoid => "void",
            "void" => throw new BindingException($"{what}: void is not a value type here", where),
            "_Bool" or "bool" => throw new BindingException($"{what}: bool '{cType}' (its size is not fixed by the C standard; use an integer)", where),
            "long" or "unsigned long" or "long int" or "unsigned long int" or "signed long" =>
                throw new BindingException($"{what}: '{baseType}' has a platform-dependent size; use int32_t or int64_t", where),
            "size_t" or "ssize_t" or "ptrdiff_t" or "wchar_t" =>
                throw new BindingException($"{what}: '{baseType}' has a platform-dependent size; use a fixed-width integer", where),
            "long double" => throw new BindingException($"{what}: long double", where),
            _ => MapNamedType(baseType, cType, what, where),
        };
        return csBase + new string('*', pointerDepth);
    }

    private string MapNamedType(string baseType, string cType, string what, string where)
    {
        if (PrimitiveTypes.TryGetValue(baseType, out var primitive))
        {
            return primitive;
        }
        if (_typedefs.TryGetValue(baseType, out var aliased))
        {
            return aliased;
        }
        if (baseType.StartsWith("union ", StringComparison.Ordinal))
        {
            throw new BindingException($"{what}: union type '{cType}'", where);
        }
        if (baseType.StartsWith("struct ", StringComparison.Ordinal))
        {
            string tag = baseType["struct ".Length..];
            if (tag.Contains("unnamed") || tag.Contains("anonymous"))
            {
                throw new BindingException($"{what}: anonymous struct '{cType}'", where);
            }
            return _structsByTag.TryGetValue(tag, out var structType)
                ? structType.CSharpName
                : throw new BindingException($"{what}: struct {tag} is not defined in this header", where);
        }
        if (baseType.StartsWith("enum ", StringComparison.Ordinal))
        {
            string tag = baseType["enum ".Length..];
            return _enumsByTag.TryGetValue(tag, out var enumType)
                ? enumType.CSharpName
                : throw new BindingException($"{what}: enum {tag} is not defined in this header", where);
        }
        throw new BindingException($"{what}: unknown type '{baseType}' in '{cType}' (an unknown typedef?)", where);
    }

    // PATTN_STATUS_SUCCESS, PATTN_STATUS_INVALID_ARGUMENT -> [SUCCESS], [INVALID, ARGUMENT].
    private static List<string[]> StripCommonPrefix(string enumName, List<string> constants)
    {
        var split = constants.Select(c => c.Split('_', StringSplitOptions.RemoveEmptyEntries)).ToList();
        // A lone constant is compared with the enum's own name instead.
        var reference = split.Count == 1 ? enumName.ToUpperInvariant().Split('_', StringSplitOptions.RemoveEmptyEntries) : split[0];
        int prefix = 0;
        while (prefix < reference.Length
               && split.All(tokens => tokens.Length > prefix + 1 && string.Equals(tokens[prefix], reference[prefix], StringComparison.OrdinalIgnoreCase)))
        {
            prefix++;
        }
        // A C# identifier cannot start with a digit: keep one more token then.
        while (prefix > 0 && split.Any(tokens => char.IsAsciiDigit(tokens[prefix][0])))
        {
            prefix--;
        }
        return split.Select(tokens => tokens.Skip(prefix).ToArray()).ToList();
    }
}

internal static class Naming
{
    private static readonly HashSet<string> CSharpKeywords = new(StringComparer.Ordinal)
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const",
        "continue", "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern",
        "false", "finally", "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface",
        "internal", "is", "lock", "long", "namespace", "new", "null", "object", "operator", "out", "override",
        "params", "private", "protected", "public", "readonly", "ref", "return", "sbyte", "sealed", "short",
        "sizeof", "stackalloc", "static", "string", "struct", "switch", "this", "throw", "true", "try", "typeof",
        "uint", "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void", "volatile", "while",
    };

    /// <summary>pattn_device_properties -> PattnDeviceProperties.</summary>
    public static string PascalCase(string cName) =>
        string.Concat(cName.Split('_', StringSplitOptions.RemoveEmptyEntries).Select(Capitalize));

    /// <summary>STATUS -> Status, f16 -> F16.</summary>
    public static string Capitalize(string token) =>
        token.Length == 0 ? token : char.ToUpperInvariant(token[0]) + token[1..].ToLowerInvariant();

    /// <summary>A C identifier as a C# identifier (keywords get '@').</summary>
    public static string Identifier(string name) => CSharpKeywords.Contains(name) ? "@" + name : name;
}
