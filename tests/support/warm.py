"""What the warm-process tests share (tests/test_warm.py, tests/test_quick_client.py): a fact to recall and
a question that finds it, storing that fact, and waiting for warm processes to come up or go."""

from __future__ import annotations

import time
from pathlib import Path

from mem0_hooks import relay
from tests.support.hooks import prompt_event, run_hook

FACT = "We deploy the billing service with Helm to cluster kestrel-7"
QUESTION = "how do we deploy the billing service?"


def remember(project: Path) -> None:
    """One stored fact in ``project`` (captured by a hook, drained by replay into the data dir of the
    environment)."""
    from mem0_hooks.cli.main import main

    # With the warm process off (another fingerprint too): the test decides when one starts.
    off = {"MEM0_HOOKS_CLAUDE_CODE_WARM_PROCESS": "false"}
    assert run_hook("UserPromptSubmit", prompt_event("s-fact", project, FACT), env=off).returncode == 0
    assert main(["replay"]) == 0


def wait_for_warm(data_home: Path, alive: bool = True, timeout: float = 10.0, count: int = 1) -> list[dict]:
    """The live warm processes of ``data_home`` once at least ``count`` run (``alive``) or none does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in relay.describe(str(data_home)) if p["alive"]]
        if (len(found) >= count) if alive else not found:
            return found
        time.sleep(0.05)
    state = "never came up" if alive else "did not exit"
    raise AssertionError(f"warm process {state}: {relay.describe(str(data_home))}")
