"""Decode speed of a Llama-style model: float16 vs int8 vs int4 weights (torch_metalgen's
QuantizedLinear on the Metal kernels), and MLX (mlx-lm's Llama, nn.quantize) where installed.

Run on a Mac (Apple GPU):

    python benchmarks/quantized_decode.py                      # 7B sizes, 8 layers
    python benchmarks/quantized_decode.py --layers 32          # the full 7B (~14 GB of float16)
    python benchmarks/quantized_decode.py --formats fp16 int4-g64 --tokens 128 --mlx

The model is a transformers LlamaForCausalLM built from a config (random weights: speed
does not depend on their values; nothing is downloaded). Each format is built from the same
seed, quantized with ``torch_metalgen.quantize`` (lm_head kept in float16, as mlx-lm's
default of quantizing everything is not; pass --quantize-lm-head to match it), then decodes
``--tokens`` tokens greedily after a ``--prompt``-token prefill, one token per forward with
a KV cache. Reported: tokens/s (median of ``--repeats`` runs), weight bytes, and the
bandwidth those bytes per token imply. One JSON line per format is appended to
``benchmarks/results/<device>/quantized_decode.jsonl``.

On Linux it runs on the CPU with the ops' ATen references (``--device cpu``): a smoke test
of the script, not a measurement of the kernels.
"""

from __future__ import annotations

import argparse
import inspect
import json
import platform
import statistics
import time
from pathlib import Path

import torch

import torch_metalgen

# Format name -> (bits, group_size, mode); fp16 is the unquantized model.
FORMATS = {
    "fp16": None,
    "int8-channel": (8, None, "symmetric"),
    "int8-g64": (8, 64, "affine"),
    "int4-g64": (4, 64, "affine"),
    "int4-g128": (4, 128, "affine"),
    "int4-g32": (4, 32, "affine"),
}


def llama_config(args):
    import transformers

    return transformers.LlamaConfig(
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        vocab_size=args.vocab,
        max_position_embeddings=args.prompt + args.tokens + 8,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
    )


def synchronize(device: str) -> None:
    if device == "mps":
        torch.mps.synchronize()
    elif device == "cuda":
        torch.cuda.synchronize()


def build_model(args, fmt):
    import transformers

    torch.manual_seed(args.seed)
    with torch.device(args.device):
        model = transformers.LlamaForCausalLM(llama_config(args)).to(torch.float16).eval()
    report = None
    if FORMATS[fmt] is not None:
        bits, group_size, mode = FORMATS[fmt]
        skip = () if args.quantize_lm_head else torch_metalgen.quantization.DEFAULT_SKIP
        report = torch_metalgen.quantize(model, bits, group_size, mode, skip=skip)
    if args.patch:
        torch_metalgen.patch(model)
    return model, report


def _step(model, ids, cache):
    """One forward with a KV cache: (next token, cache). transformers >= 5.x names the
    cache argument and output ``cache``, older releases ``past_key_values``."""
    name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    out = model(input_ids=ids, use_cache=True, **({name: cache} if cache is not None else {}))
    return out.logits[:, -1:].argmax(-1), getattr(out, name)


@torch.no_grad()
def decode_seconds(model, args) -> float:
    """Seconds for args.tokens greedy decode steps after a prefill (prefill not timed)."""
    generator = torch.Generator().manual_seed(args.seed)
    prompt = torch.randint(3, args.vocab, (1, args.prompt), generator=generator).to(args.device)
    token, cache = _step(model, prompt, None)
    synchronize(args.device)
    start = time.perf_counter()
    for _ in range(args.tokens):
        token, cache = _step(model, token, cache)
    synchronize(args.device)
    return time.perf_counter() - start


def linear_weight_bytes(model) -> int:
    """Bytes a decode step must read for the linear layers (packed or float16) + embeddings
    row (negligible) + lm_head: the parameters and buffers, without the embedding table."""
    total = torch_metalgen.quantization.model_bytes(model)
    embedding = model.get_input_embeddings().weight
    return total - embedding.numel() * embedding.element_size()


def run_torch(args, fmt) -> dict:
    model, report = build_model(args, fmt)
    decode_seconds(model, args)  # warm-up: pipelines, allocations
    times = [decode_seconds(model, args) for _ in range(args.repeats)]
    seconds = statistics.median(times)
    weight_bytes = linear_weight_bytes(model)
    row = {
        "engine": "torch_metalgen" if fmt != "fp16" else "torch",
        "format": fmt,
        "tokens_per_s": args.tokens / seconds,
        "spread_tokens_per_s": [args.tokens / max(times), args.tokens / min(times)],
        "weight_bytes": weight_bytes,
        "implied_GB_per_s": weight_bytes * args.tokens / seconds / 1e9,
        "skipped": dict(report.skipped) if report else {},
    }
    del model
    return row


def run_mlx(args, fmt) -> dict:
    """mlx-lm's Llama of the same sizes, nn.quantize'd (affine formats only)."""
    import mlx.core as mx
    import mlx.nn as nn
    from mlx_lm.models import llama
    from mlx_lm.models.cache import make_prompt_cache

    model = llama.Model(
        llama.ModelArgs(
            model_type="llama",
            hidden_size=args.hidden,
            num_hidden_layers=args.layers,
            intermediate_size=args.intermediate,
            num_attention_heads=args.heads,
            num_key_value_heads=args.kv_heads,
            rms_norm_eps=1e-5,
            vocab_size=args.vocab,
            tie_word_embeddings=False,
        )
    )
    model.set_dtype(mx.float16)
    if FORMATS[fmt] is not None:
        bits, group_size, _ = FORMATS[fmt]
        nn.quantize(model, group_size=group_size, bits=bits)
    mx.eval(model.parameters())

    def once() -> float:
        cache = make_prompt_cache(model)
        prompt = mx.random.randint(3, args.vocab, (1, args.prompt))
        token = mx.argmax(model(prompt, cache=cache)[:, -1:], axis=-1)
        mx.eval(token)
        start = time.perf_counter()
        for _ in range(args.tokens):
            token = mx.argmax(model(token, cache=cache)[:, -1:], axis=-1)
            mx.eval(token)
        return time.perf_counter() - start

    once()
    times = [once() for _ in range(args.repeats)]
    seconds = statistics.median(times)
    return {
        "engine": "mlx",
        "format": fmt,
        "tokens_per_s": args.tokens / seconds,
        "spread_tokens_per_s": [args.tokens / max(times), args.tokens / min(times)],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--formats",
        nargs="+",
        default=["fp16", "int8-channel", "int4-g64"],
        choices=sorted(FORMATS),
    )
    parser.add_argument("--device", default="mps" if torch.backends.mps.is_available() else "cpu")
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=4096)
    parser.add_argument("--intermediate", type=int, default=11008)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--kv-heads", type=int, default=32)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--patch", action="store_true", help="also torch_metalgen.patch(model)")
    parser.add_argument("--quantize-lm-head", action="store_true")
    parser.add_argument("--mlx", action="store_true", help="also mlx-lm (needs mlx, mlx-lm)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)

    rows = []
    for fmt in args.formats:
        rows.append(run_torch(args, fmt))
        print(_line(rows[-1]), flush=True)
        if args.mlx and (FORMATS[fmt] is None or FORMATS[fmt][2] == "affine"):
            try:
                rows.append(run_mlx(args, fmt))
            except Exception as error:  # noqa: BLE001  (MLX missing or an API change: say so)
                rows.append({"engine": "mlx", "format": fmt, "error": repr(error)})
            print(_line(rows[-1]), flush=True)

    environment = {
        "device": args.device,
        "machine": platform.platform(),
        "torch": torch.__version__,
        "torch_metalgen": torch_metalgen.__version__,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "sizes": {k: getattr(args, k) for k in ("layers", "hidden", "intermediate", "vocab")},
        "prompt": args.prompt,
        "tokens": args.tokens,
    }
    folder = args.out / (platform.processor() or platform.machine()) / args.device
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "quantized_decode.jsonl", "a") as results:
        for row in rows:
            results.write(json.dumps({**environment, **row}) + "\n")
    print(f"appended {len(rows)} rows to {folder / 'quantized_decode.jsonl'}")
    return 0


def _line(row: dict) -> str:
    if "error" in row:
        return f"{row['engine']:>15} {row['format']:<13} unavailable: {row['error']}"
    text = f"{row['engine']:>15} {row['format']:<13} {row['tokens_per_s']:8.2f} tokens/s"
    if "weight_bytes" in row:
        text += (
            f"  weights {row['weight_bytes'] / 2**30:6.2f} GiB"
            f"  implied {row['implied_GB_per_s']:6.1f} GB/s"
        )
    return text


if __name__ == "__main__":
    raise SystemExit(main())
