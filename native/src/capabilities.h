// Internal: the hook through which the CPU backend reports the instruction set
// it dispatches to at run time (pattn_capabilities.cpu_isa). capabilities.cpp
// holds a weak default that names the compiled baseline; a CPU backend with
// runtime ISA dispatch defines this function (a strong definition) and wins.
#pragma once

namespace pattn {

// A static, NUL-terminated name such as "x86-64 AVX2"; at most 63 characters.
const char* cpu_isa_in_use();

}  // namespace pattn
