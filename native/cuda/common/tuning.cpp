// The one place the CUDA backend reads its PADDEDATTN_* switches (tuning.h).
#include "tuning.h"

#include <cstdlib>

namespace pattn {
namespace cuda {

TuningSwitches read_tuning_switches() {
    TuningSwitches t;
    const char* v = std::getenv("PADDEDATTN_UPLOAD_LENGTHS");
    t.upload_lengths = v != nullptr && v[0] == '1';
    v = std::getenv("PADDEDATTN_PREFILL_MMA_SYNC");
    t.prefill_mma_sync = v != nullptr && v[0] == '1';
    v = std::getenv("PADDEDATTN_PREFILL_HOPPER");
    t.prefill_hopper = v != nullptr && v[0] == '1';
    v = std::getenv("PADDEDATTN_DECODE_CLUSTER");
    t.decode_cluster = DecodeClusterMode::Auto;
    if (v != nullptr && v[0] == '0') t.decode_cluster = DecodeClusterMode::Off;
    if (v != nullptr && v[0] == 'a') t.decode_cluster = DecodeClusterMode::All;
    v = std::getenv("PADDEDATTN_DECODE_STAGES");
    t.decode_stages = (v == nullptr || v[0] < '2' || v[0] > '9' || v[1] != '\0') ? 0 : v[0] - '0';
    v = std::getenv("PADDEDATTN_PREFILL_GENERAL");
    t.prefill_general = v != nullptr && v[0] == '1';
    v = std::getenv("PADDEDATTN_PREFILL_SMALL_PARAMS");
    t.prefill_small_params = v != nullptr && v[0] == '1';
    v = std::getenv("PADDEDATTN_PREFILL_TALL_TILES");
    t.prefill_tall_tiles = v != nullptr && v[0] == '1';
    v = std::getenv("PADDEDATTN_PREFILL_SINGLE_STAGE");
    t.prefill_single_stage = v != nullptr && v[0] == '1';
    v = std::getenv("PADDEDATTN_PREFILL_SHORT_TILES");
    t.prefill_short_tiles = v != nullptr && v[0] == '1';
    v = std::getenv("PADDEDATTN_PREFILL_HOPPER_MAINLOOP");
    t.prefill_hopper_mainloop = (v == nullptr || v[0] < '0' || v[0] > '3' || v[1] != '\0') ? -1 : v[0] - '0';
    return t;
}

}  // namespace cuda
}  // namespace pattn
