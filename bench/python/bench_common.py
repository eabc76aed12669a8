"""Helpers shared by the prefill benchmarks (bench_prefill.py,
bench_prefill_paged.py) that need neither torch nor the library, so that
bench_prefill_paged.py stays importable without them (its --self-test and
tests/python/test_bench_prefill_paged.py)."""


def report_failed_checks(results):
    """The exit code of a benchmark run: 1 (after naming the cases) when a
    case has a boolean check that is not true, else 0."""
    failed = [r["case"] for r in results if not all(v for v in r["checks"].values() if isinstance(v, bool))]
    if failed:
        print("CHECKS FAILED: " + ", ".join(failed))
        return 1
    return 0
