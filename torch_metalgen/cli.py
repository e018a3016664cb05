"""Command line: ``python -m torch_metalgen <command>``.

demo      patch a small transformer, run it, compare with the unpatched model
doctor    what this machine can run: build, MPS, simulator toolchain
selftest  run every kernel variant through the simulator once against its reference
verify    correctness suite (torch_metalgen.verify)
bench     benchmarks (torch_metalgen.bench)
tune      time every kernel variant on this Mac's GPU; the runtime then prefers the fastest
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommands that own their argument parsing, by module.
DELEGATED = {
    "verify": "torch_metalgen.verify.cli",
    "bench": "torch_metalgen.bench.cli",
    "tune": "torch_metalgen.tune",
}


def _doctor(args: argparse.Namespace) -> int:
    import platform

    import torch

    import torch_metalgen
    from torch_metalgen import _ops

    print(
        f"torch-metalgen {torch_metalgen.__version__}, torch {torch.__version__}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}"
    )
    print(f"ops: {', '.join(torch_metalgen.ops_list())}")
    print(f"MPS kernels in this build: {bool(_ops._C.mps_kernels_available())}")
    print(f"MPS device available: {torch.backends.mps.is_available()}")
    try:
        from torch_metalgen import sim

        info = sim.toolchain_info()
        print("simulator toolchain: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    except Exception as error:  # the doctor reports, it does not fail
        print(f"simulator: unavailable ({type(error).__name__}: {error})")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from torch_metalgen.demo import run_demo

    return run_demo(dtype_name=args.dtype, device_name=args.device)


def _selftest(args: argparse.Namespace) -> int:
    from torch_metalgen.selftest import run_selftest

    return run_selftest()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        module = importlib.import_module(DELEGATED[argv[0]])
        return int(module.main(argv[1:]) or 0)

    parser = argparse.ArgumentParser(
        prog="python -m torch_metalgen",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="patch a small transformer and compare")
    demo.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    demo.add_argument(
        "--device",
        default="auto",
        help="auto (default): mps if present, else cpu + simulator; or cpu, mps, cuda[:N]",
    )
    commands.add_parser("doctor", help="what this machine can run")
    commands.add_parser("selftest", help="every kernel variant through the simulator once")
    for name in DELEGATED:
        commands.add_parser(name, help=f"see python -m torch_metalgen {name} --help")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from torch_metalgen.demo import resolve_device

        try:  # a device that is not there is a usage error: one line, no traceback
            resolve_device(args.device)
        except ValueError as error:
            print(f"{demo.prog}: error: {error}", file=sys.stderr)
            return 2
    handler = {"demo": _demo, "doctor": _doctor, "selftest": _selftest}[args.command]
    return handler(args)
