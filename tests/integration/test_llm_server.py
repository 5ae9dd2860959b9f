"""MNEMO_LLM=local with the real parts: the model joined from its installed wheels, the
real llama-server on it, one JSON completion asked the way synthesis asks, a server
killed and restarted on its port by the supervisor's loop, and a clean stop.

Marked `llm` (`make test-llm`, which installs the `llm` extra): it loads a 1.1 GB model
and generates on the CPU, too slow for `make test`."""

import contextlib
import json
import os
import re
import signal
import time

import httpx
import psutil
import pytest

from mnemo.runtime.llm_model import QWEN_CODER_1_5B
from mnemo.runtime.llm_server import LlmServer
from mnemo.runtime.ports import port_open
from mnemo.runtime.servers import Servers
from mnemo.runtime.settings import load_run_settings
from mnemo.synthesis.budget import LLMBudget
from mnemo.synthesis.llm import LLMExtractor, Said

pytestmark = [pytest.mark.llm, pytest.mark.timeout(900)]

CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "since_year": {"type": ["integer", "null"]}},
    "required": ["city", "since_year"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Servers of a run with MNEMO_LLM=local; NATS and PostgreSQL are "given" (by URLs
    nothing connects to), so only the model server starts."""
    home = tmp_path_factory.mktemp("llm-home")
    settings = load_run_settings(
        {
            "MNEMO_HOME": str(home),
            "MNEMO_LLM": "local",
            "MNEMO_NATS_URL": "nats://127.0.0.1:1",
            "MNEMO_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none",
        }
    )
    run = Servers(settings)
    started = time.monotonic()
    try:
        run.start()
        print(f"\nmodel joined and server ready in {time.monotonic() - started:.1f}s")
        yield run
    finally:
        run.stop()


def test_the_model_is_joined_into_the_home_and_checked(servers):
    path = servers.settings.home_dir / "models" / f"{QWEN_CODER_1_5B.name}.gguf"
    assert path.stat().st_size == QWEN_CODER_1_5B.size
    assert path.read_bytes()[:4] == b"GGUF"
    assert servers.llm_model == QWEN_CODER_1_5B.name


async def test_one_json_completion_as_synthesis_asks_for_it(servers):
    llm = LLMExtractor(
        servers.llm_url, servers.llm_model, budget=None, api_key=servers.llm_api_key, timeout=300
    )
    try:
        await llm.ping()
        started = time.monotonic()
        text = await llm.chat_json(
            "Extract where the speaker lives. Answer only JSON following the schema.",
            "I moved to Lisbon in 2019 and I still love it here.",
            "city",
            CITY,
        )
        print(f"\nanswer in {time.monotonic() - started:.1f}s: {text}")
    finally:
        await llm.close()
    answer = json.loads(text)
    assert set(answer) == {"city", "since_year"}
    assert "lisbon" in answer["city"].lower()


async def test_the_extractor_reads_a_conversation_turn_about_its_speaker_only(servers):
    """The failure modes of the real model on LoCoMo's first turns, through the extractor
    synthesis uses: a greeting names the listener ("Hey Mel!"), which is neither the
    speaker's name nor anyone they mention, and says nothing about the speaker; a turn
    that does is read with a quote from the message and no date of the model's own."""
    llm = LLMExtractor(
        servers.llm_url,
        servers.llm_model,
        budget=LLMBudget(None, 0),  # no limit: never asks a database
        api_key=servers.llm_api_key,
        timeout=600,
        concurrency=1,
    )
    try:
        greeting = await llm.extract("t", "Hey Mel! Good to see you! How have you been?")
        said = "I went to a LGBTQ support group yesterday and it was so powerful."
        group = await llm.extract("t", said)
    finally:
        await llm.close()
    assert greeting.fallback_reason is None and group.fallback_reason is None
    assert greeting.facts == [] and greeting.mentions == []
    assert group.facts, "a turn about the speaker gives a fact"
    for found in group.facts:
        assert "support group" in found.statement.lower() or found.attribute == "feeling"
        assert not re.search(r"\b(19|20)\d\d\b", found.statement), "no date of its own"
        assert said[found.span[0] : found.span[1]]


async def test_turns_read_in_one_call_are_each_about_their_own_speaker(servers):
    """MNEMO_LLM_BATCH on the real model: three turns of two speakers asked in one call.
    The 1.5B model mixes the messages of a batch up (it answered one message's facts under
    every number), so a part may be refused and its turn asked again alone; whatever the
    calls, every turn is read by the model, each fact's span is in its own turn, and its
    statement is about the turn's speaker without the name; the greeting gives none."""
    llm = LLMExtractor(
        servers.llm_url,
        servers.llm_model,
        budget=LLMBudget(None, 0),
        api_key=servers.llm_api_key,
        timeout=600,
        concurrency=1,
        batch=3,
    )
    turns = [
        Said("Hi Tomas! How was your week?", "Priya"),
        Said("Busy! I started rowing at the club and I love it.", "Tomas"),
        Said("I adopted a greyhound named Pixel last month.", "Priya"),
    ]
    asked = []
    ask = llm.chat_json

    async def counted(*args, **kwargs):
        asked.append(args[1])
        return await ask(*args, **kwargs)

    llm.chat_json = counted  # type: ignore[method-assign]
    try:
        greeting, rowing, greyhound = await llm.extract_many("t", turns)
    finally:
        await llm.close()
    print(f"\ncalls: {len(asked)}; {rowing.facts}; {greyhound.facts}")
    assert asked[0] == "\n".join(f"[{i}] {t.speaker}: {t.content}" for i, t in enumerate(turns, 1))
    assert greeting.facts == []
    for said, found in zip(turns[1:], (rowing, greyhound), strict=True):
        assert found.fallback_reason is None and found.facts
        for fact in found.facts:
            assert said.content[fact.span[0] : fact.span[1]]
            assert said.speaker not in fact.statement
    assert any("row" in f.statement.lower() for f in rowing.facts)
    assert any("greyhound" in f.statement.lower() for f in greyhound.facts)


def test_the_server_answers_only_with_its_key(servers):
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    response = httpx.post(f"{servers.llm_url}/chat/completions", json=body, timeout=30)
    assert response.status_code == 401


def test_a_killed_server_is_restarted_on_its_port(servers):
    url, old = servers.llm_url, servers.llm._proc.pid
    os.kill(old, signal.SIGKILL)
    servers.llm._proc.wait(10)
    assert servers.keep_running()
    assert servers.llm_url == url and servers.llm._proc.pid != old
    response = httpx.get(url.removesuffix("/v1") + "/health", timeout=5)
    assert response.status_code == 200


def test_stop_ends_the_server_and_frees_its_port(servers):
    pid, port = servers.llm._proc.pid, servers.llm.port
    servers.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not port_open("127.0.0.1", port)


def test_a_server_left_by_a_killed_run_is_stopped_by_the_next(servers, tmp_path):
    """A supervisor killed with SIGKILL leaves its server (and 1 GB of memory) behind; the
    next start on the same pid file stops it first."""
    model = servers.settings.home_dir / "models" / f"{QWEN_CODER_1_5B.name}.gguf"
    pid_file = tmp_path / "llama-server.pid"

    def server() -> LlmServer:
        return LlmServer(model, "m", log_path=tmp_path / "llm.log", pid_file=pid_file)

    left = server()
    left.start()
    orphan = left._proc.pid
    left._proc = None  # forgotten, as by a supervisor that died
    fresh = server()
    try:
        fresh.start()
        assert not psutil.pid_exists(orphan) or psutil.Process(orphan).status() == "zombie"
        assert fresh._proc.pid != orphan
    finally:
        fresh.stop()
        with contextlib.suppress(psutil.Error):
            psutil.Process(orphan).kill()
