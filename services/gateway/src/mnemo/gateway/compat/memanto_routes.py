"""MEMANTO's API v2 (seed 004) under /api/v2: the routes of mnemo.gateway.compat.memanto
(agents, sessions, memories) and mnemo.gateway.compat.memanto_session (the requests whose
agent is the session's), every error in MEMANTO's envelope."""

from litestar import Router
from litestar.exceptions import HTTPException

from mnemo.gateway.compat import memanto_session
from mnemo.gateway.compat.memanto import (
    activate,
    answer,
    batch_remember,
    compress_context,
    contradict,
    create_agent,
    deactivate,
    delete_agent,
    export,
    extend,
    get_agent,
    handle_error,
    list_agents,
    recall,
    recall_as_of,
    recall_changed_since,
    recall_current,
    remember,
    status,
    summarize,
    supersede,
    validate,
)
from mnemo.gateway.problems import Problem

memanto_router = Router(
    path="/api/v2",
    route_handlers=[
        create_agent,
        list_agents,
        get_agent,
        delete_agent,
        activate,
        deactivate,
        status,
        extend,
        remember,
        batch_remember,
        recall,
        recall_as_of,
        recall_changed_since,
        recall_current,
        validate,
        supersede,
        contradict,
        export,
        answer,
        summarize,
        compress_context,
        *memanto_session.HANDLERS,
    ],
    exception_handlers={
        Problem: handle_error,
        HTTPException: handle_error,
        Exception: handle_error,
    },
)
