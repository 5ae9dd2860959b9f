"""What request handlers need, built once at start-up and kept on the app's state."""

from dataclasses import dataclass, field

from litestar import Request
from nats.aio.client import Client

from mnemo.bus import OVERLOADED, TOO_LARGE, Publisher, QueryFailed, ask
from mnemo.contracts import Headers, Topology
from mnemo.gateway.auth import KeyCache
from mnemo.gateway.limits import Limits
from mnemo.gateway.problems import Problem
from mnemo.gateway.settings import GatewaySettings
from mnemo.gateway.shedding import StreamSlots
from mnemo.gateway.validation import check_outbound

_QUERY_STATUS = {
    "unavailable": 503,
    OVERLOADED: 503,  # queued half as long as the gateway waits: refused, not run
    "timeout": 504,
    "invalid": 400,
    "not_found": 404,
    "conflict": 409,
    "forbidden": 403,
    TOO_LARGE: 400,  # an answer longer than one message: ask for fewer (names `limit`)
}


@dataclass
class Deps:
    settings: GatewaySettings
    nc: Client
    publisher: Publisher
    topology: Topology
    limits: Limits
    keys: KeyCache
    # The event streams open on this replica (routes/events.py).
    streams: StreamSlots = field(init=False)

    def __post_init__(self) -> None:
        self.streams = StreamSlots(self.settings.max_streams, self.settings.tenant_share)

    async def ask(
        self,
        request: Request,
        service: str,
        endpoint: str,
        query: object,
        answer: type,
        tenant: str,
        timeout: float | None = None,
    ) -> object:
        """Ask a query service, mapping its failures to problems the caller can act on."""
        check_outbound(query, self.nc.max_payload)  # type: ignore[arg-type]
        state = request.scope["state"]
        headers = {
            Headers.CORRELATION: state["correlation_id"],
            Headers.TENANT: tenant,
            Headers.REQUEST_ID: state["request_id"],
        }
        try:
            return await ask(
                self.nc,
                self.topology.svc_subject(service, endpoint),
                query,  # type: ignore[arg-type]
                answer,
                headers=headers,
                timeout=timeout or self.settings.query_timeout,
            )
        except QueryFailed as exc:
            status = _QUERY_STATUS.get(exc.error.code, 502)
            code = (
                exc.error.code.upper()
                if status < 500
                else f"{service.upper()}_{exc.error.code.upper()}"
            )
            # A service away or slow: come back in a moment.
            retry = {"Retry-After": "1"} if status in (503, 504) else None
            raise Problem(
                status, code, exc.error.message, field=exc.error.field, headers=retry
            ) from None


def deps_of(request: Request) -> Deps:
    return request.app.state.deps  # type: ignore[no-any-return]
