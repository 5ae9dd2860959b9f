"""A burst of searches from one noisy tenant, and what a polite tenant sees meanwhile.

    python bench/overload.py [--burst 2000] [--polite 40]

Starts its own stack (see local_stack.py), seeds a few memories for two tenants, then
sends `--burst` searches at once as the noisy tenant while the polite tenant searches one
call at a time. Prints the noisy tenant's answers by status (with latency), and the polite
tenant's latency before and during the burst. Figures only: nothing is asserted.
"""

import argparse
import asyncio
import os
import statistics
import time
from collections import Counter, defaultdict

import httpx
from local_stack import describe, local_stack, machine

SEARCH = {"userId": "bench-user", "q": "what did we plan for the trip"}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def line(name: str, ms: list[float]) -> str:
    return (
        f"{name:<28} n={len(ms):<5} p50={pct(ms, 50):7.1f} ms  p95={pct(ms, 95):7.1f} ms"
        f"  max={max(ms, default=float('nan')):7.1f} ms"
    )


async def timed(client: httpx.AsyncClient) -> tuple[int, float]:
    start = time.perf_counter()
    response = await client.get("/v1/search", params=SEARCH)
    return response.status_code, (time.perf_counter() - start) * 1000


async def polite_calls(client: httpx.AsyncClient, n: int) -> list[tuple[int, float]]:
    return [await timed(client) for _ in range(n)]


async def seed(client: httpx.AsyncClient) -> None:
    items = [
        {"userId": SEARCH["userId"], "content": f"Note {i}: we planned the trip to Lisbon."}
        for i in range(20)
    ]
    (await client.post("/v1/ingest/batch", json={"items": items})).raise_for_status()


async def run(base: str, dev_key: str, burst: int, polite_n: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as anon:
        signed = await anon.post(
            "/v1/agent/sign-up", json={"username": "polite", "human_email": "p@example.com"}
        )
        signed.raise_for_status()
        polite_key = signed.json()["masterKey"]["key"]
    noisy = httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {dev_key}"},
        timeout=60,
        limits=httpx.Limits(max_connections=burst),
    )
    polite = httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {polite_key}"}, timeout=60
    )
    async with noisy, polite:
        await seed(noisy)
        await seed(polite)
        await asyncio.sleep(3)  # let indexing settle before measuring
        before = await polite_calls(polite, polite_n)
        burst_task = asyncio.gather(*(timed(noisy) for _ in range(burst)))
        during = await polite_calls(polite, polite_n)
        shed = await burst_task
    by_status: dict[int, list[float]] = defaultdict(list)
    for status, ms in shed:
        by_status[status].append(ms)
    print(f"burst of {burst} searches by one tenant: {dict(Counter(s for s, _ in shed))}")
    for status, ms in sorted(by_status.items()):
        print(line(f"  noisy {status}", ms))
    print(line("polite, before the burst", [ms for _, ms in before]))
    print(line("polite, during the burst", [ms for _, ms in during]))
    print(f"polite statuses during the burst: {dict(Counter(s for s, _ in during))}")
    ratio = statistics.median(x for _, x in during) / statistics.median(x for _, x in before)
    print(f"polite median, during / before: {ratio:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--polite", type=int, default=40)
    args = parser.parse_args()
    # Sign-up for the polite tenant; limits high enough that only shedding refuses.
    os.environ.setdefault("MNEMO_OPEN_SIGNUP", "true")
    os.environ.setdefault("MNEMO_RATE_LIMITS", "default=1000000")
    os.environ.setdefault("MNEMO_TENANT_RATE_LIMITS", "default=1000000")
    print(describe(machine()))
    print(
        f"MNEMO_MAX_IN_FLIGHT={os.environ.get('MNEMO_MAX_IN_FLIGHT', 'default')}"
        f" MNEMO_TENANT_SHARE={os.environ.get('MNEMO_TENANT_SHARE', 'default')}"
    )
    with local_stack("mnemo-bench-overload-") as stack:
        asyncio.run(run(stack.base_url, stack.api_key, args.burst, args.polite))


if __name__ == "__main__":
    main()
