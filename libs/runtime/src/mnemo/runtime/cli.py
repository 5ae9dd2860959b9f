"""The `mnemo` command: `mnemo run` (what `make run` does), `mnemo servers`, `mnemo tail`,
`mnemo mcp`, `mnemo admin create-tenant`, `mnemo admin dead-letters`."""

import argparse
import os
import sys
from collections.abc import Sequence

from mnemo.runtime.admin import create_tenant
from mnemo.runtime.dead_letters_cli import dead_letters
from mnemo.runtime.servers import serve_servers
from mnemo.runtime.settings import home_problem, load_run_settings
from mnemo.runtime.supervisor import Supervisor
from mnemo.runtime.tail import default_url, resolve_key, run_tail
from mnemo.settings import SettingsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnemo",
        description="Run Mnemo on this machine. Configuration comes from MNEMO_* variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "run",
        help="start NATS, PostgreSQL and the five services; print the URL and a dev key",
    )
    commands.add_parser(
        "servers",
        help="start only NATS and PostgreSQL (and with MNEMO_LLM=local the model server) "
        "and print their MNEMO_*_URL settings",
    )
    tail = commands.add_parser(
        "tail",
        help="follow the gateway's event stream and print one line per event",
    )
    tail.add_argument(
        "--url", help="gateway URL (default http://127.0.0.1:$MNEMO_GATEWAY_PORT, port 8080)"
    )
    tail.add_argument(
        "--key", help="API key (default: MNEMO_DEV_API_KEY, else MNEMO_HOME/dev_api_key)"
    )
    tail.add_argument(
        "--type", action="append", dest="types", metavar="TYPE", help="only this event type"
    )
    tail.add_argument("--user", help="only events about this userId")
    tail.add_argument("--agent", help="only events about this agentId")
    commands.add_parser(
        "mcp",
        help="serve the MCP tools on stdin/stdout (MNEMO_GATEWAY_URL, MNEMO_API_KEY)",
    )
    admin = commands.add_parser("admin", help="manage tenants of a running Mnemo")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_commands.add_parser(
        "create-tenant", help="make a tenant and print its first master key (mk_)"
    )
    create.add_argument("--name", required=True, help="the tenant's name")
    create.add_argument("--email", help="a contact address")
    dead = admin_commands.add_parser(
        "dead-letters", help="see, count, replay or drop what the consumers gave up on"
    )
    dead.add_argument("action", choices=["list", "count", "replay", "drop"])
    dead.add_argument("--consumer", help="only this consumer's (e.g. ingest-memory)")
    dead.add_argument(
        "--seq", type=int, action="append", dest="sequences", metavar="N", help="this entry"
    )
    dead.add_argument("--all", action="store_true", help="every entry (of --consumer)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mnemo` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_run_settings()
    except SettingsError as exc:
        print(f"mnemo: {exc}", file=sys.stderr)
        return 2
    if args.command in ("run", "servers") and (problem := home_problem(settings)):
        print(f"mnemo: {problem}", file=sys.stderr)
        return 2
    if args.command == "tail":
        url = args.url or default_url(settings.gateway_port)
        return run_tail(url, args.key, args.types, args.user, args.agent)
    if args.command == "mcp":
        return serve_mcp()
    if args.command == "run":
        return Supervisor(settings).run()
    if args.command == "admin" and args.admin_command == "dead-letters":
        return dead_letters(settings, args.action, args.consumer, args.sequences, args.all)
    if args.command == "admin":
        return create_tenant(settings, args.name, args.email)
    return serve_servers(settings)


def serve_mcp() -> int:
    """`mnemo mcp`: the gateway's MCP server on stdio (`python -m mnemo.gateway.mcp`, run
    in this process's place as `mnemo run` runs the services, so stdin and stdout are
    its). The key is MNEMO_API_KEY, else the development key as `mnemo tail` finds it."""
    env = dict(os.environ)
    if not env.get("MNEMO_API_KEY"):
        key = resolve_key(None)
        if not key:
            print("mnemo mcp: set MNEMO_API_KEY to a Mnemo key (mk_ or ak_)", file=sys.stderr)
            return 2
        env["MNEMO_API_KEY"] = key
    os.execve(sys.executable, [sys.executable, "-m", "mnemo.gateway.mcp"], env)


if __name__ == "__main__":
    sys.exit(main())
