"""A service's health report: every check is shown; an optional one (a dependency the
service does without, like the LLM) that fails leaves the status "ok"."""

from mnemo.host import Host
from mnemo.settings import ServiceSettings


async def fine() -> None:
    return None


async def broken() -> None:
    raise RuntimeError("HTTP 503")


def host() -> Host:
    # health() only runs the checks: nothing is connected.
    return Host("synthesis", ServiceSettings(nats_url="nats://127.0.0.1:4222"))


async def test_a_failing_optional_check_is_shown_but_leaves_the_service_ok():
    service = host()
    service.health_check("postgres", fine)
    service.health_check("llm", broken, optional=True)
    report = await service.health()
    assert report.status == "ok"
    assert report.checks["postgres"] == "ok"
    assert report.checks["llm"].startswith("error: ") and "HTTP 503" in report.checks["llm"]


async def test_a_failing_required_check_degrades_the_service():
    service = host()
    service.health_check("postgres", broken)
    service.health_check("llm", fine, optional=True)
    report = await service.health()
    assert report.status == "degraded"
    assert report.checks == {"postgres": "error: RuntimeError('HTTP 503')", "llm": "ok"}


async def test_a_check_shows_no_password_or_key_its_failure_quotes():
    async def refused() -> None:
        raise OSError("cannot reach postgresql://mnemo:s3cr3t-Pass@db:5432/mnemo")

    service = host()
    service.health_check("postgres", refused)
    report = await service.health()
    assert report.checks["postgres"].startswith("error: OSError(")
    assert "db:5432" in report.checks["postgres"] and "s3cr3t-Pass" not in report.checks["postgres"]
