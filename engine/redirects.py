"""Where a browser may be sent back to: paths on this site, never another site.

A page that hands a person to somewhere else (sign-in, an app's consent screen) says where to
come back to. That target arrives from the browser, so it is checked here, once, for every
caller: otherwise ``?next=//evil.example`` makes Maillon's own redirect an open one.
"""

from __future__ import annotations

__all__ = ["MAX_PATH", "is_local_path"]

#: Longer targets are refused: no page of this site needs more.
MAX_PATH = 2000


def is_local_path(target: str) -> bool:
    """Whether ``target`` is a path on this site (``/connections/a?b=c``).

    Refused: absolute URLs, scheme-relative ones (``//host``, and ``/\\host``, which browsers
    read the same way), and control characters, which browsers drop from URLs, so that
    ``/<tab>/host`` would become ``//host``.
    """
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if len(target) > MAX_PATH:
        return False
    return not any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)
