// The one place the CUDA backend reads its PADDEDATTN_* switches (tuning.h).
#include "tuning.h"

#include <cstdlib>
#include <cstring>

#if defined(_WIN32)
#include <stdlib.h>  // _environ
#define PATTN_ENVIRON _environ
#else
extern char** environ;
#define PATTN_ENVIRON environ
#endif

namespace pattn {
namespace cuda {
namespace {

// The value of `entry` ("NAME=value") when its name is `name`, else null.
const char* value_of(const char* entry, const char* name, size_t name_length) {
    return std::strncmp(entry, name, name_length) == 0 && entry[name_length] == '=' ? entry + name_length + 1
                                                                                   : nullptr;
}

}  // namespace

// One pass over the environment instead of one getenv per switch (a call
// takes this snapshot every time, tuning.h): entries not starting with
// "PADDEDATTN_" cost one comparison. Like getenv, the first entry of a name
// wins.
TuningSwitches read_tuning_switches() {
    enum {
        kUpload, kMmaSync, kHopper, kCluster, kStages, kGeneral, kSmallParams, kTallTiles, kWorkList, kSingleStage,
        kShortTiles, kHopperMainloop, kDecodeMma, kLargeParams, kHopperShort, kHopperWide, kHopperPersistent, kHopperTma, kCount
    };
    static const char* const names[kCount] = {
        "UPLOAD_LENGTHS",  "PREFILL_MMA_SYNC",     "PREFILL_HOPPER",     "DECODE_CLUSTER",
        "DECODE_STAGES",   "PREFILL_GENERAL",      "PREFILL_SMALL_PARAMS", "PREFILL_TALL_TILES",
        "PREFILL_WORK_LIST", "PREFILL_SINGLE_STAGE", "PREFILL_SHORT_TILES", "PREFILL_HOPPER_MAINLOOP",
        "DECODE_MMA", "PREFILL_LARGE_PARAMS", "PREFILL_HOPPER_SHORT", "PREFILL_HOPPER_WIDE",
        "PREFILL_HOPPER_PERSISTENT", "PREFILL_HOPPER_TMA"};
    static const char kPrefix[] = "PADDEDATTN_";
    constexpr size_t kPrefixLength = sizeof(kPrefix) - 1;
    const char* v[kCount] = {};
    if (char** env = PATTN_ENVIRON) {
        for (; *env != nullptr; ++env) {
            const char* entry = *env;
            if (entry[0] != 'P' || std::strncmp(entry, kPrefix, kPrefixLength) != 0) continue;
            for (int i = 0; i < kCount; ++i) {
                if (v[i] != nullptr) continue;
                const char* value = value_of(entry + kPrefixLength, names[i], std::strlen(names[i]));
                if (value != nullptr) {
                    v[i] = value;
                    break;
                }
            }
        }
    }
    auto on = [&](int i) { return v[i] != nullptr && v[i][0] == '1'; };
    TuningSwitches t;
    t.upload_lengths = on(kUpload);
    t.prefill_mma_sync = on(kMmaSync);
    t.prefill_hopper = on(kHopper);
    const char* c = v[kCluster];
    t.decode_cluster = DecodeClusterMode::Auto;
    if (c != nullptr && c[0] == '0') t.decode_cluster = DecodeClusterMode::Off;
    if (c != nullptr && c[0] == 'a') t.decode_cluster = DecodeClusterMode::All;
    const char* s = v[kStages];
    t.decode_stages = (s == nullptr || s[0] < '2' || s[0] > '9' || s[1] != '\0') ? 0 : s[0] - '0';
    t.prefill_general = on(kGeneral);
    t.prefill_small_params = on(kSmallParams);
    t.prefill_large_params = on(kLargeParams);
    t.prefill_tall_tiles = on(kTallTiles);
    t.prefill_work_list = on(kWorkList);
    t.prefill_single_stage = on(kSingleStage);
    t.prefill_short_tiles = on(kShortTiles);
    const char* m = v[kHopperMainloop];
    t.prefill_hopper_mainloop = (m == nullptr || m[0] < '0' || m[0] > '3' || m[1] != '\0') ? -1 : m[0] - '0';
    const char* hs = v[kHopperShort];
    t.prefill_hopper_short = (hs == nullptr || hs[0] < '0' || hs[0] > '2' || hs[1] != '\0') ? -1 : hs[0] - '0';
    t.prefill_hopper_wide = on(kHopperWide);
    t.prefill_hopper_persistent = on(kHopperPersistent);
    t.prefill_hopper_tma = v[kHopperTma] == nullptr || v[kHopperTma][0] != '0';
    const char* d = v[kDecodeMma];
    t.decode_mma_min_rows = 0;
    if (d != nullptr && d[0] >= '0' && d[0] <= '9') {
        const int n = std::atoi(d);
        t.decode_mma_min_rows = n == 0 ? -1 : (n > 16 ? 16 : n);
    }
    return t;
}

}  // namespace cuda
}  // namespace pattn
