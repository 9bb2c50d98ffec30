#!/usr/bin/env python3
"""Run a command (a benchmark) under a CPU quota, a stand-in for a slower machine.

    sudo .venv/bin/python bench/cpu_quota.py --cpus 0.2 -- .venv/bin/python bench/reply_latency.py

The command and every process it starts (the daemon, the simulated modem, gammu-smsd) share a
quota of `--cpus` CPUs (0.2 = 20 ms of CPU every 100 ms), enforced by the kernel's CFS bandwidth
control in a cgroup of its own (cgroup v2's cpu.max, or v1's cpu.cfs_quota_us), so they run as
on a machine that much slower -- slower, not the same: a Raspberry Pi's caches, memory and SD
card are not modelled, only its CPU time. Needs root (to make the cgroup); the cgroup is removed
at the end. The quota and the CFS period are printed with the command's output.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

PERIOD_US = 100_000
V2 = Path("/sys/fs/cgroup")
V1 = Path("/sys/fs/cgroup/cpu")


def make_cgroup(cpus: float) -> tuple[Path, str]:
    """A new cgroup limited to `cpus` CPUs; its folder and which interface set the limit."""
    quota = max(1000, int(cpus * PERIOD_US))
    name = f"barriosms-bench-{os.getpid()}"
    if (V2 / "cgroup.controllers").exists():
        if "cpu" not in (V2 / "cgroup.subtree_control").read_text().split():
            (V2 / "cgroup.subtree_control").write_text("+cpu")
        folder = V2 / name
        folder.mkdir()
        (folder / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        return folder, "cgroup v2 cpu.max"
    if (V1 / "cpu.cfs_quota_us").exists():
        folder = V1 / name
        folder.mkdir()
        (folder / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (folder / "cpu.cfs_quota_us").write_text(str(quota))
        return folder, "cgroup v1 cpu.cfs_quota_us"
    raise OSError("no cgroup CPU controller is mounted under /sys/fs/cgroup")


def remove(folder: Path) -> None:
    # The command's processes have ended; a straggler still listed keeps the folder busy briefly.
    for _ in range(50):
        try:
            folder.rmdir()
            return
        except OSError:
            time.sleep(0.1)
    print(f"cpu_quota: could not remove {folder}; remove it with: rmdir {folder}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", type=float, default=0.2, help="CPUs the command may use (default 0.2)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or args.cpus <= 0:
        parser.error("give a quota above 0 and a command after --")
    try:
        folder, how = make_cgroup(args.cpus)
    except OSError as exc:
        print(f"cpu_quota: cannot make a cgroup ({exc}); run as root on a machine with cgroups", file=sys.stderr)
        return 2
    print(f"cpu quota: {args.cpus:g} CPU ({int(args.cpus * PERIOD_US)} us every {PERIOD_US} us, {how})", flush=True)
    try:
        # The child joins the cgroup before it runs anything, so all its descendants inherit it.
        proc = subprocess.Popen(command, preexec_fn=lambda: (folder / "cgroup.procs").write_text(str(os.getpid())))
        return proc.wait()
    finally:
        remove(folder)


if __name__ == "__main__":
    sys.exit(main())
