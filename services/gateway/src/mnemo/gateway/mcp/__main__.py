"""`python -m mnemo.gateway.mcp` (what `mnemo mcp` runs): the MCP server on stdio."""

import sys

from mnemo.gateway.mcp.settings import McpStdioSettings
from mnemo.gateway.mcp.stdio import run
from mnemo.settings import SettingsError, load_settings
from mnemo.telemetry import configure


def main() -> int:
    try:
        settings = load_settings(McpStdioSettings)
    except SettingsError as exc:
        print(f"mnemo mcp: {exc}", file=sys.stderr)
        return 2
    if not settings.api_key:
        print("mnemo mcp: set MNEMO_API_KEY to a Mnemo key (mk_ or ak_)", file=sys.stderr)
        return 2
    configure("mcp", level=settings.log_level)
    return run(settings, settings.api_key)


if __name__ == "__main__":
    sys.exit(main())
