"""`mnemo mcp` (stdio) settings, from MNEMO_* environment variables."""

import msgspec


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
        if self.gateway_url is not None and not self.gateway_url.startswith(
            ("http://", "https://")
        ):
            raise ValueError("MNEMO_GATEWAY_URL must be an http:// or https:// URL")
        if self.mcp_timeout <= 0:
            raise ValueError("MNEMO_MCP_TIMEOUT must be above 0")
        if self.log_level.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("MNEMO_LOG_LEVEL must be one of debug, info, warning, error")

    @property
    def url(self) -> str:
        return self.gateway_url or f"http://127.0.0.1:{self.gateway_port}"
