using System.Diagnostics;
using System.Text;

namespace PaddedAttention.Bindings;

/// <summary>
/// paddedattn.h -> NativeMethods.g.cs (and, with --python-output, the Python
/// ctypes module). Runs clang's JSON AST dump of the header (or reads a saved
/// one), checks every declaration of the header itself and writes C# (and
/// Python) bindings from that one model. Exit codes: 0 done, 1 --check found a difference,
/// 2 the header holds something the generator does not understand (or clang
/// failed), 64 bad command line.
/// </summary>
internal static class Program
{
    private const string Usage =
        "usage: PaddedAttention.Bindings --header <file.h> --output <file.cs> [--python-output <file.py>]\n" +
        "                                [--clang <clang binary>] [--ast-json <dump.json>]\n" +
        "                                [--header-name <name shown in the output>] [--check]\n" +
        "  --check  do not write; exit 1 when an output differs from what would be generated";

    private const string RegenerateCommand =
        "./build.sh bindings (or: dotnet run --project bindings/PaddedAttention.Bindings -- --header native/include/paddedattn.h --output src/Managed/Interop/NativeMethods.g.cs)";

    private const string PythonRegenerateCommand =
        "./build.sh bindings (or: dotnet run --project bindings/PaddedAttention.Bindings -- --header native/include/paddedattn.h --output src/Managed/Interop/NativeMethods.g.cs --python-output bindings/python/paddedattn/_native.py)";

    public static int Main(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException error)
        {
            Console.Error.WriteLine($"error: {error.Message}");
            Console.Error.WriteLine(Usage);
            return 64;
        }

        try
        {
            string json = options.AstJson is not null
                ? File.ReadAllText(options.AstJson)
                : RunClang(options.Clang, options.Header!);
            var ast = ClangAst.Parse(json);
            string mainFile = SelectMainFile(ast, options.Header);
            var model = HeaderModel.Build(ast, mainFile);
            string headerName = options.HeaderName ?? DisplayPath(options.Header ?? mainFile);
            var outputs = new List<(string Path, string Text)>
            {
                (options.Output!, CSharpEmitter.Emit(model, headerName, RegenerateCommand)),
            };
            if (options.PythonOutput is not null)
            {
                outputs.Add((options.PythonOutput, PythonEmitter.Emit(model, headerName, PythonRegenerateCommand)));
            }

            if (options.Check)
            {
                int status = 0;
                foreach (var (path, generated) in outputs)
                {
                    string existing = File.Exists(path) ? File.ReadAllText(path) : "";
                    if (existing != generated)
                    {
                        Console.Error.WriteLine($"{path} is out of date with {headerName}: run {RegenerateCommand}");
                        status = 1;
                    }
                    else
                    {
                        Console.WriteLine($"{path} is up to date with {headerName}.");
                    }
                }
                return status;
            }

            foreach (var (path, generated) in outputs)
            {
                string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
                if (directory is not null)
                {
                    Directory.CreateDirectory(directory);
                }
                File.WriteAllText(path, generated, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
                Console.WriteLine($"wrote {path}: {model.Enums.Count} enums, {model.Structs.Count} structs, {model.Functions.Count} functions from {headerName}");
            }
            return 0;
        }
        catch (BindingException error)
        {
            Console.Error.WriteLine($"error: {error.Location}: {error.Message}");
            Console.Error.WriteLine("The generator refuses constructs it does not understand instead of guessing their layout.");
            return 2;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"error: {error.Message}");
            return 2;
        }
    }

    private static string RunClang(string? clang, string header)
    {
        if (!File.Exists(header))
        {
            throw new IOException($"header not found: {header}");
        }
        var candidates = clang is not null
            ? new[] { clang }
            : new[] { "clang", "clang-19", "clang-18", "clang-17", "clang-16", "clang-15", "clang-14" };
        var failures = new List<string>();
        foreach (var candidate in candidates)
        {
            var start = new ProcessStartInfo(candidate)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[] { "-Xclang", "-ast-dump=json", "-fsyntax-only", "-x", "c", header })
            {
                start.ArgumentList.Add(argument);
            }
            Process process;
            try
            {
                process = Process.Start(start) ?? throw new IOException($"could not start {candidate}");
            }
            catch (System.ComponentModel.Win32Exception error)
            {
                failures.Add($"{candidate}: {error.Message}");
                continue;
            }
            using (process)
            {
                var stdout = process.StandardOutput.ReadToEndAsync();
                var stderr = process.StandardError.ReadToEndAsync();
                process.WaitForExit();
                if (process.ExitCode != 0)
                {
                    throw new BindingException($"{candidate} failed on the header (exit code {process.ExitCode}):\n{stderr.Result}", header);
                }
                return stdout.Result;
            }
        }
        throw new IOException("no clang found (pass --clang <binary>): " + string.Join("; ", failures));
    }

    private static string SelectMainFile(ClangAst ast, string? header)
    {
        var mainFiles = ast.MainFiles;
        if (mainFiles.Count == 1)
        {
            return mainFiles[0];
        }
        if (header is not null)
        {
            string fullHeader = Path.GetFullPath(header);
            var match = mainFiles.FirstOrDefault(f => Path.GetFullPath(f) == fullHeader)
                ?? mainFiles.FirstOrDefault(f => Path.GetFileName(f) == Path.GetFileName(header));
            if (match is not null)
            {
                return match;
            }
        }
        throw new BindingException(
            $"cannot tell which file of the AST is the header (candidates: {string.Join(", ", mainFiles)})", header ?? "<ast>");
    }

    // The header as written into the output: repository-relative when run from
    // the repository root, so the output does not depend on where the checkout is.
    private static string DisplayPath(string path)
    {
        string relative = Path.IsPathRooted(path) ? Path.GetRelativePath(Environment.CurrentDirectory, path) : path;
        if (relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative))
        {
            relative = Path.GetFileName(path);
        }
        relative = relative.Replace('\\', '/');
        return relative.StartsWith("./", StringComparison.Ordinal) ? relative[2..] : relative;
    }

    private sealed class Options
    {
        public string? Header { get; private set; }
        public string? Output { get; private set; }
        public string? Clang { get; private set; }
        public string? AstJson { get; private set; }
        public string? HeaderName { get; private set; }
        public string? PythonOutput { get; private set; }
        public bool Check { get; private set; }

        public static Options Parse(string[] args)
        {
            var options = new Options();
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--header": options.Header = Value(); break;
                    case "--output": options.Output = Value(); break;
                    case "--python-output": options.PythonOutput = Value(); break;
                    case "--clang": options.Clang = Value(); break;
                    case "--ast-json": options.AstJson = Value(); break;
                    case "--header-name": options.HeaderName = Value(); break;
                    case "--check": options.Check = true; break;
                    case "-h" or "--help": throw new ArgumentException("help requested");
                    default: throw new ArgumentException($"unknown argument '{args[i]}'");
                }
            }
            if (options.Output is null)
            {
                throw new ArgumentException("--output is required");
            }
            if (options.Header is null && options.AstJson is null)
            {
                throw new ArgumentException("--header or --ast-json is required");
            }
            return options;
        }
    }
}
