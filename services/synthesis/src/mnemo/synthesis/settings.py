"""Synthesis settings, from MNEMO_* environment variables."""

from mnemo.settings import DatabaseSettings
from mnemo.settings.urls import HTTP, check_url

# Memories in one model call at most: their answers (768 tokens each, at most) and the
# prompt fit the local server's 8,192-token context.
MOST_BATCH = 8


class SynthesisSettings(DatabaseSettings, kw_only=True, frozen=True):
    # MNEMO_QUERY_TIMEOUT: seconds to wait for another service's answer (memory packs).
    query_timeout: float = 5.0
    # MNEMO_LLM_URL: an OpenAI-compatible server (POST /v1/chat/completions) that extracts
    # facts; unset: the built-in extractor only.
    llm_url: str | None = None
    # MNEMO_LLM_MODEL: the model to ask (required with MNEMO_LLM_URL).
    llm_model: str | None = None
    # MNEMO_LLM_API_KEY: sent as a bearer token; never logged.
    llm_api_key: str | None = None
    # MNEMO_LLM_EXTRACT: whether the model reads each memory after the rules (the second
    # phase); false: it only answers questions (POST /v1/answer, MEMANTO answer).
    llm_extract: bool = True
    # MNEMO_LLM_TIMEOUT: seconds to wait for one answer.
    llm_timeout: float = 30.0
    # MNEMO_LLM_CONCURRENCY: most calls in flight per synthesis process.
    llm_concurrency: int = 4
    # MNEMO_LLM_BATCH: memories of one subject the model reads in one call (1: one a call).
    llm_batch: int = 1
    # MNEMO_LLM_BATCH_CHARS: most characters of memory in one call (a longer one goes alone).
    llm_batch_chars: int = 4000
    # MNEMO_LLM_RETRIES: further attempts after a 5xx, 429, time-out or lost connection.
    llm_retries: int = 2
    # MNEMO_LLM_TENANT_BUDGET: LLM calls per tenant per UTC day, shared by all replicas
    # (0: no limit); past it the model is not asked (reason "budget"; the rules' facts stand).
    llm_tenant_budget: int = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.llm_url and not self.llm_model:
            raise ValueError("MNEMO_LLM_MODEL is required when MNEMO_LLM_URL is set")
        if self.llm_url:
            check_url("MNEMO_LLM_URL", self.llm_url, HTTP)
        if self.llm_concurrency < 1:
            raise ValueError("MNEMO_LLM_CONCURRENCY must be at least 1")
        if not 1 <= self.llm_batch <= MOST_BATCH:
            raise ValueError(f"MNEMO_LLM_BATCH must be between 1 and {MOST_BATCH}")
        if self.llm_batch_chars < 1:
            raise ValueError("MNEMO_LLM_BATCH_CHARS must be at least 1")
        if not 0 <= self.llm_retries <= 10:
            raise ValueError("MNEMO_LLM_RETRIES must be between 0 and 10")
        if self.llm_tenant_budget < 0:
            raise ValueError("MNEMO_LLM_TENANT_BUDGET must be 0 (no limit) or more")
        if self.llm_timeout <= 0:
            raise ValueError("MNEMO_LLM_TIMEOUT must be more than 0")
        if self.query_timeout <= 0:
            raise ValueError("MNEMO_QUERY_TIMEOUT must be more than 0")
