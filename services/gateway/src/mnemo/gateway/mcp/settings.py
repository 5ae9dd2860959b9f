"""`mnemo mcp` (stdio) settings, from MNEMO_* environment variables."""

import msgspec

from mnemo.settings.clients import KEY_TEXT, url_problem


class McpStdioSettings(msgspec.Struct, kw_only=True, frozen=True):
    # MNEMO_GATEWAY_URL: the gateway the tools call (default http://127.0.0.1:$MNEMO_GATEWAY_PORT).
    gateway_url: str | None = None
    # MNEMO_GATEWAY_PORT: the port of the local gateway when MNEMO_GATEWAY_URL is unset.
    gateway_port: int = 8080
    # MNEMO_API_KEY: the Mnemo key every tool call is made with (mk_ or ak_).
    api_key: str | None = None
    # MNEMO_MCP_TIMEOUT: seconds one tool call may wait for the gateway.
    mcp_timeout: float = 60.0
    # MNEMO_LOG_LEVEL: debug, info, warning or error (the lines go to stderr).
    log_level: str = "info"

    def __post_init__(self) -> None:
        if not 0 < self.gateway_port < 65536:
            raise ValueError("MNEMO_GATEWAY_PORT must be a port number (1-65535)")
        if self.gateway_url is not None:
            _check_url(self.gateway_url)
        if self.api_key is not None and not KEY_TEXT.fullmatch(self.api_key):
            # Never the key itself in the message.
            raise ValueError(
                "MNEMO_API_KEY must be printable ASCII without spaces (an mk_ or ak_ key)"
            )
        if self.mcp_timeout <= 0:
            raise ValueError("MNEMO_MCP_TIMEOUT must be above 0")
        if self.log_level.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("MNEMO_LOG_LEVEL must be one of debug, info, warning, error")

    @property
    def url(self) -> str:
        return self.gateway_url or f"http://127.0.0.1:{self.gateway_port}"


def _check_url(url: str) -> None:
    if problem := url_problem(url):
        hint = "; the key is MNEMO_API_KEY" if "user" in problem else ""
        raise ValueError(f"MNEMO_GATEWAY_URL {problem}{hint}")
