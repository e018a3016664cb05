"""The prompt a language model gets: what it must keep (the op's launch interface), what
it may change (the kernel bodies), the op's definition, the best kernel so far and what
went wrong before (compiler and verifier errors), with profiling feedback.

Everything here comes from the spec and the search's own records; nothing from the model's
earlier answers is sent back except the errors its kernels earned.
"""

from __future__ import annotations

from generator.model import _dims
from generator.render import OpContext
from generator.search.proposers import SearchContext
from torch_metalgen.sim.plan import metal_source_dir

MAX_REASON_CHARS = 1500
EARLIER_ATTEMPTS = 4

SYSTEM = """You write Metal Shading Language (MSL 3.1, macOS 14) compute kernels for Apple \
GPUs for torch-metalgen, a PyTorch extension. Your kernel is checked by a strict MSL \
simulator (races, out-of-bounds accesses, uninitialized threadgroup memory, two thread \
schedules compared bit for bit) against a float64 reference on odd shapes and several input \
distributions, then timed on the GPU against the current kernel, eager PyTorch and \
torch.compile.

Rules:
- Answer with exactly one complete .metal file in one ```metal fenced block.
- Include only <metal_stdlib> and "common.h". No other #include, no __attribute__, asm, \
extern, [[gnu::...]], token pasting (##), printf or host functions: they are rejected \
before compiling.
- Keep the launch interface exactly: the same [[kernel]] function names, the same \
[[buffer(n)]] parameters with the same names, the params struct as given, and \
instantiate_kernel(...) lines for every kernel and dtype listed. The host code that \
launches your kernels does not change.
- Accumulate in float32 whatever the storage type T is. Handle every row length the \
variant's condition allows, including odd lengths and tails. Write every output element.
- Put any tuning constant you use in the file itself (constant constexpr uint NAME = ...;)."""


def _contract(context: SearchContext) -> str:
    spec = context.spec
    op = OpContext(spec)
    constants = context.best.constants
    lines = [
        f"Op `{spec.name}`: {spec.doc}",
        f"Schema: `{spec.schema}`",
        f"Dtypes: {', '.join(spec.dtypes)} (T = float, half, bfloat)",
        "",
        "Buffers (bound by the host; tensors are contiguous"
        + (f" except {', '.join(spec.strided)}, read through strides" if spec.strided else "")
        + "):",
    ]
    outputs = {o.name for o in spec.all_outputs}
    for buffer in spec.buffers:
        role = "output" if buffer.tensor in outputs or buffer.output else "input"
        fallback = f" (when absent: {buffer.fallback} is bound instead)" if buffer.fallback else ""
        lines.append(f"- [[buffer({buffer.index})]] {buffer.tensor}: {role}{fallback}")
    lines += [
        f"- [[buffer({spec.params_index})]] constant {spec.params_struct}& params",
        "",
        "Params struct (fill-in values are C++ on the host):",
        "```metal",
        op.metal_params_struct,
        "```",
    ]
    lines += [f"- {p.name} = {p.value}" for p in spec.params]
    lines += ["", "Sizes: " + "; ".join(f"{n} = {e}" for n, e in spec.sizes)]
    lines += ["Host constants (the launch geometry below uses them): "]
    lines += [", ".join(f"{k} = {v}" for k, v in constants.items())]
    lines += [
        "",
        "Variants: the host launches the first whose condition holds and whose threadgroup "
        "fits max_threads (1024 unless the pipeline allows fewer):",
    ]
    for variant in spec.variants:
        lines.append(f"- {variant.name} (when {variant.when}): {variant.doc}")
        for launch in variant.all_launches():
            kind = (
                "threadgroups" if launch.dispatch == "threadgroups" else "threads (edges partial)"
            )
            names = " or ".join(f"{spec.name}_{kernel}" for kernel in launch.kernels)
            chosen = f" (the one at index {launch.select})" if launch.select else ""
            lines.append(
                f"  kernel {names}{chosen}: grid = ({', '.join(_dims(launch.grid))}) "
                f"{kind}, threadgroup = ({', '.join(_dims(launch.threadgroup))})"
            )
    lines += ["", "Instantiate every kernel for every dtype, exactly these host names:", "```metal"]
    lines += [op.metal_instantiations, "```"]
    return "\n".join(lines)


def _attempts(context: SearchContext) -> str:
    failed = [a for a in context.attempts if not a.passed][-EARLIER_ATTEMPTS:]
    if not failed:
        return ""
    lines = ["## Earlier attempts that failed (do not repeat these mistakes)"]
    for attempt in failed:
        origin = attempt.candidate.origin
        reason = attempt.reason[:MAX_REASON_CHARS]
        lines.append(
            f"- candidate {attempt.candidate.id} ({origin.get('proposer')}"
            f"{', ' + origin['model'] if origin.get('model') else ''}) failed at stage "
            f"`{attempt.stage}`:\n```\n{reason}\n```"
        )
    return "\n".join(lines)


def _feedback(context: SearchContext) -> str:
    best = context.attempt(context.best.id)
    if best is None or not best.feedback:
        return ""
    lines = ["## Profile of the current best kernel"]
    for row in best.feedback.get("traffic", []):
        ratio = row["bytes_moved"] / max(1, row["compulsory_bytes"])
        lines.append(
            f"- shape {row['shape']} ({', '.join(row['kernels'])}): the simulator counted "
            f"{row['bytes_moved']} bytes moved vs {row['compulsory_bytes']} compulsory "
            f"({ratio:.2f}x)"
        )
    for row in best.feedback.get("timings", []):
        if row.get("candidate_ms") is None:
            continue
        sol = f", speed of light {row['sol_ms']:.4g} ms" if row.get("sol_ms") else ""
        bases = ", ".join(f"{k} {v:.4g} ms" for k, v in row.get("baselines_ms", {}).items())
        lines.append(f"- {row['shape']} {row['dtype']}: {row['candidate_ms']:.4g} ms{sol}; {bases}")
    if context.device == "cpu":
        lines.append("- (no GPU timings: this search runs on a machine without an Apple GPU)")
    return "\n".join(lines)


def build_messages(context: SearchContext) -> list[dict[str, str]]:
    spec = context.spec
    common = (metal_source_dir() / "common.h").read_text()
    parts = [
        "## The op and its fixed launch interface",
        _contract(context),
        "## Definition (PyTorch reference; the verifier computes it in float64)",
        f"```python\n{OpContext(spec).reference_source}\n```",
        '## Helpers you may use ("common.h", namespace metalgen)',
        f"```metal\n{common}\n```",
        f"## Current best kernel (candidate {context.best.id}, verified correct)",
        f"```metal\n{context.best.metal}\n```",
        _attempts(context),
        _feedback(context),
        "## Task",
        "Write a faster kernel file for this op that passes verification: fewer bytes moved, "
        "better use of SIMD-group reductions and vector loads, fewer barriers. Keep the "
        "interface. Reply with the whole file in one ```metal block.",
    ]
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "\n\n".join(p for p in parts if p)},
    ]
