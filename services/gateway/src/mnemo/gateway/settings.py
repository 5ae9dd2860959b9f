"""Gateway settings, from MNEMO_* environment variables."""

import ipaddress

from mnemo.gateway.limits import LimitSpec, parse_limits, parse_tenant_limits
from mnemo.settings import ServiceSettings

DEFAULT_RATE_LIMITS = (
    "ingest=6000,batch=600,search=3000,context=3000,memories=3000,forget=600,signup=60,default=6000"
)
DEFAULT_TENANT_RATE_LIMITS = "default=30000"


def _address(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


class GatewaySettings(ServiceSettings, kw_only=True, frozen=True):
    # MNEMO_GATEWAY_HOST: address to listen on (0.0.0.0 in containers).
    gateway_host: str = "127.0.0.1"
    # MNEMO_GATEWAY_PORT: port to listen on.
    gateway_port: int = 8080
    # MNEMO_DEV_API_KEY: a development key that acts for the tenant MNEMO_DEV_TENANT.
    dev_api_key: str | None = None
    # MNEMO_DEV_TENANT: the tenant the development key belongs to.
    dev_tenant: str = "dev"
    # MNEMO_KEY_SECRET: server secret of the API keys' HMAC-SHA256 digests (ingest needs the
    # same value); without it only the development key works.
    key_secret: str | None = None
    # MNEMO_OPEN_SIGNUP: let anyone call POST /v1/agent/sign-up (a new tenant per call).
    open_signup: bool = False
    # MNEMO_MAX_BODY_BYTES: largest request body accepted (413 beyond).
    max_body_bytes: int = 6 * 1024 * 1024
    # MNEMO_BODY_TIMEOUT: seconds a request's body may take to arrive, from when the
    # gateway starts reading it; past it the request is answered 408 and its connection
    # closed (a slow client must not hold a load-shedding slot for as long as it likes).
    body_timeout: float = 30.0
    # MNEMO_QUERY_TIMEOUT: seconds to wait for a query service's answer.
    query_timeout: float = 5.0
    # MNEMO_ANSWER_TIMEOUT: seconds to wait for synthesis's LLM to answer a question
    # (POST /v1/answer, MEMANTO answer); past it the extractive answer is given.
    answer_timeout: float = 30.0
    # MNEMO_RATE_LIMITS: calls per minute per key, by action ("default" for the rest);
    # what is set overrides these entries one by one (the others stay), 0 refuses every call.
    rate_limits: str = DEFAULT_RATE_LIMITS
    # MNEMO_TENANT_RATE_LIMITS: calls per minute per tenant (all its keys), by action,
    # over these defaults in the same way.
    tenant_rate_limits: str = DEFAULT_TENANT_RATE_LIMITS
    # MNEMO_TENANT_LIMITS: per-tenant overrides of the tenant limits,
    # "tenant:action=n,...;tenant:...".
    tenant_limits: str = ""
    # MNEMO_MONTHLY_QUOTAS: calls per calendar month per tenant, by action (none: unlimited).
    monthly_quotas: str = ""
    # MNEMO_AUTH_FAILURE_LIMIT: failed authentications (a key presented but unknown or
    # revoked) per client address and minute, shared by all replicas; beyond it the address
    # gets 429 for the rest of the minute, except for keys this replica already knows.
    # 0: no limit.
    auth_failure_limit: int = 30
    # MNEMO_LIMIT_TIMEOUT: seconds to wait for the rate-limit counters (NATS JetStream);
    # past it the call is refused with 503 and Retry-After, never let through uncounted.
    limit_timeout: float = 2.0
    # MNEMO_MAX_IN_FLIGHT: requests one gateway replica works on at once; beyond it a
    # request is answered 503 with Retry-After at once (0: no bound). Health checks and
    # event streams do not count.
    max_in_flight: int = 64
    # MNEMO_TENANT_SHARE: the share of MNEMO_MAX_IN_FLIGHT one tenant (or one client
    # address, for calls without a known key) may hold, so that one noisy tenant cannot
    # starve the others, and the share of its tenant's that one key may hold (at least 1),
    # so that one noisy agent key cannot starve its tenant's other keys; the same nested
    # shares bound event streams. 1.0 lets one key take every slot (a single-tenant,
    # single-key server).
    tenant_share: float = 0.5
    # MNEMO_MAX_STREAMS: event streams (GET /v1/events/stream) one gateway replica holds
    # open at once, MNEMO_TENANT_SHARE of them per tenant and of a tenant's per key: each
    # holds a JetStream consumer and a queue for as long as its client stays. Beyond, 429
    # (the key's or the tenant's share) or 503 (the replica's), with Retry-After. 0: no bound.
    max_streams: int = 256
    # MNEMO_FORWARDED_ALLOW_IPS: comma-separated addresses of reverse proxies whose
    # X-Forwarded-For is believed; empty: the client address is the TCP peer, always.
    forwarded_allow_ips: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.gateway_port < 65536:
            raise ValueError("MNEMO_GATEWAY_PORT must be a port number (1-65535)")
        if not self.gateway_host.strip():
            # uvicorn takes "" for every address (0.0.0.0 and ::), not the default 127.0.0.1.
            raise ValueError("MNEMO_GATEWAY_HOST is set but empty")
        if self.dev_api_key is not None and len(self.dev_api_key) < 16:
            raise ValueError("MNEMO_DEV_API_KEY must be at least 16 characters")
        if self.key_secret is not None and len(self.key_secret) < 16:
            raise ValueError("MNEMO_KEY_SECRET must be at least 16 characters")
        self.limit_spec()  # a malformed limit fails at start, naming its variable
        if self.auth_failure_limit < 0 or self.max_in_flight < 0 or self.max_streams < 0:
            raise ValueError(
                "MNEMO_AUTH_FAILURE_LIMIT, MNEMO_MAX_IN_FLIGHT and MNEMO_MAX_STREAMS must be >= 0"
            )
        if not 0 < self.tenant_share <= 1:
            raise ValueError("MNEMO_TENANT_SHARE must be above 0 and at most 1")
        if self.limit_timeout <= 0:
            raise ValueError("MNEMO_LIMIT_TIMEOUT must be above 0")
        if self.answer_timeout <= 0:
            raise ValueError("MNEMO_ANSWER_TIMEOUT must be above 0")
        if self.query_timeout <= 0:
            raise ValueError("MNEMO_QUERY_TIMEOUT must be above 0")
        if self.max_body_bytes < 1:
            raise ValueError("MNEMO_MAX_BODY_BYTES must be at least 1")
        if not 0 < self.body_timeout < float("inf"):
            raise ValueError("MNEMO_BODY_TIMEOUT must be above 0")
        for address in filter(None, (a.strip() for a in self.forwarded_allow_ips.split(","))):
            if address != "*" and not _address(address):
                raise ValueError(
                    f"MNEMO_FORWARDED_ALLOW_IPS entries are addresses or networks, not {address!r}"
                )
        if not self.dev_tenant.replace("-", "").replace("_", "").isalnum():
            raise ValueError("MNEMO_DEV_TENANT must be letters, digits, '-' or '_'")

    def limit_spec(self) -> LimitSpec:
        return LimitSpec(
            per_minute={
                **parse_limits(DEFAULT_RATE_LIMITS, "MNEMO_RATE_LIMITS"),
                **parse_limits(self.rate_limits, "MNEMO_RATE_LIMITS"),
            },
            monthly=parse_limits(self.monthly_quotas, "MNEMO_MONTHLY_QUOTAS"),
            tenant_per_minute={
                **parse_limits(DEFAULT_TENANT_RATE_LIMITS, "MNEMO_TENANT_RATE_LIMITS"),
                **parse_limits(self.tenant_rate_limits, "MNEMO_TENANT_RATE_LIMITS"),
            },
            per_tenant=parse_tenant_limits(self.tenant_limits, "MNEMO_TENANT_LIMITS"),
            auth_failures=self.auth_failure_limit,
        )
