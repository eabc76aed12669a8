/* CPU backend: the PADDEDATTN_CPU_ISA switch (native/cpu/isa.cpp).
 * The program runs itself once per value of the variable (unset, empty,
 * scalar, avx2, avx512, avx512_bf16, an unknown word) and checks, against
 * the CPU flags of /proc/cpuinfo (read here, independently of the library's
 * cpuid code):
 *   - pattn_capabilities.cpu_isa names min(requested, best path of this CPU);
 *   - a request above what the CPU has, or an unknown value, still runs (the
 *     best path) and prints one message naming the variable and its value on
 *     stderr; an honoured request or no request prints none;
 *   - under every value, f32/f16/bf16 prefills with GQA, odd and zero
 *     lengths, NaN padding and head_dims 16/40/80/128 match the float64
 *     reference (so a forced path really computes).
 * Linux only (popen, /proc/cpuinfo); elsewhere it reports skipped. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

enum { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Bf16 = 3, kPaths = 4 };
static const char* const kNames[kPaths] = {"scalar", "avx2", "avx512", "avx512_bf16"};
/* What pattn_capabilities.cpu_isa says for each path (isa.cpp). */
static const char* const kCapsText[kPaths] = {"portable", "AVX2", "AVX-512 (", "AVX512_BF16"};

/* The child: the capabilities line, then prefills against the reference. */
static int child(void) {
    pattn_capabilities caps;
    memset(&caps, 0, sizeof caps);
    caps.struct_size = sizeof caps;
    CHECK_OK(pattn_get_capabilities(&caps));
    printf("cpu_isa=%s\n", caps.cpu_isa);
    {
        static const pattn_dtype dtypes[] = {PATTN_DTYPE_BF16, PATTN_DTYPE_F16, PATTN_DTYPE_F32};
        static const int32_t head_dims[] = {16, 40, 80, 128};
        int i;
        for (i = 0; i < 8; ++i) {
            char label[96];
            tu_prefill_case c;
            memset(&c, 0, sizeof c);
            c.mode = (pattn_mask_mode)(i % 4);
            c.use_lens = 1;
            c.separate_kv = i % 2;
            c.dtype = i < 4 ? dtypes[0] : dtypes[(i - 4) % 3];
            c.batch = 4;
            c.q_len = 37 + 29 * (i % 3);
            c.kv_len = c.separate_kv ? c.q_len + 170 : c.q_len;  /* more than one key tile */
            c.num_kv_heads = 1 + i % 2;
            c.num_qo_heads = c.num_kv_heads * (i % 3 == 0 ? 1 : (i % 3 == 1 ? 3 : 4));
            c.head_dim = head_dims[i % 4];
            c.with_lse = 1;
            c.pad_poison = 1 + i % 3;  /* NaN, +Inf, -Inf in the padding */
            c.q_range = i % 2 ? 6.0f : 0.0f;
            c.seed = 0x15A0u + (uint64_t)i;
            snprintf(label, sizeof label, "case %d dtype %d d %d hq %d hk %d", i, (int)c.dtype, c.head_dim,
                     c.num_qo_heads, c.num_kv_heads);
            tu_run_prefill_case(&c, label);
        }
    }
    return tu_failures ? 1 : 0;
}

#if defined(__linux__)
/* The best path of this CPU from /proc/cpuinfo's flags (as build.sh reads them). */
static int best_path(void) {
    char line[8192];
    int best = kScalar;
    FILE* f = fopen("/proc/cpuinfo", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0) continue;
        {
            char padded[8200];
#define HAS(flag) (strstr(padded, " " flag " ") != NULL)
            char* colon = strchr(line, ':');
            size_t n;
            snprintf(padded, sizeof padded, " %s", colon ? colon + 1 : line);
            n = strlen(padded);
            if (n > 0 && padded[n - 1] == '\n') padded[n - 1] = ' ';
            else if (n + 1 < sizeof padded) { padded[n] = ' '; padded[n + 1] = '\0'; }
            if (HAS("avx2") && HAS("fma") && HAS("f16c")) {
                best = kAvx2;
                if (HAS("avx512f") && HAS("avx512bw") && HAS("avx512vl") && HAS("avx512dq")) {
                    best = kAvx512;
                    if (HAS("avx512_bf16")) best = kAvx512Bf16;
                }
            }
#undef HAS
        }
        break;
    }
    fclose(f);
#if !defined(__x86_64__)
    best = kScalar;
#endif
    return best;
}

/* Runs `self --child` with PADDEDATTN_CPU_ISA = value (NULL: unset); the
 * child's stdout and stderr together into out. Returns its exit status. */
static int run_child(const char* self, const char* value, char* out, size_t cap) {
    char command[4200];
    FILE* p;
    size_t used = 0;
    int status;
    if (value) setenv("PADDEDATTN_CPU_ISA", value, 1);
    else unsetenv("PADDEDATTN_CPU_ISA");
    snprintf(command, sizeof command, "'%s' --child 2>&1", self);
    fflush(stdout);
    p = popen(command, "r");
    if (!p) return -1;
    while (used + 1 < cap) {
        size_t got = fread(out + used, 1, cap - 1 - used, p);
        if (got == 0) break;
        used += got;
    }
    out[used] = '\0';
    status = pclose(p);
    return status;
}

static void check_value(const char* self, const char* value, int want_path, int want_message) {
    static char out[1 << 16];
    char expect[128];
    const char* isa_line;
    const char* shown = value ? value : "(unset)";
    const int status = run_child(self, value, out, sizeof out);
    CHECK_MSG(status == 0, "PADDEDATTN_CPU_ISA=%s: child exited with %d:\n%s", shown, status, out);
    isa_line = strstr(out, "cpu_isa=");
    CHECK_MSG(isa_line != NULL, "PADDEDATTN_CPU_ISA=%s: no capabilities line:\n%s", shown, out);
    if (isa_line) {
        char text[128];
        size_t n = strcspn(isa_line, "\n");
        snprintf(text, sizeof text, "%.*s", (int)(n < 127 ? n : 127), isa_line);
        CHECK_MSG(strstr(text, kCapsText[want_path]) != NULL, "PADDEDATTN_CPU_ISA=%s: %s, expected the %s path",
                  shown, text, kNames[want_path]);
        /* Only the wanted path's text: "AVX-512 (" is not the bf16 one, and so on. */
        if (want_path == kAvx512) CHECK(strstr(text, "AVX512_BF16") == NULL);
    }
    snprintf(expect, sizeof expect, "paddedattn: PADDEDATTN_CPU_ISA=%s ", value ? value : "");
    if (want_message) {
        const char* m = strstr(out, expect);
        CHECK_MSG(m != NULL, "PADDEDATTN_CPU_ISA=%s: no message on stderr:\n%s", shown, out);
        if (m) {
            snprintf(expect, sizeof expect, "runs %s, the best path", kNames[want_path]);
            CHECK_MSG(strstr(m, expect) != NULL, "PADDEDATTN_CPU_ISA=%s: the message does not say \"%s\":\n%s",
                      shown, expect, out);
            CHECK_MSG(strstr(m + 1, "paddedattn: PADDEDATTN_CPU_ISA=") == NULL,
                      "PADDEDATTN_CPU_ISA=%s: the message is printed more than once", shown);
        }
    } else {
        CHECK_MSG(strstr(out, "paddedattn: PADDEDATTN_CPU_ISA=") == NULL,
                  "PADDEDATTN_CPU_ISA=%s: unexpected message:\n%s", shown, out);
    }
    printf("PADDEDATTN_CPU_ISA=%-12s -> %s%s\n", shown, kNames[want_path], want_message ? " (with message)" : "");
}
#endif

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "--child") == 0) return child();
#if defined(__linux__)
    {
        const int best = best_path();
        int i;
        if (best < 0) {
            printf("test_cpu_isa: no /proc/cpuinfo\n");
            return TEST_SKIP;
        }
        printf("test_cpu_isa: best path of this CPU (from /proc/cpuinfo): %s\n", kNames[best]);
        check_value(argv[0], NULL, best, 0);
        check_value(argv[0], "", best, 0);
        for (i = 0; i < kPaths; ++i) check_value(argv[0], kNames[i], i <= best ? i : best, i > best);
        check_value(argv[0], "avx1024", best, 1);
        check_value(argv[0], "AVX2", best, 1);  /* values are lower case */
    }
    return tu_finish("test_cpu_isa");
#else
    printf("test_cpu_isa: needs popen and /proc/cpuinfo (Linux)\n");
    return TEST_SKIP;
#endif
}
