"""CUDA-event timing shared by the benchmarks (bench_prefill.py, bench_decode.py)."""
import statistics

import torch


def median_event_ms(fn, warmup, runs, calls=1):
    """Median milliseconds per call of fn: `runs` samples, each `calls` calls
    back to back between two CUDA events (host work included, and overlapped
    with the GPU work of the previous call when calls > 1), after `warmup`
    untimed calls."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / calls)
    return statistics.median(times)
