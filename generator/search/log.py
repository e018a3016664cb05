"""The search log: one JSON object per line, appended and flushed as things happen, so a
search that stops (killed, out of time, a crashed machine) resumes from it: candidates
with an evaluation are not evaluated again, the proposers see every earlier attempt, and
the budget counts what was already spent. A last line cut short by a crash is ignored.

Events: ``start`` (command, settings), ``round``, ``candidate`` (id, provenance),
``evaluation`` (id, every stage's verdict, reason and time), ``proposer`` (what a
proposer met: a language model's answer, error or refusal), ``final`` (the winner and its
full verification), ``table`` (what was written where).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any


class SearchLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, event: dict[str, Any]) -> None:
        record = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(), **event}
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record, default=str) + "\n")
            handle.flush()

    def events(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        found = []
        for line in self.path.read_text().splitlines():
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short when the search stopped
        return found

    def evaluations(self) -> dict[str, dict[str, Any]]:
        """Candidate id -> its last evaluation."""
        return {
            e["candidate"]: e["result"] for e in self.events() if e.get("event") == "evaluation"
        }

    def candidates(self) -> list[str]:
        """Candidate ids in the order they were proposed."""
        seen: list[str] = []
        for event in self.events():
            if event.get("event") == "candidate" and event["candidate"] not in seen:
                seen.append(event["candidate"])
        return seen
