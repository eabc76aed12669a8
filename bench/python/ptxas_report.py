"""Registers and spills of the kernels in a ptxas -v build log
(-DPADDEDATTN_PTXAS_VERBOSE=ON), for the GPU run scripts in bench/.

    python3 ptxas_report.py BUILD_LOG [--kernel SUBSTR] [--regs-of SUBSTR]

Prints one "spill" line per entry of a matching kernel (name contains
--kernel, default prefill_hopper_kernel) with non-zero spill stores or
loads, then how many of the entries whose name also contains --regs-of
(default: every matching one) use each register count.
"""
import argparse
import re


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--kernel", default="prefill_hopper_kernel")
    ap.add_argument("--regs-of", default="")
    args = ap.parse_args()
    name, regs = None, {}
    for line in open(args.log, errors="replace"):
        m = re.search(r"Compiling entry function '(\S+)'", line)
        if m:
            name = m.group(1)
            continue
        if not name or args.kernel not in name:
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and (m.group(2) != "0" or m.group(3) != "0"):
            print("  spill", name[-64:], line.strip()[14:96])
        m = re.search(r"Used (\d+) registers", line)
        if m and args.regs_of in name:
            regs[int(m.group(1))] = regs.get(int(m.group(1)), 0) + 1
    print("  registers (count of kernels):", dict(sorted(regs.items())))


if __name__ == "__main__":
    main()
