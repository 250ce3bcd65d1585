"""The validated shape of ``config.yaml`` (pydantic; imported only when the file must be re-validated).

Every key a user can write is here, with its default and bounds. Unknown keys are rejected
(``extra="forbid"``) so a typo is an error that names the key, never a silent no-op.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class MemoryConfig(_Section):
    auto_store: bool = Field(True, description="Capture conversation turns (Stop / UserPromptSubmit).")
    search_on_query: bool = Field(True, description="Inject recalled memories on every prompt.")
    recall_on_session_start: bool = Field(True, description="Inject a project orientation at SessionStart.")
    max_context_memories: int = Field(
        24, ge=1, le=100, description="Most groups of adjacent turns (each under one date) injected per prompt."
    )
    context_budget_chars: int = Field(4600, ge=200, le=9500, description="Most characters injected per prompt.")
    min_relevance: float = Field(
        0.215, ge=0.0, le=1.0, description="Local store: inject only turns scoring at least this share of the best."
    )
    session_start_budget_chars: int = Field(2500, ge=200, le=9500)
    min_prompt_words: int = Field(2, ge=0, le=50, description="Prompts with fewer content words recall nothing.")
    semantic: bool = Field(
        True,
        description=(
            "Local store: recall by meaning as well as by words (static embeddings, computed by the flusher, "
            "searched by the warm process)."
        ),
    )
    semantic_weight: float = Field(
        1.0, ge=0.0, le=5.0, description="How much closeness in meaning counts next to matching words (0: off)."
    )
    max_store_size_mb: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description=(
            "Cap on the local store (and the local fallback copy): past it the flusher forgets the oldest "
            "conversation turns first (notes last). None: no cap."
        ),
    )
    cache_embeddings: bool = Field(
        True,
        description=(
            "Keep the embeddings semantic recall computes in the store (computed once, by the flusher). False: "
            "none are kept, so there is no recall by meaning (a prompt cannot wait for every memory to be "
            "embedded again)."
        ),
    )
    record_injections: bool = Field(
        True,
        description=(
            "Keep a record of every injected block (when, session, project, the prompt's first words, the ids, "
            "sizes and scores of the memories shown) in injections.jsonl, for `mem0-hooks last` and the viewer."
        ),
    )


class PrivacyConfig(_Section):
    require_consent: bool = Field(True, description="Capture nothing until consent is given.")
    consent_given: bool | None = Field(
        None,
        description=(
            "Set here, it decides; left out, the consent recorded in consent.json in the data dir (by install "
            "or the plugin) does. ``config.validate`` puts the effective value here."
        ),
    )
    auto_delete_after_days: int | None = Field(None, ge=1, le=36500)
    redact_patterns: list[str] = Field(default_factory=list, description="Extra regexes to redact.")
    exclude_projects: list[str] = Field(
        default_factory=list, description="Globs of project paths never captured or recalled."
    )

    @field_validator("redact_patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return value


_FALLBACK_WORDS = {"true": "local", "yes": "local", "on": "local", "false": "skip", "no": "skip", "off": "skip"}


class ClaudeCodeConfig(_Section):
    memory_integration: bool = Field(True, description="False switches every hook off: no capture, no recall.")
    fallback_mode: Literal["skip", "local"] = Field(
        "local",
        description=(
            "While a remote backend is down, or does not answer within mem0.recall_timeout_seconds: 'local' "
            "recalls from the local index alone (the turns captured on this machine, see mem0.local_index); "
            "'skip' injects nothing."
        ),
    )
    hook_timeout_seconds: int = Field(10, ge=1, le=60, description="The timeout written into settings.json.")
    warm_process: bool = Field(
        True,
        description=(
            "Serve SessionStart, UserPromptSubmit and Stop from a small background process that keeps the code "
            "loaded and the store open (the hook then costs about a bare Python start); off runs every "
            "hook in its own process."
        ),
    )
    warm_process_idle_minutes: float = Field(
        30.0, gt=0, le=1440, description="The warm process exits after this long without a hook."
    )

    @field_validator("fallback_mode", mode="before")
    @classmethod
    def _fallback_from_bool(cls, value: object) -> object:
        """The original design's spelling: ``true`` (keep working from the local copy) is ``local``,
        ``false`` (go without memory) is ``skip``."""
        if isinstance(value, bool):
            return "local" if value else "skip"
        if isinstance(value, str) and value.strip().lower() in _FALLBACK_WORDS:
            return _FALLBACK_WORDS[value.strip().lower()]
        return value


class QueueConfig(_Section):
    max_items: int = Field(20000, ge=10, le=10_000_000, description="Pending items kept before new ones are refused.")
    max_attempts: int = Field(10, ge=1, le=1000, description="Deliveries tried before an item is dead-lettered.")
    backoff_base_seconds: float = Field(2.0, gt=0, le=3600)
    backoff_max_seconds: float = Field(600.0, gt=0, le=86400)
    batch_operations: bool = Field(
        True,
        description=(
            "The flusher sends several items in one request where the store's API takes them (the local store; "
            "the Mem0 Platform and the mem0 server, per session); false sends one item per request."
        ),
    )


class Mem0Config(_Section):
    base_url: str | None = Field(None, description="Server URL; defaults per backend.")
    api_key: str | None = Field(None, description="Prefer MEM0_API_KEY or the api_key file (0600).")
    agent_id: str = "claude-code"
    app: str = Field("claude-code", description="OpenMemory app / client name.")
    infer: bool = Field(True, description="Let Mem0 extract facts from each turn.")
    org_id: str | None = None
    project_id: str | None = None
    local_index: bool = Field(
        True,
        description=(
            "With a remote backend, also keep every turn captured on this machine in the embedded store, and "
            "fuse its ranking (words, meaning, neighbours, sessions) with the remote store's own search "
            "(hybrid recall); false: recall from the remote store alone, and nothing kept here."
        ),
    )
    recall_timeout_seconds: float = Field(1.5, gt=0, le=30, description="Whole-recall deadline on the hot path.")
    write_timeout_seconds: float = Field(20.0, gt=0, le=300)
    breaker_cooldown_seconds: float = Field(
        60.0, ge=0, le=86400, description="Skip the network this long after a failure."
    )

    @field_validator("base_url")
    @classmethod
    def _url_has_scheme(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value.rstrip("/") if value else value


class McpConfig(_Section):
    enabled: bool = Field(
        True,
        description=(
            "Register the memory tools' MCP server (`mem0-hooks mcp`) with Claude Code at install; false: "
            "install leaves it out (and removes a registration it made)."
        ),
    )


class Config(_Section):
    backend: Literal["local", "platform", "openmemory", "server"] = "local"
    user_id: str = Field("", description="Stable user id; defaults to the login name.")
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    claude_code: ClaudeCodeConfig = Field(default_factory=ClaudeCodeConfig)
    queue: QueueConfig = Field(default_factory=QueueConfig)
    mem0: Mem0Config = Field(default_factory=Mem0Config)
    mcp: McpConfig = Field(default_factory=McpConfig)
    log_level: Literal["ERROR", "WARNING", "INFO", "DEBUG"] = "INFO"
