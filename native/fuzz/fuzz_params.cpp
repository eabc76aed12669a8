// libFuzzer target over the parameter structs of pattn_sequence_prefill,
// pattn_decode and pattn_merge_states (CPU backend; built by build.sh test
// with clang -fsanitize=fuzzer,address,undefined, corpus in fuzz/corpus/).
//
// Input: one byte choosing the call, then the bytes of its params struct
// (zero-filled when short). Every field is taken as it comes (struct_size,
// enum values, ndim, shapes, strides, scale, reserved words) except the data
// pointers: a zero pointer stays NULL, any other becomes an address inside
// one arena, at an offset from the pointer's bits (not always aligned). A
// view whose bytes, from its shape and strides, would not fit in the arena
// after that address gets NULL instead (the caller's promise that a view is
// backed by memory is the one thing validation cannot check); so an
// out-of-bounds access, a crash or undefined behaviour is a library bug.
// Calls whose work would take long on the CPU are skipped.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "paddedattn.h"

namespace {

constexpr size_t kArenaBytes = 1 << 20;
alignas(64) unsigned char g_arena[kArenaBytes];

size_t element_size(int32_t dtype) { return dtype == PATTN_DTYPE_F16 || dtype == PATTN_DTYPE_BF16 ? 2 : 4; }

// Where the harness puts tensor t, by the rules above.
void place(pattn_tensor* t) {
    uint64_t bits;
    std::memcpy(&bits, &t->data, sizeof bits);
    if (bits == 0) return;
    size_t offset = static_cast<size_t>(bits % kArenaBytes);
    if ((bits >> 63) == 0) offset &= ~static_cast<size_t>(15);  // usually aligned
    t->data = g_arena + offset;
    int32_t dtype;
    std::memcpy(&dtype, &t->dtype, sizeof dtype);
    // Bytes the view reaches, if its description is well formed enough to
    // say; otherwise validation refuses it before any access.
    if (t->ndim < 1 || t->ndim > PATTN_MAX_DIMS) return;
    unsigned __int128 last = 0;
    for (int i = 0; i < t->ndim; ++i) {
        if (t->shape[i] < 0 || t->strides[i] < 0) return;
        if (t->shape[i] == 0) return;  // empty: nothing is read
        last += static_cast<unsigned __int128>(t->shape[i] - 1) * static_cast<uint64_t>(t->strides[i]);
    }
    const unsigned __int128 bytes = (last + 1) * element_size(dtype);
    if (bytes > kArenaBytes - offset) t->data = nullptr;
}

int64_t dim(const pattn_tensor& t, int i) { return t.ndim > i && t.shape[i] > 0 ? t.shape[i] : 1; }

// Rough work of an attention call, to skip the slow ones.
bool too_slow(const pattn_tensor& q, const pattn_tensor& k) {
    const double work = static_cast<double>(dim(q, 0)) * dim(q, 1) * dim(q, 2) * dim(q, 3) * dim(k, 1);
    return work > 2e7;
}

void check_failure(pattn_status s) {
    if (s == PATTN_STATUS_SUCCESS) return;
    // A failure always explains itself, and the argument is a short name.
    if (pattn_last_error_message()[0] == '\0' || std::strlen(pattn_last_error_argument()) > 32) {
        std::fprintf(stderr, "status %d without a message or with a bad argument name\n", (int)s);
        std::abort();
    }
}

template <typename Params>
bool read_params(const uint8_t* data, size_t size, Params* p) {
    std::memset(p, 0, sizeof *p);
    std::memcpy(p, data, size < sizeof *p ? size : sizeof *p);
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const int op = data[0] % 3;
    data += 1;
    size -= 1;
    if (op == 0) {
        pattn_prefill_params p;
        read_params(data, size, &p);
        pattn_tensor* ts[7] = {&p.q, &p.k, &p.v, &p.o, &p.lse, &p.q_valid_lens, &p.kv_valid_lens};
        for (pattn_tensor* t : ts) place(t);
        if (too_slow(p.q, p.k)) return 0;
        check_failure(pattn_sequence_prefill(&p, nullptr));
    } else if (op == 1) {
        pattn_decode_params p;
        read_params(data, size, &p);
        pattn_tensor* ts[6] = {&p.q, &p.k_cache, &p.v_cache, &p.o, &p.lse, &p.kv_valid_lens};
        for (pattn_tensor* t : ts) place(t);
        if (too_slow(p.q, p.k_cache)) return 0;
        check_failure(pattn_decode(&p, nullptr));
    } else {
        pattn_merge_params p;
        read_params(data, size, &p);
        pattn_tensor* ts[6] = {&p.o_a, &p.o_b, &p.o_out, &p.lse_a, &p.lse_b, &p.lse_out};
        for (pattn_tensor* t : ts) place(t);
        check_failure(pattn_merge_states(&p, nullptr));
    }
    return 0;
}

#if defined(PATTN_FUZZ_WRITE_SEEDS)
// Writes the committed seed corpus (valid calls of each kind):
//   c++ -DPATTN_FUZZ_WRITE_SEEDS ... fuzz_params.cpp -lpaddedattn && ./a.out DIR
namespace {
pattn_tensor seed_tensor(uint64_t offset, pattn_dtype dtype, int ndim, const int64_t* shape) {
    pattn_tensor t;
    std::memset(&t, 0, sizeof t);
    std::memcpy(&t.data, &offset, sizeof offset);
    t.dtype = dtype;
    t.device_type = PATTN_DEVICE_CPU;
    t.ndim = ndim;
    int64_t stride = 1;
    for (int i = ndim - 1; i >= 0; --i) {
        t.shape[i] = shape[i];
        t.strides[i] = stride;
        stride *= shape[i];
    }
    return t;
}
void write_seed(const char* dir, const char* name, uint8_t op, const void* params, size_t bytes) {
    char path[512];
    std::snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE* f = std::fopen(path, "wb");
    if (!f) return;
    std::fputc(op, f);
    std::fwrite(params, 1, bytes, f);
    std::fclose(f);
}
}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return 1;
    const int64_t q4[4] = {2, 5, 4, 16}, kv4[4] = {2, 7, 2, 16}, lse3[3] = {2, 5, 4}, lens[1] = {2};
    pattn_prefill_params p;
    std::memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.mask_mode = PATTN_MASK_CAUSAL_PADDED_LEFT;
    p.q = seed_tensor(0x1000, PATTN_DTYPE_F16, 4, q4);
    p.k = seed_tensor(0x4000, PATTN_DTYPE_F16, 4, kv4);
    p.v = seed_tensor(0x8000, PATTN_DTYPE_F16, 4, kv4);
    p.o = seed_tensor(0xC000, PATTN_DTYPE_F16, 4, q4);
    p.lse = seed_tensor(0x10000, PATTN_DTYPE_F32, 3, lse3);
    p.kv_valid_lens = seed_tensor(0x12000, PATTN_DTYPE_I32, 1, lens);
    write_seed(argv[1], "prefill_f16", 0, &p, sizeof p);
    p.q.dtype = p.k.dtype = p.v.dtype = p.o.dtype = PATTN_DTYPE_F32;
    p.q_valid_lens = seed_tensor(0x13000, PATTN_DTYPE_I32, 1, lens);
    p.mask_mode = PATTN_MASK_PADDED;
    write_seed(argv[1], "prefill_f32_lens", 0, &p, sizeof p);

    const int64_t dq4[4] = {3, 2, 4, 32}, dkv4[4] = {3, 9, 1, 32}, dlse3[3] = {3, 2, 4}, dlens[1] = {3};
    pattn_decode_params d;
    std::memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.padding_side = PATTN_PADDING_LEFT;
    d.q = seed_tensor(0x1000, PATTN_DTYPE_BF16, 4, dq4);
    d.k_cache = seed_tensor(0x4000, PATTN_DTYPE_BF16, 4, dkv4);
    d.v_cache = seed_tensor(0x8000, PATTN_DTYPE_BF16, 4, dkv4);
    d.o = seed_tensor(0xC000, PATTN_DTYPE_BF16, 4, dq4);
    d.lse = seed_tensor(0x10000, PATTN_DTYPE_F32, 3, dlse3);
    d.kv_valid_lens = seed_tensor(0x12000, PATTN_DTYPE_I32, 1, dlens);
    write_seed(argv[1], "decode_bf16", 1, &d, sizeof d);

    const int64_t o3[3] = {6, 3, 8}, l2[2] = {6, 3};
    pattn_merge_params m;
    std::memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    m.o_a = seed_tensor(0x1000, PATTN_DTYPE_F32, 3, o3);
    m.o_b = seed_tensor(0x2000, PATTN_DTYPE_F32, 3, o3);
    m.o_out = seed_tensor(0x1000, PATTN_DTYPE_F32, 3, o3);  // in place
    m.lse_a = seed_tensor(0x3000, PATTN_DTYPE_F32, 2, l2);
    m.lse_b = seed_tensor(0x3400, PATTN_DTYPE_F32, 2, l2);
    m.lse_out = seed_tensor(0x3800, PATTN_DTYPE_F32, 2, l2);
    write_seed(argv[1], "merge_f32_in_place", 2, &m, sizeof m);
    return 0;
}
#endif
