#!/usr/bin/env python3
"""Context parallelism with PaddedAttention and PyTorch: one long causal row split by keys.

The keys and values of one row are split at `split` between two GPUs (cuda:0 and cuda:1; with a
single GPU both parts run on cuda:0, which checks the same arithmetic). Each GPU attends the
queries to its own keys, with lse; queries before `split` see only the first part (causal), so
their result is final on the first GPU. The partial state of the later queries is copied to the
second GPU (a peer copy; `torch.distributed` with NCCL would do the same across processes) and
merged there with pattn_merge_states. The result is compared with one single-GPU pass and with a
float32 SDPA reference. See docs/context-parallel.md.

    PADDEDATTN_NATIVE_LIB=build/native/libpaddedattn.so python3 samples/python/context_parallel.py
Exits 0 when the results agree, 1 when they do not, 77 when there is no CUDA device.
"""

from __future__ import annotations

import sys

try:
    import torch
except ImportError:  # the recipe needs PyTorch with CUDA
    print("context_parallel: PyTorch is not installed: skipped")
    sys.exit(77)

import paddedattn as pa

LENGTH, SPLIT, HEADS, KV_HEADS, HEAD_DIM = 16384, 8192, 32, 8, 128


def causal_row_over_two_devices(q, k, v, split, first, second):
    """q [1, L, H, D], k/v [1, L, Hkv, D] (any device): the causal attention of the row."""
    length = q.shape[1]
    tail = length - split
    k_first, v_first = k[:, :split].to(first), v[:, :split].to(first)
    k_second, v_second = k[:, split:].to(second).contiguous(), v[:, split:].to(second).contiguous()
    q_head, q_tail_first = q[:, :split].to(first), q[:, split:].to(first).contiguous()
    q_tail_second = q[:, split:].to(second).contiguous()

    # First device: queries [0, split) causally over its keys (final), the later queries over all of them.
    o_head = torch.empty_like(q_head)
    pa.sequence_prefill(q_head, k_first, v_first, o_head, pa.MaskMode.CAUSAL_PADDED_RIGHT,
                        stream=torch.cuda.current_stream(first))
    o_tail_first = torch.empty_like(q_tail_first)
    lse_tail_first = torch.empty(1, tail, q.shape[2], device=first, dtype=torch.float32)
    pa.sequence_prefill(q_tail_first, k_first, v_first, o_tail_first, pa.MaskMode.PADDED, lse=lse_tail_first,
                        stream=torch.cuda.current_stream(first))

    # Second device: the later queries causally over its keys.
    o_tail = torch.empty_like(q_tail_second)
    lse_tail = torch.empty(1, tail, q.shape[2], device=second, dtype=torch.float32)
    pa.sequence_prefill(q_tail_second, k_second, v_second, o_tail, pa.MaskMode.CAUSAL_PADDED_RIGHT, lse=lse_tail,
                        stream=torch.cuda.current_stream(second))

    # Gather the first device's partial state on the second and merge in place.
    torch.cuda.current_stream(first).synchronize()
    o_gathered, lse_gathered = o_tail_first.to(second), lse_tail_first.to(second)
    pa.merge_states(o_tail, lse_tail, o_gathered, lse_gathered, o_tail, lse_tail,
                    stream=torch.cuda.current_stream(second))
    torch.cuda.current_stream(second).synchronize()
    return torch.cat([o_head.to(second), o_tail], dim=1)


def main() -> int:
    if not torch.cuda.is_available():
        print("context_parallel: no CUDA device: skipped")
        return 77
    devices = torch.cuda.device_count()
    first, second = torch.device("cuda:0"), torch.device("cuda:1" if devices > 1 else "cuda:0")
    gen = torch.Generator(device="cpu").manual_seed(2026)
    q = (torch.rand(1, LENGTH, HEADS, HEAD_DIM, generator=gen) * 6 - 3).to(torch.bfloat16)
    k = (torch.rand(1, LENGTH, KV_HEADS, HEAD_DIM, generator=gen) * 2 - 1).to(torch.bfloat16)
    v = (torch.rand(1, LENGTH, KV_HEADS, HEAD_DIM, generator=gen) * 2 - 1).to(torch.bfloat16)

    split = causal_row_over_two_devices(q, k, v, SPLIT, first, second).to(first).float()

    qd, kd, vd = q.to(first), k.to(first), v.to(first)
    one_pass = torch.empty_like(qd)
    pa.sequence_prefill(qd, kd, vd, one_pass, pa.MaskMode.CAUSAL_PADDED_RIGHT, stream=torch.cuda.current_stream(first))
    torch.cuda.synchronize(first)
    group = HEADS // KV_HEADS
    ref = torch.nn.functional.scaled_dot_product_attention(
        qd.float().transpose(1, 2), kd.float().repeat_interleave(group, 2).transpose(1, 2),
        vd.float().repeat_interleave(group, 2).transpose(1, 2), is_causal=True).transpose(1, 2)

    def row_error(a, b):
        return ((a - b).norm(dim=-1) / b.norm(dim=-1).clamp_min(1e-6)).max().item()

    err_ref, err_one = row_error(split, ref), row_error(split, one_pass.float())
    ok = err_ref < 1.6e-2 and err_one < 1.6e-2  # bf16 outputs, rounded twice on the merged rows
    print("context_parallel: %d-token causal row, keys split at %d over %s and %s: "
          "max row error vs float32 SDPA %.2e, vs one pass %.2e: %s"
          % (LENGTH, SPLIT, first, second, err_ref, err_one, "PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
