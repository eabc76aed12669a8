using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using PaddedAttention.Interop;

namespace PaddedAttention.Tests.Bindings;

/// <summary>
/// The generated bindings agree with the C header as a C compiler reads it:
/// struct sizes, field offsets and sizes, and enum values. The C side is a
/// program generated from the C# types by reflection, compiled against
/// native/include and run; the generator's output is also compared with the
/// committed NativeMethods.g.cs.
/// </summary>
[TestClass]
public sealed class InteropLayoutTests
{
    private static readonly Assembly Library = typeof(Attention).Assembly;

    [TestMethod]
    public void StructSizesAndFieldOffsets_MatchTheCCompiler()
    {
        var structs = GeneratedStructs();
        Assert.IsTrue(structs.Count >= 5, $"expected the ABI's parameter structs, found {structs.Count}");

        var c = new StringBuilder();
        foreach (var type in structs)
        {
            string cType = "struct " + NativeName(type);
            c.Append(CultureInfo.InvariantCulture, $"    printf(\"size {NativeName(type)} %zu\\n\", sizeof({cType}));\n");
            foreach (var field in InstanceFields(type))
            {
                c.Append(CultureInfo.InvariantCulture, $"    printf(\"offset {NativeName(type)}.{field.Name} %zu\\n\", offsetof({cType}, {field.Name}));\n");
                c.Append(CultureInfo.InvariantCulture, $"    printf(\"fieldsize {NativeName(type)}.{field.Name} %zu\\n\", sizeof((({cType}*)0)->{field.Name}));\n");
            }
        }
        var measured = CompileAndRun(c.ToString());

        var mismatches = new List<string>();
        int compared = 0;
        foreach (var type in structs)
        {
            string name = NativeName(type);
            Compare(mismatches, $"size {name}", (long)Marshal.SizeOf(type), measured, ref compared);
            Compare(mismatches, $"size {name} (managed)", (long)ManagedSize(type), measured[$"size {name}"], ref compared);
            foreach (var field in InstanceFields(type))
            {
                Compare(mismatches, $"offset {name}.{field.Name}", (long)Marshal.OffsetOf(type, field.Name), measured, ref compared);
                Compare(mismatches, $"fieldsize {name}.{field.Name}", FieldSize(field), measured, ref compared);
            }
        }
        Assert.AreEqual(0, mismatches.Count, "C and C# disagree:\n" + string.Join("\n", mismatches));
        Assert.IsTrue(compared > 40, $"only {compared} values compared");
    }

    [TestMethod]
    public void FieldsCoverEveryByteOfEachStruct()
    {
        // Sequential fields with no overlap and only alignment padding: a field
        // missing from the C# side would leave a hole bigger than an alignment.
        foreach (var type in GeneratedStructs())
        {
            long end = 0;
            foreach (var field in InstanceFields(type))
            {
                long offset = (long)Marshal.OffsetOf(type, field.Name);
                Assert.IsTrue(offset >= end, $"{type.Name}.{field.Name} overlaps the previous field");
                Assert.IsTrue(offset - end < 8, $"{type.Name}.{field.Name} starts {offset - end} bytes after the previous field ends");
                end = offset + FieldSize(field);
            }
            long size = Marshal.SizeOf(type);
            Assert.IsTrue(size >= end && size - end < 8, $"{type.Name}: fields end at {end}, struct size {size}");
        }
    }

    [TestMethod]
    public void EnumAndConstantValues_MatchTheCCompiler()
    {
        var constants = GeneratedConstants();
        Assert.IsTrue(constants.Count >= 20, $"expected the ABI's enum constants, found {constants.Count}");
        var c = new StringBuilder();
        foreach (var (cName, _) in constants)
        {
            c.Append(CultureInfo.InvariantCulture, $"    printf(\"value {cName} %lld\\n\", (long long){cName});\n");
        }
        // Each generated enum has the size of the C enum type.
        foreach (var type in GeneratedEnums())
        {
            c.Append(CultureInfo.InvariantCulture, $"    printf(\"enumsize {NativeName(type)} %zu\\n\", sizeof(enum {NativeName(type)}));\n");
        }
        var measured = CompileAndRun(c.ToString());

        var mismatches = new List<string>();
        int compared = 0;
        foreach (var (cName, value) in constants)
        {
            Compare(mismatches, $"value {cName}", value, measured, ref compared);
        }
        foreach (var type in GeneratedEnums())
        {
            Compare(mismatches, $"enumsize {NativeName(type)}", Marshal.SizeOf(Enum.GetUnderlyingType(type)), measured, ref compared);
        }
        Assert.AreEqual(0, mismatches.Count, "C and C# disagree:\n" + string.Join("\n", mismatches));
    }

    [TestMethod]
    public void PublicEnums_MirrorTheGeneratedOnes()
    {
        AssertSameMembers<MaskMode, PattnMaskMode>();
        AssertSameMembers<PaddingSide, PattnPaddingSide>();
        AssertSameMembers<AttentionStatus, PattnStatus>();
        AssertSameMembers<DeviceKind, PattnDeviceType>();
        var dtypes = new Dictionary<ElementType, PattnDtype>
        {
            [ElementType.Float32] = PattnDtype.F32,
            [ElementType.Float16] = PattnDtype.F16,
            [ElementType.BFloat16] = PattnDtype.Bf16,
            [ElementType.Int32] = PattnDtype.I32,
        };
        CollectionAssert.AreEquivalent(Enum.GetValues<ElementType>(), dtypes.Keys.ToArray());
        CollectionAssert.AreEquivalent(Enum.GetValues<PattnDtype>(), dtypes.Values.ToArray());
        foreach (var (element, dtype) in dtypes)
        {
            Assert.AreEqual((int)dtype, (int)element, $"{element} vs {dtype}");
        }
    }

    [TestMethod]
    public void Generator_ReproducesTheCommittedBindings()
    {
        string root = RepositoryRoot() ?? Inconclusive<string>("the repository (native/include/paddedattn.h) was not found above the test directory");
        string project = Path.Combine(root, "bindings", "PaddedAttention.Bindings", "PaddedAttention.Bindings.csproj");
        string committed = Path.Combine(root, "src", "Managed", "Interop", "NativeMethods.g.cs");
        if (!File.Exists(project) || !File.Exists(committed))
        {
            Assert.Inconclusive("the generator project or the committed bindings are missing");
        }
        string clang = FindOnPath("clang-14", "clang") ?? Inconclusive<string>("no clang to dump the header's AST");

        string generator = BuildGenerator(root);
        string scratch = Directory.CreateTempSubdirectory("pattn-bindings-").FullName;
        try
        {
            string fresh = Path.Combine(scratch, "NativeMethods.g.cs");
            var (exitCode, output) = RunProcess("dotnet",
                new[] { generator, "--header", "native/include/paddedattn.h", "--output", fresh, "--clang", clang },
                root, TimeSpan.FromMinutes(2));
            Assert.AreEqual(0, exitCode, "the generator failed:\n" + output);
            string expected = File.ReadAllText(committed);
            string actual = File.ReadAllText(fresh);
            if (expected != actual)
            {
                Assert.Fail("src/Managed/Interop/NativeMethods.g.cs differs from what the generator writes now; run ./build.sh bindings and commit. " +
                            $"First difference at character {FirstDifference(expected, actual)}.");
            }
            Assert.IsFalse(actual.Contains('\r'), "generated file must use \\n line endings");
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    [TestMethod]
    public void Generator_RefusesWhatItDoesNotUnderstand_NamingTheConstruct()
    {
        string root = RepositoryRoot() ?? Inconclusive<string>("the repository (native/include/paddedattn.h) was not found above the test directory");
        string clang = FindOnPath("clang-14", "clang") ?? Inconclusive<string>("no clang to dump the header's AST");
        string generator = BuildGenerator(root);
        var cases = new (string Name, string Declarations, string ExpectedInMessage)[]
        {
            ("union", "typedef union u { int32_t a; float b; } u;", "union"),
            ("bitfield", "typedef struct s { uint32_t a : 3; uint32_t b; } s;", "bit field s.a"),
            ("bool", "typedef struct s { _Bool flag; } s;", "bool"),
            ("function_pointer_field", "typedef struct s { void (*callback)(int32_t); } s;", "function pointer"),
            ("function_pointer_parameter", "int32_t f(int32_t (*callback)(void));", "function pointer"),
            ("variadic", "int32_t f(const char* format, ...);", "variadic function f"),
            ("unknown_typedef", "typedef int32_t my_int; int32_t f(my_int a);", "typedef my_int"),
            ("size_t", "#include <stddef.h>\nint32_t f(size_t bytes);", "size_t"),
            ("anonymous_struct", "typedef struct s { struct { int32_t a; } inner; } s;", "anonymous"),
            ("unknown_size_array", "typedef struct s { int32_t n; int32_t items[]; } s;", "array of unknown size"),
            ("unprototyped", "int32_t f();", "unprototyped"),
            ("opaque", "typedef struct handle handle; int32_t f(handle* h);", "struct handle"),
        };
        string scratch = Directory.CreateTempSubdirectory("pattn-refusals-").FullName;
        try
        {
            foreach (var (name, declarations, expected) in cases)
            {
                string header = Path.Combine(scratch, name + ".h");
                File.WriteAllText(header, "#include <stdint.h>\n" + declarations + "\n");
                string output = Path.Combine(scratch, name + ".cs");
                var (exitCode, text) = RunProcess("dotnet", new[] { generator, "--header", header, "--output", output, "--clang", clang },
                    scratch, TimeSpan.FromMinutes(1));
                Assert.AreEqual(2, exitCode, $"{name}: expected a refusal (exit code 2):\n{text}");
                StringAssert.Contains(text, expected, $"{name}: the message must name the construct");
                StringAssert.Contains(text, name + ".h:", $"{name}: the message must give the location");
                Assert.IsFalse(File.Exists(output), $"{name}: nothing may be written on a refusal");
            }

            // The same machinery accepts a plain header and maps it exactly.
            string good = Path.Combine(scratch, "good.h");
            File.WriteAllText(good,
                "#include <stdint.h>\n" +
                "typedef enum good_kind { GOOD_KIND_FIRST = 3, GOOD_KIND_SECOND, GOOD_KIND_BIG = 0x80000000u } good_kind;\n" +
                "typedef struct good_pair { good_kind kind; char name[5]; double weight; const void* data; uint16_t tag; } good_pair;\n" +
                "good_kind good_fn(const good_pair* pair, int64_t** out, uint8_t small);\n");
            string goodOutput = Path.Combine(scratch, "good.cs");
            var (goodExit, goodText) = RunProcess("dotnet", new[] { generator, "--header", good, "--output", goodOutput, "--clang", clang },
                scratch, TimeSpan.FromMinutes(1));
            Assert.AreEqual(0, goodExit, goodText);
            string generated = File.ReadAllText(goodOutput);
            foreach (var expected in new[]
            {
                "internal enum GoodKind : uint", "First = 3,", "Second = 4,", "Big = 2147483648,",
                "internal unsafe struct GoodPair", "public GoodKind kind;", "public fixed byte name[5];", "public double weight;",
                "public void* data;", "public ushort tag;",
                "internal static partial GoodKind good_fn(GoodPair* pair, long** @out, byte small);",
                "/// <param name=\"out\">C type: <c>int64_t **</c></param>",
            })
            {
                StringAssert.Contains(generated, expected);
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    // One build of the generator per test run, shared by the tests that use it.
    private static readonly object GeneratorGate = new();
    private static string? s_generatorPath;

    [ClassCleanup]
    public static void DeleteGeneratorBuild()
    {
        lock (GeneratorGate)
        {
            string? directory = s_generatorPath is null ? null : Path.GetDirectoryName(s_generatorPath);
            if (directory is not null && Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
            s_generatorPath = null;
        }
    }

    private static string BuildGenerator(string root)
    {
        lock (GeneratorGate)
        {
            if (s_generatorPath is not null)
            {
                return s_generatorPath;
            }
            string output = Path.Combine(Path.GetTempPath(), $"pattn-generator-{Environment.ProcessId}");
            var (exitCode, text) = RunProcess("dotnet",
                new[] { "build", "bindings/PaddedAttention.Bindings/PaddedAttention.Bindings.csproj", "-c", "Release", "-o", output, "-nologo", "-v:q", "-nodeReuse:false", "-p:UseSharedCompilation=false" },
                root, TimeSpan.FromMinutes(5), cleanDotnetEnvironment: true);
            Assert.AreEqual(0, exitCode, "building the generator failed:\n" + text);
            s_generatorPath = Path.Combine(output, "PaddedAttention.Bindings.dll");
            Assert.IsTrue(File.Exists(s_generatorPath), s_generatorPath);
            return s_generatorPath;
        }
    }

    // ------------------------------------------------------------------ model

    private static List<Type> GeneratedStructs() =>
        Library.GetTypes()
            .Where(t => t.Namespace == "PaddedAttention.Interop" && t.IsValueType && !t.IsEnum && t.GetCustomAttribute<NativeNameAttribute>() is not null)
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .ToList();

    private static List<Type> GeneratedEnums() =>
        Library.GetTypes()
            .Where(t => t.Namespace == "PaddedAttention.Interop" && t.IsEnum && t.GetCustomAttribute<NativeNameAttribute>() is not null)
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .ToList();

    // Every enum member and every constant of the *_constants classes, by C name.
    private static List<(string CName, long Value)> GeneratedConstants()
    {
        var result = new List<(string, long)>();
        foreach (var type in Library.GetTypes().Where(t => t.Namespace == "PaddedAttention.Interop" && t.GetCustomAttribute<NativeNameAttribute>() is not null))
        {
            if (!type.IsEnum && !(type.IsAbstract && type.IsSealed))
            {
                continue; // structs
            }
            foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
            {
                var cName = field.GetCustomAttribute<NativeNameAttribute>()?.Name;
                Assert.IsNotNull(cName, $"{type.Name}.{field.Name} has no [NativeName]");
                result.Add((cName, Convert.ToInt64(field.GetRawConstantValue(), CultureInfo.InvariantCulture)));
            }
        }
        return result;
    }

    private static IEnumerable<FieldInfo> InstanceFields(Type type) =>
        type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .OrderBy(f => (long)Marshal.OffsetOf(type, f.Name));

    private static string NativeName(MemberInfo member) =>
        member.GetCustomAttribute<NativeNameAttribute>()?.Name ?? throw new AssertFailedException($"{member.Name} has no [NativeName]");

    private static long FieldSize(FieldInfo field)
    {
        var fixedBuffer = field.GetCustomAttribute<FixedBufferAttribute>();
        if (fixedBuffer is not null)
        {
            return (long)Marshal.SizeOf(fixedBuffer.ElementType) * fixedBuffer.Length;
        }
        var type = field.FieldType;
        if (type.IsPointer || type == typeof(IntPtr) || type == typeof(UIntPtr))
        {
            return IntPtr.Size;
        }
        if (type.IsEnum)
        {
            return Marshal.SizeOf(Enum.GetUnderlyingType(type));
        }
        return Marshal.SizeOf(type);
    }

    private static int ManagedSize(Type type) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;

    private static void AssertSameMembers<TPublic, TNative>() where TPublic : struct, Enum where TNative : struct, Enum
    {
        var publicMembers = Enum.GetValues<TPublic>().Select(v => $"{v}={Convert.ToInt64(v, CultureInfo.InvariantCulture)}").Order(StringComparer.Ordinal).ToArray();
        var nativeMembers = Enum.GetValues<TNative>().Select(v => $"{v}={Convert.ToInt64(v, CultureInfo.InvariantCulture)}").Order(StringComparer.Ordinal).ToArray();
        CollectionAssert.AreEqual(nativeMembers, publicMembers, $"{typeof(TPublic).Name} vs {typeof(TNative).Name}");
    }

    private static void Compare(List<string> mismatches, string key, long csharp, Dictionary<string, long> measured, ref int compared)
    {
        if (!measured.TryGetValue(key, out long c))
        {
            mismatches.Add($"{key}: not printed by the C program");
            return;
        }
        Compare(mismatches, key, csharp, c, ref compared);
    }

    private static void Compare(List<string> mismatches, string key, long csharp, long c, ref int compared)
    {
        compared++;
        if (csharp != c)
        {
            mismatches.Add($"{key}: C {c}, C# {csharp}");
        }
    }

    // -------------------------------------------------------------- C program

    private static Dictionary<string, long> CompileAndRun(string body)
    {
        string root = RepositoryRoot() ?? Inconclusive<string>("the repository (native/include/paddedattn.h) was not found above the test directory");
        string compiler = FindOnPath("clang-14", "cc", "gcc", "clang") ?? Inconclusive<string>("no C compiler (clang-14, cc, gcc) on PATH");
        string scratch = Directory.CreateTempSubdirectory("pattn-layout-").FullName;
        try
        {
            string source = Path.Combine(scratch, "layout.c");
            string program = Path.Combine(scratch, "layout");
            File.WriteAllText(source,
                "#include <stddef.h>\n#include <stdio.h>\n#include \"paddedattn.h\"\n\nint main(void)\n{\n" + body + "    return 0;\n}\n");
            var (compileExit, compileOutput) = RunProcess(compiler,
                new[] { "-std=c11", "-Wall", "-Werror", "-I", Path.Combine(root, "native", "include"), source, "-o", program },
                scratch, TimeSpan.FromMinutes(2));
            Assert.AreEqual(0, compileExit, $"{compiler} failed on the generated layout program:\n{compileOutput}");
            var (runExit, runOutput) = RunProcess(program, Array.Empty<string>(), scratch, TimeSpan.FromMinutes(1));
            Assert.AreEqual(0, runExit, runOutput);

            var values = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var line in runOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                int space = line.LastIndexOf(' ');
                values[line[..space]] = long.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
            }
            return values;
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    // ------------------------------------------------------------- processes

    internal static string? RepositoryRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "native", "include", "paddedattn.h")))
                {
                    return directory.FullName;
                }
            }
        }
        return null;
    }

    private static string? FindOnPath(params string[] names)
    {
        var directories = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (var name in names)
        {
            foreach (var directory in directories)
            {
                string candidate = Path.Combine(directory, OperatingSystem.IsWindows() ? name + ".exe" : name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }
        return null;
    }

    private static (int ExitCode, string Output) RunProcess(string fileName, IEnumerable<string> arguments, string workingDirectory,
        TimeSpan timeout, bool cleanDotnetEnvironment = false)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        if (cleanDotnetEnvironment)
        {
            // The test host's MSBuild variables would point a nested build at the
            // wrong SDK state; build servers would keep the output pipes open.
            foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            {
                start.Environment.Remove(key);
            }
            start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
            start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
            start.Environment["UseSharedCompilation"] = "false";
            start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            start.Environment["DOTNET_NOLOGO"] = "1";
        }
        using var process = Process.Start(start) ?? throw new AssertFailedException($"could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{fileName} did not finish within {timeout}");
        }
        Task.WaitAll(new Task[] { stdout, stderr }, TimeSpan.FromSeconds(30));
        string output = (stdout.IsCompletedSuccessfully ? stdout.Result : "") + (stderr.IsCompletedSuccessfully ? stderr.Result : "");
        return (process.ExitCode, output);
    }

    private static T Inconclusive<T>(string reason)
    {
        Assert.Inconclusive(reason);
        throw new UnreachableException();
    }

    private static int FirstDifference(string a, string b)
    {
        int length = Math.Min(a.Length, b.Length);
        for (int i = 0; i < length; i++)
        {
            if (a[i] != b[i])
            {
                return i;
            }
        }
        return length;
    }
}
