"""The baseline: a bare Litestar hook endpoint (parse the JSON, answer 200), nothing stored.

Started with ``python -m tests.benchmarks.bare --port N --options JSON``: the runner passes
``maillon.web.cli.UVICORN_OPTIONS`` (what ``maillon serve`` uses), so the ratio Maillon/bare
measures Maillon's own work. This module imports nothing of Maillon, so its memory is
Litestar's alone.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, route


@route("/hooks/{token:str}", http_method=["POST"])
async def receive(request: Request[Any, Any, Any], token: str) -> Response[dict[str, Any]]:
    """What any hook endpoint must do at least: read and parse the body, answer."""
    body = msgspec.json.decode(await request.body())
    return Response({"status": "queued", "id": body.get("id")}, status_code=200)


@route("/healthz", http_method=["GET"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[receive, healthz], logging_config=None)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--options", required=True, help="uvicorn.run options as JSON")
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, **json.loads(args.options))


if __name__ == "__main__":
    main()
