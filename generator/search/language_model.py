"""The language-model proposer: any OpenAI-compatible chat-completions endpoint, several
at once (a swarm).

Configuration (``endpoints_from``): a JSON file ``{"endpoints": [{"base_url": ...,
"model": ..., "api_key_env": "NAME" or "api_key": ..., "timeout": s, "temperature": t,
"max_tokens": n}, ...]}``, or the environment: ``METALGEN_LM_BASE_URL`` (else
``OPENAI_BASE_URL``), ``METALGEN_LM_MODELS`` (comma-separated; several = a swarm) and
``METALGEN_LM_API_KEY`` (else ``OPENAI_API_KEY``).

Each round every endpoint gets the same prompt (``prompt.build_messages``: the op
contract, the torch reference, the current best kernel, earlier attempts' compiler and
verifier errors, profiling feedback) and answers with one ```metal``` block. Everything
that can go wrong is an ``Answer`` with an ``error`` kind, logged by the proposer, never
raised: ``timeout``, ``rate-limited`` (429, retried after its Retry-After up to
``max_retries``), ``server-error`` (5xx, retried), ``http-error``, ``connection``,
``malformed-response`` (not the API's JSON), ``refusal`` (the API's refusal field, a
content filter, or prose declining without code), ``no-kernel`` (text without a fenced
block holding a kernel).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from generator.search.candidate import Candidate
from generator.search.prompt import build_messages
from generator.search.proposers import SearchContext

MAX_RESPONSE_BYTES = 4 << 20
RETRY_SLEEP_CAP_S = 30.0


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 180.0
    temperature: float = 0.2
    max_tokens: int = 8192
    max_retries: int = 2

    @property
    def label(self) -> str:
        return f"{self.model}@{self.base_url}"


@dataclass
class Answer:
    endpoint: Endpoint
    text: str | None = None
    error: str = ""  # kind, see the module docstring ("" on success)
    message: str = ""
    seconds: float = 0.0


def endpoints_from(config: Path | None = None, environ: dict | None = None) -> list[Endpoint]:
    """The endpoints of a config file, else of the environment ([] when none is set)."""
    env = os.environ if environ is None else environ
    if config is not None:
        data = json.loads(Path(config).read_text())
        found = []
        for entry in data.get("endpoints", []):
            entry = dict(entry)
            key_env = entry.pop("api_key_env", None)
            if key_env:
                entry["api_key"] = env.get(key_env)
            unknown = set(entry) - set(Endpoint.__dataclass_fields__)
            if unknown or "base_url" not in entry or "model" not in entry:
                raise ValueError(
                    f"{config}: an endpoint needs base_url and model (optional: api_key, "
                    "api_key_env, timeout, temperature, max_tokens, max_retries); got "
                    f"{sorted(entry)}"
                )
            found.append(Endpoint(**entry))
        return found
    base = env.get("METALGEN_LM_BASE_URL") or env.get("OPENAI_BASE_URL")
    models = [m.strip() for m in env.get("METALGEN_LM_MODELS", "").split(",") if m.strip()]
    if not base or not models:
        return []
    key = env.get("METALGEN_LM_API_KEY") or env.get("OPENAI_API_KEY")
    return [Endpoint(base, model, key) for model in models]


def _retry_after(error: urllib.error.HTTPError) -> float:
    try:
        return min(float(error.headers.get("Retry-After", "1")), RETRY_SLEEP_CAP_S)
    except (TypeError, ValueError):
        return 1.0


def chat(endpoint: Endpoint, messages: list[dict]) -> Answer:
    """One chat completion; failures become an Answer with ``error`` set."""
    body = json.dumps(
        {
            "model": endpoint.model,
            "messages": messages,
            "temperature": endpoint.temperature,
            "max_tokens": endpoint.max_tokens,
        }
    ).encode()
    headers = {"Content-Type": "application/json"}
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    url = endpoint.base_url.rstrip("/") + "/chat/completions"
    start = time.monotonic()

    def answer(**fields) -> Answer:
        return Answer(endpoint, seconds=round(time.monotonic() - start, 3), **fields)

    for attempt in range(endpoint.max_retries + 1):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=endpoint.timeout) as response:
                raw = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as error:
            retry = error.code == 429 or error.code >= 500
            if retry and attempt < endpoint.max_retries:
                time.sleep(_retry_after(error) if error.code == 429 else 1.0)
                continue
            kind = (
                "rate-limited"
                if error.code == 429
                else "server-error"
                if error.code >= 500
                else "http-error"
            )
            return answer(error=kind, message=f"HTTP {error.code} {error.reason}")
        except TimeoutError:
            return answer(error="timeout", message=f"no answer within {endpoint.timeout:g} s")
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                return answer(error="timeout", message=f"no answer within {endpoint.timeout:g} s")
            return answer(error="connection", message=str(error.reason))
        except OSError as error:  # reset connections and the like
            return answer(error="connection", message=str(error))
        break
    if len(raw) > MAX_RESPONSE_BYTES:
        return answer(error="malformed-response", message=f"over {MAX_RESPONSE_BYTES} bytes")
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        message = choice.get("message") or {}
        content = message.get("content")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
        return answer(error="malformed-response", message=f"not a chat completion ({error})")
    if message.get("refusal") or choice.get("finish_reason") == "content_filter":
        return answer(error="refusal", message=str(message.get("refusal") or "content filter"))
    if not isinstance(content, str) or not content.strip():
        return answer(error="malformed-response", message="empty message content")
    return answer(text=content)


_FENCE = re.compile(r"```[ \t]*([\w+#-]*)[^\n]*\n(.*?)```", re.S)
_REFUSAL = re.compile(r"\b(I can(?:no|')t|I'm sorry|I am sorry|unable to (?:help|assist))\b", re.I)


def extract_kernel(text: str) -> tuple[str | None, str, str]:
    """(metal source, error kind, why): the longest fenced block holding a kernel."""
    blocks = [body for _, body in _FENCE.findall(text) if "kernel" in body]
    if blocks:
        return max(blocks, key=len).strip() + "\n", "", ""
    if _REFUSAL.search(text):
        return None, "refusal", text.strip()[:300]
    return None, "no-kernel", "no fenced ```metal block with a [[kernel]] function in the answer"


class LanguageModelProposer:
    """One candidate per endpoint per round (``per_endpoint`` to ask more), written
    against the current best's launch geometry (its tuning constants)."""

    name = "lm"

    def __init__(self, endpoints: list[Endpoint], per_endpoint: int = 1):
        if not endpoints:
            raise ValueError(
                "the language-model proposer needs an endpoint: --lm-config FILE, or "
                "METALGEN_LM_BASE_URL and METALGEN_LM_MODELS (and METALGEN_LM_API_KEY)"
            )
        self.endpoints = endpoints
        self.per_endpoint = per_endpoint

    def propose(self, context: SearchContext, limit: int) -> list[Candidate]:
        messages = build_messages(context)
        prompt_hash = hashlib.sha256(json.dumps(messages).encode()).hexdigest()[:12]
        asks = [e for e in self.endpoints for _ in range(self.per_endpoint)][: max(limit, 0)]
        if not asks:
            return []
        with ThreadPoolExecutor(len(asks)) as pool:
            answers = list(pool.map(lambda e: chat(e, messages), asks))
        candidates = []
        for answer in answers:
            event = {
                "event": "proposer",
                "proposer": self.name,
                "model": answer.endpoint.model,
                "round": context.round,
                "prompt": prompt_hash,
                "seconds": answer.seconds,
            }
            if answer.error:
                context.log(event | {"error": answer.error, "message": answer.message[:500]})
                continue
            metal, kind, why = extract_kernel(answer.text or "")
            if metal is None:
                context.log(event | {"error": kind, "message": why, "answer": answer.text[:2000]})
                continue
            candidate = Candidate(
                context.spec.name,
                metal,
                dict(context.best.constants),
                {
                    "proposer": self.name,
                    "model": answer.endpoint.model,
                    "endpoint": answer.endpoint.base_url,
                    "round": context.round,
                    "parent": context.best.id,
                    "prompt": prompt_hash,
                },
            )
            if candidate.id in context.seen or any(c.id == candidate.id for c in candidates):
                context.log(
                    event | {"error": "duplicate", "message": f"already seen {candidate.id}"}
                )
                continue
            context.log(event | {"candidate": candidate.id})
            candidates.append(candidate)
        return candidates
