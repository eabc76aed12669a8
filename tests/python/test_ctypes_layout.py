#!/usr/bin/env python3
"""Checks the generated ctypes declarations (bindings/python/paddedattn/_native.py)
against the header as a C compiler sees it, as tests/PaddedAttention.Tests/
InteropLayoutTests.cs does for the C# bindings:

- coverage: every struct, enum, enum constant and function the header declares
  (read here with regular expressions, independently of the generator) is in
  the Python tables, with the same number of parameters;
- layout: a C program generated from the Python tables, compiled against
  native/include, prints every struct's size and alignment, every field's
  offset and size, every enum's size and every constant's value; each must
  equal what ctypes computes.

Run with bindings/python on PYTHONPATH (./build.sh test does). Last line:
"N passed, N failed, N skipped". Without a C compiler the layout tests skip.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile

from paddedattn import _native
from suite import report, skip, summary  # tests/python/suite.py

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INCLUDE = os.path.join(REPO, "native", "include")
HEADER = os.path.join(INCLUDE, "paddedattn.h")


# ---------------------------------------------------------------- coverage --

def header_declarations():
    """Struct, enum and function names and enum constants of the header, by regex."""
    text = open(HEADER, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    structs = re.findall(r"typedef\s+struct\s+(\w+)\s*\{", text)
    enums = {}
    for name, body in re.findall(r"typedef\s+enum\s+(\w+)\s*\{(.*?)\}", text, flags=re.S):
        enums[name] = {c: int(v, 0) for c, v in re.findall(r"(\w+)\s*=\s*(-?\w+)", body)}
    functions = {}
    for name, params in re.findall(r"PATTN_API\s+[^;(]*?\b(\w+)\s*\(([^)]*)\)\s*;", text):
        params = params.strip()
        functions[name] = 0 if params in ("", "void") else params.count(",") + 1
    return structs, enums, functions


def test_coverage() -> None:
    structs, enums, functions = header_declarations()
    problems = []
    if sorted(structs) != sorted(_native.STRUCTS):
        problems.append("structs: header %s, Python %s" % (sorted(structs), sorted(_native.STRUCTS)))
    python_constants = dict(_native.CONSTANTS)
    python_constants.update({k: int(v) for k, v in _native.ENUM_CONSTANTS.items()})
    for enum_name, constants in enums.items():
        if enum_name != "pattn_constants" and enum_name not in _native.ENUMS:
            problems.append("enum %s is missing" % enum_name)
        for constant, value in constants.items():
            if python_constants.get(constant) != value:
                problems.append("%s = %d in the header, %r in Python" % (constant, value, python_constants.get(constant)))
    header_constants = {c for constants in enums.values() for c in constants}
    for extra in sorted(set(python_constants) - header_constants):
        problems.append("%s is not in the header" % extra)
    for name, count in functions.items():
        if name not in _native.FUNCTIONS:
            problems.append("function %s is missing" % name)
        elif len(_native.FUNCTIONS[name][1]) != count:
            problems.append("%s takes %d parameters, Python declares %d" % (name, count, len(_native.FUNCTIONS[name][1])))
    for extra in sorted(set(_native.FUNCTIONS) - set(functions)):
        problems.append("function %s is not in the header" % extra)
    if not functions or not structs or not enums:
        problems.append("the header parse found nothing (structs %d, enums %d, functions %d)"
                        % (len(structs), len(enums), len(functions)))
    report("coverage of the header (%d structs, %d enums, %d functions)" % (len(structs), len(enums), len(functions)),
           problems)


# ------------------------------------------------------------------ layout --

def find_compiler():
    for candidate in (os.environ.get("CC"), "cc", "clang-14", "clang", "gcc"):
        if candidate and shutil.which(candidate):
            return candidate
    return None


def c_program() -> str:
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include \"paddedattn.h\"", "int main(void) {"]
    for c_name, cls in _native.STRUCTS.items():
        lines.append('    printf("struct %s %%zu %%zu\\n", sizeof(%s), _Alignof(%s));' % (c_name, c_name, c_name))
        for field, _ in cls._fields_:
            lines.append('    printf("field %s.%s %%zu %%zu\\n", offsetof(%s, %s), sizeof(((%s*)0)->%s));'
                         % (c_name, field, c_name, field, c_name, field))
    for c_name in _native.ENUMS:
        lines.append('    printf("enum %s %%zu\\n", sizeof(%s));' % (c_name, c_name))
    for c_name in list(_native.CONSTANTS) + list(_native.ENUM_CONSTANTS):
        lines.append('    printf("const %s %%lld\\n", (long long)%s);' % (c_name, c_name))
    lines += ["    return 0;", "}"]
    return "\n".join(lines) + "\n"


def measured_layout(compiler: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "layout.c")
        exe = os.path.join(tmp, "layout")
        with open(source, "w", encoding="utf-8") as f:
            f.write(c_program())
        subprocess.run([compiler, "-std=c11", "-Wall", "-Werror", "-I", INCLUDE, source, "-o", exe],
                       check=True, capture_output=True, text=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    values = {}
    for line in out.splitlines():
        kind, name, *numbers = line.split()
        values[(kind, name)] = tuple(int(n) for n in numbers)
    return values


def test_layout() -> None:
    compiler = find_compiler()
    names = ["struct %s" % n for n in _native.STRUCTS] + ["enum sizes", "constant values"]
    if compiler is None:
        for n in names:
            skip(n, "no C compiler")
        return
    try:
        c = measured_layout(compiler)
    except subprocess.CalledProcessError as error:
        for n in names:
            report(n, ["the C program failed: %s" % (error.stderr or error.stdout)])
        return

    for c_name, cls in _native.STRUCTS.items():
        problems = []
        size, align = c[("struct", c_name)]
        if ctypes.sizeof(cls) != size:
            problems.append("sizeof: C %d, ctypes %d" % (size, ctypes.sizeof(cls)))
        if ctypes.alignment(cls) != align:
            problems.append("alignment: C %d, ctypes %d" % (align, ctypes.alignment(cls)))
        for field, _ in cls._fields_:
            offset, field_size = c[("field", "%s.%s" % (c_name, field))]
            descriptor = getattr(cls, field)
            if (descriptor.offset, descriptor.size) != (offset, field_size):
                problems.append("%s: C offset %d size %d, ctypes offset %d size %d"
                                % (field, offset, field_size, descriptor.offset, descriptor.size))
        report("struct %s (%d fields)" % (c_name, len(cls._fields_)), problems)

    problems = []
    for c_name in _native.ENUMS:
        (size,) = c[("enum", c_name)]
        # Enum fields and parameters are declared as c_int: the C enum must be int-sized.
        if size != ctypes.sizeof(ctypes.c_int):
            problems.append("sizeof(%s) = %d, ctypes.c_int has %d" % (c_name, size, ctypes.sizeof(ctypes.c_int)))
    report("enum sizes (%d enums)" % len(_native.ENUMS), problems)

    problems = []
    python_values = dict(_native.CONSTANTS)
    python_values.update({k: int(v) for k, v in _native.ENUM_CONSTANTS.items()})
    for c_name, value in python_values.items():
        (measured,) = c[("const", c_name)]
        if measured != value:
            problems.append("%s: C %d, Python %d" % (c_name, measured, value))
    report("constant values (%d)" % len(python_values), problems)


def main() -> int:
    test_coverage()
    test_layout()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
