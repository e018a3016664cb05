"""The language-model proposer against an OpenAI-compatible server on loopback that this
test starts, serving recorded answers to a swarm of two models: a good kernel, a broken one
(a compile error), a hostile one (reads a host file), malformed text, a rate limit, a
refusal and a timeout. The supervisor evaluates what deserves it, logs the rest, never
crashes, and feeds the errors and the profile back in later prompts."""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rich.console import Console

from generator.search.language_model import Endpoint, chat, endpoints_from, extract_kernel
from generator.search.supervisor import SearchOptions, Supervisor
from tests.search.search_helpers import SHIPPED

pytest.importorskip("torch_metalgen.sim")

GOOD = SHIPPED.replace(
    "// RMSNorm over the last dimension",
    "// Rewritten by model-a: same math.\n// RMSNorm over the last dimension",
    1,
)
BROKEN = SHIPPED.replace("sum_squares += value * value;", "sum_squares += value * valu;", 1)
HOSTILE = SHIPPED.replace(
    "using metalgen::SIMD_SIZE;", 'using metalgen::SIMD_SIZE;\n#include "/etc/passwd"', 1
)


def fenced(metal: str) -> str:
    return f"Here is the kernel.\n\n```metal\n{metal}```\nIt keeps the interface."


ANSWERS = {
    "model-a": [("text", fenced(GOOD)), ("text", fenced(BROKEN)), ("sleep", 6.0)],
    "model-b": [
        ("text", fenced(HOSTILE)),
        ("text", "Use more threads per row and vector loads; that should help."),
        ("status", 429),
        ("refusal", "I can't help with that."),
    ],
}


class Recorded(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answers):
        super().__init__(("127.0.0.1", 0), Handler)
        self.answers = {model: list(queue) for model, queue in answers.items()}
        self.requests: list[dict] = []
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.path == "/v1/chat/completions"
        with self.server.lock:
            self.server.requests.append(body)
            queue = self.server.answers.get(body["model"]) or [("status", 500)]
            kind, value = queue.pop(0)
        if kind == "sleep":
            time.sleep(value)
            return
        if kind == "status":
            self.send_response(value)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        message = {"role": "assistant", "content": value if kind == "text" else None}
        if kind == "refusal":
            message["refusal"] = value
        payload = json.dumps(
            {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def server():
    served = Recorded(ANSWERS)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    served.server_close()


def test_answers_parse_or_say_why():
    assert extract_kernel(fenced(GOOD))[0] == GOOD
    assert extract_kernel("no code here")[1] == "no-kernel"
    assert extract_kernel("I'm sorry, I cannot write that.")[1] == "refusal"
    env = {"METALGEN_LM_BASE_URL": "http://127.0.0.1:1/v1", "METALGEN_LM_MODELS": "a, b"}
    assert [e.model for e in endpoints_from(None, env)] == ["a", "b"]
    assert endpoints_from(None, {}) == []


def test_unreachable_endpoint_is_an_error_not_a_crash():
    answer = chat(Endpoint("http://127.0.0.1:9/v1", "m", timeout=2), [])
    assert answer.error == "connection" and answer.text is None


def test_search_with_a_swarm_of_recorded_models(server, tmp_path):
    config = tmp_path / "lm.json"
    base = f"http://127.0.0.1:{server.server_address[1]}/v1"
    config.write_text(
        json.dumps(
            {
                "endpoints": [
                    {"base_url": base, "model": m, "timeout": 2.5, "max_retries": 1}
                    for m in ("model-a", "model-b")
                ]
            }
        )
    )
    output = io.StringIO()
    options = SearchOptions(
        op="rms_norm",
        proposers=("lm",),
        budget=10,
        rounds=3,
        run_dir=tmp_path / "run",
        tuning_dir=tmp_path / "tuning",
        executor="inline",
        lm_config=config,
        dtypes=("float32",),
        distributions=("normal",),
        final_distributions=("normal",),
    )
    supervisor = Supervisor(options, Console(file=output, width=160))
    result = supervisor.run()
    text = output.getvalue()
    assert "correctness-only" in text

    events = [
        json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    ]
    said = {(e["model"], e["round"]): e for e in events if e["event"] == "proposer"}
    assert said["model-b", 2]["error"] == "no-kernel"  # malformed text: logged, no candidate
    assert said["model-a", 3]["error"] == "timeout"
    assert said["model-b", 3]["error"] == "refusal"  # after a 429 it retried, then a refusal

    verdicts = {}
    for event in events:
        if event["event"] == "evaluation":
            origin = supervisor.candidates[event["candidate"]].origin
            stages = event["result"]["stages"]
            failed = next((s for s in stages if s["status"] == "fail"), None)
            key = (origin.get("model") or origin["proposer"], origin.get("round"))
            verdicts[key] = (event["result"]["passed"], failed["stage"] if failed else "", failed)
    assert verdicts["incumbent", None][0]
    assert verdicts["model-a", 1][0], verdicts["model-a", 1]  # the good kernel
    assert verdicts["model-b", 1][1] == "contract"  # hostile: never compiled
    assert "#include" in verdicts["model-b", 1][2]["reason"]
    assert verdicts["model-a", 2][1] == "compile"  # broken
    assert "valu" in verdicts["model-a", 2][2]["reason"]

    # Later prompts carry the compiler's error, the hostile rejection and the profile.
    prompts = [r["messages"][-1]["content"] for r in server.requests]
    last = prompts[-1]
    assert "valu" in last and "#include" in last and "failed at stage `compile`" in last
    assert "bytes moved vs" in prompts[2]  # the incumbent's simulator traffic, round 2
    assert "[[buffer(3)]] constant RmsNormParams& params" in prompts[0]
    assert "def rms_norm(" in prompts[0]  # the torch reference

    assert result.winner is not None and result.winner.id == supervisor.incumbent.id
    table = json.loads((tmp_path / "tuning" / "rms_norm.json").read_text())
    assert table["shipped"]["kernel"] == "template"
    assert "correctness-only" in table["shipped"]["selected_by"]
