#!/usr/bin/env python3
"""Calls PaddedAttention from Python through ctypes, with no third-party package.

Builds a small padded batch of variable-length sequences (GQA, odd lengths,
an empty row, NaN in the padding), runs pattn_sequence_prefill on the CPU
backend for the left-padded causal mode (decoder embedding batches) and the
right-padded bidirectional mode (encoders), and compares every output element
and every lse value with a float64 reference computed here from the
definition. Prints the largest errors; exits 1 on any mismatch.

    PYTHONPATH=bindings/python PADDEDATTN_NATIVE_LIB=build/native/libpaddedattn.so python3 samples/python/run_sample.py
"""

from __future__ import annotations

import array
import math
import random
import sys

import paddedattn as pa

BATCH, Q_LEN, NUM_QO_HEADS, NUM_KV_HEADS, HEAD_DIM = 4, 13, 4, 2, 64
VALID_LENS = [13, 7, 1, 0]       # full, odd, single token, empty row
REL_TOLERANCE = 1e-5             # f32 per-row relative error (docs/semantics.md, Results)
LSE_TOLERANCE = 1e-5


def random_tensor(rng: random.Random, count: int) -> array.array:
    return array.array("f", (rng.uniform(-1.0, 1.0) for _ in range(count)))


def index(b: int, s: int, h: int, d: int, seq_len: int, heads: int) -> int:
    return ((b * seq_len + s) * heads + h) * HEAD_DIM + d


def poison_padding(values: array.array, lens, left: bool) -> None:
    """Padding keys must never contribute, whatever they hold."""
    for b, valid in enumerate(lens):
        for s in range(Q_LEN):
            real = (s >= Q_LEN - valid) if left else (s < valid)
            if real:
                continue
            for h in range(NUM_KV_HEADS):
                for d in range(HEAD_DIM):
                    values[index(b, s, h, d, Q_LEN, NUM_KV_HEADS)] = float("nan") if (d % 2) else float("inf")


def reference(q, k, v, lens, left: bool, causal: bool):
    """float64 attention from the definition; None marks a row that must be 0 / -inf."""
    scale = 1.0 / math.sqrt(HEAD_DIM)
    group = NUM_QO_HEADS // NUM_KV_HEADS
    out, lse = {}, {}
    for b, valid in enumerate(lens):
        first = Q_LEN - valid if left else 0
        for i in range(valid):
            for h in range(NUM_QO_HEADS):
                kv_head = h // group
                visible = [j for j in range(valid) if not causal or j <= i]
                scores = []
                for j in visible:
                    dot = 0.0
                    for d in range(HEAD_DIM):
                        dot += float(q[index(b, first + i, h, d, Q_LEN, NUM_QO_HEADS)]) * \
                               float(k[index(b, first + j, kv_head, d, Q_LEN, NUM_KV_HEADS)])
                    scores.append(dot * scale)
                top = max(scores)
                weights = [math.exp(s - top) for s in scores]
                total = sum(weights)
                row = [0.0] * HEAD_DIM
                for w, j in zip(weights, visible):
                    for d in range(HEAD_DIM):
                        row[d] += w / total * float(v[index(b, first + j, kv_head, d, Q_LEN, NUM_KV_HEADS)])
                out[(b, first + i, h)] = row
                lse[(b, first + i, h)] = top + math.log(total)
    return out, lse


def run_mode(rng: random.Random, mode: pa.MaskMode) -> bool:
    left = mode in (pa.MaskMode.CAUSAL_PADDED_LEFT, pa.MaskMode.PADDED_LEFT)
    causal = mode in (pa.MaskMode.CAUSAL_PADDED_LEFT, pa.MaskMode.CAUSAL_PADDED_RIGHT)
    q_count = BATCH * Q_LEN * NUM_QO_HEADS * HEAD_DIM
    kv_count = BATCH * Q_LEN * NUM_KV_HEADS * HEAD_DIM
    q, k, v = random_tensor(rng, q_count), random_tensor(rng, kv_count), random_tensor(rng, kv_count)
    poison_padding(k, VALID_LENS, left)
    poison_padding(v, VALID_LENS, left)
    # Poisoned outputs: any element the library leaves unwritten shows as NaN.
    o = array.array("f", [float("nan")]) * q_count
    lse = array.array("f", [float("nan")]) * (BATCH * Q_LEN * NUM_QO_HEADS)
    lens = array.array("i", VALID_LENS)

    shape_q = [BATCH, Q_LEN, NUM_QO_HEADS, HEAD_DIM]
    shape_kv = [BATCH, Q_LEN, NUM_KV_HEADS, HEAD_DIM]
    pa.sequence_prefill(
        q=pa.tensor_from_buffer(q, shape_q, pa.DType.F32),
        k=pa.tensor_from_buffer(k, shape_kv, pa.DType.F32),
        v=pa.tensor_from_buffer(v, shape_kv, pa.DType.F32),
        o=pa.tensor_from_buffer(o, shape_q, pa.DType.F32),
        lse=pa.tensor_from_buffer(lse, [BATCH, Q_LEN, NUM_QO_HEADS], pa.DType.F32),
        q_valid_lens=pa.tensor_from_buffer(lens, [BATCH], pa.DType.I32),
        mask_mode=mode)

    expected_o, expected_lse = reference(q, k, v, VALID_LENS, left, causal)
    worst_rel, worst_lse, failures = 0.0, 0.0, []
    for b in range(BATCH):
        for s in range(Q_LEN):
            for h in range(NUM_QO_HEADS):
                got = [o[index(b, s, h, d, Q_LEN, NUM_QO_HEADS)] for d in range(HEAD_DIM)]
                got_lse = lse[(b * Q_LEN + s) * NUM_QO_HEADS + h]
                want = expected_o.get((b, s, h))
                if want is None:  # padding row: exactly 0 and -inf
                    if any(x != 0.0 for x in got) or not (got_lse == float("-inf")):
                        failures.append("padding row b=%d s=%d h=%d: o[0]=%r lse=%r" % (b, s, h, got[0], got_lse))
                    continue
                diff = math.sqrt(sum((g - w) ** 2 for g, w in zip(got, want)))
                norm = math.sqrt(sum(w * w for w in want)) or 1.0
                rel = diff / norm if diff == diff else float("inf")  # NaN counts as a failure
                lse_err = abs(got_lse - expected_lse[(b, s, h)])
                lse_err = lse_err if lse_err == lse_err else float("inf")
                worst_rel, worst_lse = max(worst_rel, rel), max(worst_lse, lse_err)
                if rel > REL_TOLERANCE or lse_err > LSE_TOLERANCE:
                    failures.append("row b=%d s=%d h=%d: rel error %.3g, lse error %.3g" % (b, s, h, rel, lse_err))

    ok = not failures
    print("%-22s lens=%s  max rel error %.3e  max lse error %.3e  %s"
          % (mode.name, VALID_LENS, worst_rel, worst_lse, "ok" if ok else "MISMATCH"))
    for line in failures[:10]:
        print("  " + line)
    return ok


def main() -> int:
    try:
        pa.load_library()
    except pa.PattnLibraryError as error:
        print("error: %s" % error, file=sys.stderr)
        return 1
    print("PaddedAttention %s (%s)" % (pa.version_string(), pa.loaded_from()))
    print("batch=%d q_len=%d heads=%d/%d head_dim=%d f32, CPU backend"
          % (BATCH, Q_LEN, NUM_QO_HEADS, NUM_KV_HEADS, HEAD_DIM))
    rng = random.Random(20261122)
    ok = True
    for mode in (pa.MaskMode.CAUSAL_PADDED_LEFT, pa.MaskMode.PADDED):
        try:
            ok = run_mode(rng, mode) and ok
        except pa.PattnError as error:
            print("%-22s failed: %s" % (mode.name, error))
            ok = False
    print("python sample: %s" % ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
