"""Run every benchmark module and print its figures as `name: value unit` lines.

Usage: python -m benchmarks [name ...]   (names: import, dashboard, payments, finance)
Each module creates and drops its own PostgreSQL database; sizes come from BENCH_* variables.
"""

import importlib
import platform
import os
import sys
import time
import traceback

MODULES = {
    "import": "benchmarks.import_bench",
    "dashboard": "benchmarks.dashboard_bench",
    "payments": "benchmarks.payments_bench",
    "finance": "benchmarks.finance_bench",
}


def machine() -> str:
    cores = os.cpu_count()
    try:
        mem_kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        mem = "?"
    return f"{platform.machine()}, {cores} cores, {mem} RAM, Python {platform.python_version()}"


def main(argv) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "congdoan.settings")
    names = argv or list(MODULES)
    print(f"machine: {machine()}")
    failed = 0
    for name in names:
        module_name = MODULES.get(name)
        if module_name is None:
            print(f"unknown benchmark {name!r}; choose from {', '.join(MODULES)}")
            return 2
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            print(f"== {name}: not available ({exc})")
            continue
        print(f"== {name}")
        start = time.perf_counter()
        try:
            module.main()
        except Exception:  # report and go on with the next benchmark
            failed += 1
            traceback.print_exc()
        print(f"{name}_total_seconds: {time.perf_counter() - start:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
