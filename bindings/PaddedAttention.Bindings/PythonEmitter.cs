using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace PaddedAttention.Bindings;

/// <summary>
/// Writes the Python ctypes declarations of a <see cref="HeaderModel"/>
/// (bindings/python/paddedattn/_native.py): constants, IntEnums, Structures
/// and the restype/argtypes of every function, plus tables of C names for the
/// layout test. The types come from the same checked model as the C# file, so
/// both bindings accept exactly the same header. Output depends only on the model.
/// </summary>
internal static class PythonEmitter
{
    private static readonly Dictionary<string, string> Primitives = new(StringComparer.Ordinal)
    {
        ["sbyte"] = "ctypes.c_int8",
        ["byte"] = "ctypes.c_uint8",
        ["short"] = "ctypes.c_int16",
        ["ushort"] = "ctypes.c_uint16",
        ["int"] = "ctypes.c_int32",
        ["uint"] = "ctypes.c_uint32",
        ["long"] = "ctypes.c_int64",
        ["ulong"] = "ctypes.c_uint64",
        ["nint"] = "ctypes.c_ssize_t",
        ["nuint"] = "ctypes.c_size_t",
        ["float"] = "ctypes.c_float",
        ["double"] = "ctypes.c_double",
    };

    public static string Emit(HeaderModel model, string headerDisplayName, string regenerateCommand)
    {
        string prefix = CommonTypePrefix(model);
        var enumTypes = model.Enums.ToDictionary(e => e.CSharpName, e => e, StringComparer.Ordinal);
        var structNames = model.Structs.ToDictionary(s => s.CSharpName, s => PythonTypeName(s.CName, prefix), StringComparer.Ordinal);

        var w = new StringBuilder();
        void Line(string line = "") => w.Append(line).Append('\n');

        Line($"# Generated from {headerDisplayName} by bindings/PaddedAttention.Bindings. Do not edit.");
        Line($"# Regenerate with: {regenerateCommand}");
        Line($"\"\"\"The C ABI of {Path.GetFileName(headerDisplayName)} as ctypes declarations, one to one.");
        Line();
        Line("Constants and enum values, struct layouts and the signatures of the exported");
        Line("functions (FUNCTIONS: C name -> (restype, argtypes)). The hand-written layer");
        Line("in __init__.py loads the library, binds FUNCTIONS and adds the helpers.");
        Line("\"\"\"");
        Line();
        Line("import ctypes");
        Line("import enum");

        var constantNames = new List<(string CName, string PythonName)>();
        var enumEntries = new List<(CEnum Enum, string PythonName)>();
        foreach (var cEnum in model.Enums)
        {
            Line();
            if (cEnum.IsConstants)
            {
                Line($"# C: the constants of enum {cEnum.CName}");
                foreach (var member in cEnum.Members)
                {
                    Line($"{member.ShortName} = {Number(member.Value)}");
                    constantNames.Add((member.CName, member.ShortName));
                }
                continue;
            }
            string name = PythonTypeName(cEnum.CName, prefix);
            enumEntries.Add((cEnum, name));
            Line();
            Line($"class {name}(enum.IntEnum):");
            Line($"    \"\"\"C: enum {cEnum.CName}\"\"\"");
            Line();
            foreach (var member in cEnum.Members)
            {
                Line($"    {member.ShortName} = {Number(member.Value)}");
            }
        }

        foreach (var cStruct in model.Structs)
        {
            Line();
            Line();
            Line($"class {structNames[cStruct.CSharpName]}(ctypes.Structure):");
            Line($"    \"\"\"C: struct {cStruct.CName}\"\"\"");
            Line();
            Line("    _fields_ = [");
            foreach (var field in cStruct.Fields)
            {
                string type = field.FixedLength is int length
                    ? $"{ElementType(field.CSharpType, field.CType, enumTypes, structNames)} * {length.ToString(CultureInfo.InvariantCulture)}"
                    : MapType(field.CSharpType, field.CType, enumTypes, structNames);
                Line($"        (\"{field.CName}\", {type}),");
            }
            Line("    ]");
        }

        Line();
        Line();
        Line("# C name -> (restype, argtypes), in header order.");
        Line("FUNCTIONS = {");
        foreach (var function in model.Functions)
        {
            string restype = function.ReturnCSharpType == "void"
                ? "None"
                : MapType(function.ReturnCSharpType, function.ReturnCType, enumTypes, structNames);
            var argtypes = function.Parameters.Select(p => MapType(p.CSharpType, p.CType, enumTypes, structNames));
            Line($"    \"{function.CName}\": ({restype}, [{string.Join(", ", argtypes)}]),");
        }
        Line("}");

        // C names for the layout test (tests/python/test_ctypes_layout.py).
        Line();
        Line("# C names of the declarations above, for the layout test.");
        Line("CONSTANTS = {");
        foreach (var (cName, pythonName) in constantNames)
        {
            Line($"    \"{cName}\": {pythonName},");
        }
        Line("}");
        Line("ENUMS = {");
        foreach (var (cEnum, name) in enumEntries)
        {
            Line($"    \"{cEnum.CName}\": {name},");
        }
        Line("}");
        Line("ENUM_CONSTANTS = {");
        foreach (var (cEnum, name) in enumEntries)
        {
            foreach (var member in cEnum.Members)
            {
                Line($"    \"{member.CName}\": {name}.{member.ShortName},");
            }
        }
        Line("}");
        Line("STRUCTS = {");
        foreach (var cStruct in model.Structs)
        {
            Line($"    \"{cStruct.CName}\": {structNames[cStruct.CSharpName]},");
        }
        Line("}");
        Line();
        var exported = constantNames.Select(c => c.PythonName)
            .Concat(enumEntries.Select(e => e.PythonName))
            .Concat(model.Structs.Select(s => structNames[s.CSharpName]))
            .Concat(new[] { "FUNCTIONS", "CONSTANTS", "ENUMS", "ENUM_CONSTANTS", "STRUCTS" });
        Line("__all__ = [");
        foreach (var name in exported)
        {
            Line($"    \"{name}\",");
        }
        Line("]");
        return w.ToString();
    }

    // pattn_prefill_params -> PrefillParams when every type shares "pattn_".
    private static string PythonTypeName(string cName, string prefix) =>
        Naming.PascalCase(cName.StartsWith(prefix, StringComparison.Ordinal) ? cName[prefix.Length..] : cName);

    private static string CommonTypePrefix(HeaderModel model)
    {
        var names = model.Structs.Select(s => s.CName).Concat(model.Enums.Select(e => e.CName)).ToList();
        if (names.Count == 0)
        {
            return "";
        }
        int underscore = names[0].IndexOf('_');
        if (underscore <= 0)
        {
            return "";
        }
        string prefix = names[0][..(underscore + 1)];
        return names.All(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.Length > prefix.Length) ? prefix : "";
    }

    // `char` (not signed/unsigned char) is text: char* maps to c_char_p, char[N] to c_char * N.
    private static readonly Regex PlainChar = new(@"(?<!signed |unsigned )\bchar\b", RegexOptions.CultureInvariant);

    private static string ElementType(string csType, string cType, Dictionary<string, CEnum> enums, Dictionary<string, string> structs) =>
        csType == "byte" && PlainChar.IsMatch(cType) ? "ctypes.c_char" : MapType(csType, cType, enums, structs);

    private static string MapType(string csType, string cType, Dictionary<string, CEnum> enums, Dictionary<string, string> structs)
    {
        int depth = csType.Length - csType.TrimEnd('*').Length;
        string baseType = csType.TrimEnd('*');
        if (depth == 1 && baseType == "byte" && PlainChar.IsMatch(cType))
        {
            return "ctypes.c_char_p";
        }
        if (baseType == "void")
        {
            if (depth == 0)
            {
                throw new BindingException($"void is not a value type ('{cType}')", "<python>");
            }
            depth--;
            baseType = "ctypes.c_void_p";
        }
        else if (Primitives.TryGetValue(baseType, out var primitive))
        {
            baseType = primitive;
        }
        else if (enums.TryGetValue(baseType, out var cEnum))
        {
            baseType = cEnum.UnderlyingType == "uint" ? "ctypes.c_uint" : "ctypes.c_int";
        }
        else if (structs.TryGetValue(baseType, out var structName))
        {
            baseType = structName;
        }
        else
        {
            throw new BindingException($"type '{cType}' has no Python mapping", "<python>");
        }
        for (int i = 0; i < depth; i++)
        {
            baseType = $"ctypes.POINTER({baseType})";
        }
        return baseType;
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
