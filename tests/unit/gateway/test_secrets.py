"""Commands that carry what a caller wrote beside ingest are redacted like ingest."""

from mnemo.contracts import ChangeFact, CreateAgent
from mnemo.gateway.secrets import redacted

TOKEN = "gh" + "p_" + "a1B2c3D4" * 4 + "e5F6"


def test_a_fact_change_loses_the_secrets_of_its_statement_and_reason():
    command = ChangeFact(
        tenant_id="t",
        fact_id="f",
        change="contradict",
        actor="key:1",
        content=f"the deploy token is now {TOKEN}",
        reason="password: hunter2",
    )
    done = redacted(command, "content", "value", "reason")
    assert done.content == "the deploy token is now [REDACTED:github_token]"
    assert done.reason == "password: [REDACTED:generic_secret]"
    assert done.value is None and done.fact_id == "f"


def test_an_agent_loses_secret_fields_of_its_metadata():
    command = CreateAgent(
        tenant_id="t",
        name="vault",
        description=f"uses {TOKEN}",
        metadata={"owner": "ada", "integrations": [{"apiKey": "opensesame"}]},
        actor="key:1",
    )
    done = redacted(command, "description", "metadata")
    assert done.description == "uses [REDACTED:github_token]"
    assert done.metadata == {
        "owner": "ada",
        "integrations": [{"apiKey": "[REDACTED:generic_secret]"}],
    }
