namespace PaddedAttention.Onnx;

/// <summary>Where libpaddedattn_ort (native/ort/, the library that registers
/// com.paddedattention.SequencePrefill with ONNX Runtime) is.</summary>
public static class OperatorLibrary
{
    public const string FileName = "libpaddedattn_ort.so";

    /// <summary>
    /// PADDEDATTN_ORT_LIB when set; else the file beside PADDEDATTN_NATIVE_LIB (build.sh sets
    /// both to the CMake build folder); else beside the application. Pass the result to
    /// SessionOptions.RegisterCustomOpLibrary.
    /// </summary>
    public static string Locate()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("PADDEDATTN_ORT_LIB") is { Length: > 0 } explicitPath)
            candidates.Add(explicitPath);
        if (Environment.GetEnvironmentVariable("PADDEDATTN_NATIVE_LIB") is { Length: > 0 } nativeLib
            && Path.GetDirectoryName(Path.GetFullPath(nativeLib)) is { } dir)
            candidates.Add(Path.Combine(dir, FileName));
        candidates.Add(Path.Combine(AppContext.BaseDirectory, FileName));
        foreach (var candidate in candidates)
            if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        throw new FileNotFoundException(
            $"{FileName} was not found (looked at: {string.Join(", ", candidates)}). It is built by CMake when " +
            "PADDEDATTN_ORT_INCLUDE_DIR names ONNX Runtime's C API headers (./build.sh build does this); " +
            "set PADDEDATTN_ORT_LIB to its path.");
    }
}
