// The two constants of the base-2 softmax, one spelling each, for host and
// device code: scores are scaled by log2(e) so that exp2 serves as exp, and
// a base-2 lse becomes the natural-log lse of the ABI by a factor ln(2).
#pragma once

namespace pattn {
namespace cuda {

constexpr float kLog2e = 1.4426950408889634f;  // log2(e)
constexpr float kLn2 = 0.69314718055994531f;   // ln(2)

}  // namespace cuda
}  // namespace pattn
