#!/usr/bin/env python3
"""Compiles and runs every C#, C and Python code block of README.md and docs/*.md.

The blocks are extracted from the markdown itself, so the documentation cannot
drift from what is tested. Each block is a complete program:
  csharp  a top-level-statements console app referencing src/Managed (ProjectReference);
  c       compiled with -std=c11 -Wall -Wextra -Werror against libpaddedattn, then run;
  python  run with the Python binding's folder on PYTHONPATH.
A comment on the line before a block's fence adjusts it:
  <!-- snippet: packages=Microsoft.ML.OnnxRuntime@1.32.0 -->   NuGet packages the C# block needs
  <!-- snippet: compile-only (reason) -->                       build it but do not run it
  <!-- snippet: skip (reason) -->                               not a program (counted as skipped)
Every program must exit 0. Last line: "N passed, N failed, N skipped".

Usage: check_doc_snippets.py --root REPO --native-lib path/to/libpaddedattn.so [--only FILE]
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```([A-Za-z#+]*)\s*$")
MARKER = re.compile(r"^<!--\s*snippet:\s*(.*?)\s*-->\s*$")
LANGUAGES = {"csharp": "csharp", "cs": "csharp", "c#": "csharp", "c": "c", "python": "python", "py": "python"}


def extract(path):
    """(line, language, code, options) for every block of a checked language."""
    blocks = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m and m.group(1):
            language = LANGUAGES.get(m.group(1).lower())
            start = i
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            if language:
                options = ""
                k = start - 1
                while k >= 0 and lines[k].strip() == "":
                    k -= 1
                if k >= 0:
                    mm = MARKER.match(lines[k].strip())
                    if mm:
                        options = mm.group(1)
                blocks.append((start + 1, language, "\n".join(lines[start + 1:j]) + "\n", options))
            i = j + 1
        else:
            i += 1
    return blocks


def run(command, cwd, env=None, timeout=900):
    result = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=timeout)
    return result.returncode, result.stdout


def packages_of(options):
    m = re.search(r"packages=([^\s;]+)", options)
    if not m:
        return []
    return [tuple(p.split("@", 1)) for p in m.group(1).split(",") if p]


def check_csharp(code, options, root, native_lib, work):
    managed = os.path.join(root, "src", "Managed", "PaddedAttention.csproj")
    references = "".join(f'    <PackageReference Include="{name}" Version="{version}" />\n'
                         for name, version in packages_of(options))
    with open(os.path.join(work, "Snippet.csproj"), "w") as f:
        f.write(f"""<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
    <InvariantGlobalization>true</InvariantGlobalization>
  </PropertyGroup>
  <ItemGroup>
    <ProjectReference Include="{managed}" />
{references}  </ItemGroup>
</Project>
""")
    with open(os.path.join(work, "Program.cs"), "w") as f:
        f.write(code)
    rc, out = run(["dotnet", "build", "-c", "Release", "-nologo", "-v:q", "-clp:NoSummary", "-o", "out"], work)
    if rc != 0:
        return False, "build failed:\n" + out
    if "compile-only" in options:
        return True, "compiled (compile-only)"
    env = dict(os.environ, PADDEDATTN_NATIVE_LIB=native_lib)
    rc, out = run(["dotnet", os.path.join("out", "Snippet.dll")], work, env)
    return rc == 0, out


def check_c(code, options, root, native_lib, work):
    source = os.path.join(work, "snippet.c")
    with open(source, "w") as f:
        f.write(code)
    lib_dir = os.path.dirname(native_lib)
    compiler = os.environ.get("CC", "cc")
    rc, out = run([compiler, "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror",
                   "-I", os.path.join(root, "native", "include"), source, "-L", lib_dir, "-lpaddedattn", "-lm",
                   f"-Wl,-rpath,{lib_dir}", "-o", os.path.join(work, "snippet")], work)
    if rc != 0:
        return False, "compile failed:\n" + out
    if "compile-only" in options:
        return True, "compiled (compile-only)"
    rc, out = run([os.path.join(work, "snippet")], work)
    return rc == 0, out


def check_python(code, options, root, native_lib, work):
    script = os.path.join(work, "snippet.py")
    with open(script, "w") as f:
        f.write(code)
    paths = [p for p in (os.path.join(root, "bindings", "python"), os.path.join(root, "samples", "python")) if os.path.isdir(p)]
    env = dict(os.environ, PADDEDATTN_NATIVE_LIB=native_lib,
               PYTHONPATH=os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]))
    if "compile-only" in options:
        rc, out = run([sys.executable, "-m", "py_compile", script], work, env)
    else:
        rc, out = run([sys.executable, script], work, env)
    return rc == 0, out


CHECKS = {"csharp": check_csharp, "c": check_c, "python": check_python}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--native-lib", required=True)
    parser.add_argument("--only", help="check only this markdown file")
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    files = [args.only] if args.only else [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    passed = failed = skipped = 0
    for path in files:
        for line, language, code, options in extract(path):
            label = f"{os.path.relpath(path, root)}:{line} ({language})"
            if options.startswith("skip"):
                print(f"skipped {label}: {options}")
                skipped += 1
                continue
            work = tempfile.mkdtemp(prefix="pattn-snippet-")
            try:
                ok, output = CHECKS[language](code, options, root, os.path.abspath(args.native_lib), work)
            except subprocess.TimeoutExpired:
                ok, output = False, "timed out"
            finally:
                shutil.rmtree(work, ignore_errors=True)
            if ok:
                passed += 1
                print(f"passed  {label}")
            else:
                failed += 1
                print(f"FAILED  {label}")
            print("        " + output.strip().replace("\n", "\n        ")[-4000:])
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
