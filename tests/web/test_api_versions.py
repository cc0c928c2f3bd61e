"""Drafts, publishing, history, diff, restore and replay with either version, over real HTTP."""

from __future__ import annotations

import httpx

from tests.support.api import FLOW, Live, create_flow, hook, wait_run


def _with_text(text: str, **more: object) -> dict[str, object]:
    """:data:`FLOW` with its step's text (and other inputs) replaced."""
    step = {**FLOW["steps"][0], "input": {"text": text, **more}}  # type: ignore[dict-item]
    return {**FLOW, "steps": [step]}


def test_draft_publish_history_diff_and_restore(live: Live) -> None:
    flow = create_flow(live)
    base = f"/api/flows/{flow['id']}"
    draft = live.client.put(f"{base}/draft", json=_with_text("draft text")).json()
    assert draft["has_draft"] is True and draft["version"] == 1
    assert draft["steps"][0]["input"] == {"text": "draft text"}
    assert draft["draft_author"] == "API token “tests”"
    live_flow = live.client.get(base).json()
    assert live_flow["steps"][0]["input"] == FLOW["steps"][0]["input"]  # type: ignore[index]

    diff = live.client.get(f"{base}/diff", params={"before": 1}).json()
    assert diff["after"] == "draft"
    assert [(c["path"], c["kind"], c["after"]) for c in diff["changes"]] == [
        ("steps[echo].input.text", "changed", "draft text")
    ]
    published = live.client.post(f"{base}/publish", json={"note": "new text"}).json()
    assert published["version"] == 2 and published["has_draft"] is False
    assert published["hook_url"] == flow["hook_url"]
    assert live.client.post(f"{base}/publish").status_code == 409

    versions = live.client.get(f"{base}/versions").json()
    assert [(v["version"], v["note"], v["live"]) for v in versions] == [
        (2, "new text", True),
        (1, None, False),
    ]
    assert versions[0]["author"] == "API token “tests”"
    one = live.client.get(f"{base}/versions/1").json()
    assert one["definition"]["steps"][0]["input"] == FLOW["steps"][0]["input"]  # type: ignore[index]
    assert live.client.get(f"{base}/versions/7").status_code == 404
    assert live.client.get(f"{base}/diff", params={"before": "x"}).status_code == 404
    # Numbers no database column holds, and digits int() does not read, are no version either.
    huge = "9" * 20
    assert live.client.get(f"{base}/versions/{huge}").status_code == 404
    assert live.client.post(f"{base}/versions/{huge}/restore").status_code == 404
    for before in (huge, "\u00b2", "-1"):
        assert live.client.get(f"{base}/diff", params={"before": before}).status_code == 404

    restored = live.client.post(f"{base}/versions/1/restore").json()
    assert restored["has_draft"] is True and restored["version"] == 2
    assert restored["steps"][0]["input"] == FLOW["steps"][0]["input"]  # type: ignore[index]
    assert live.client.get(f"{base}/draft").json()["steps"] == restored["steps"]
    discarded = live.client.delete(f"{base}/draft").json()
    assert discarded["has_draft"] is False
    assert discarded["steps"][0]["input"] == {"text": "draft text"}

    # PUT saves and publishes at once, as scripts that keep flows in git expect.
    put = live.client.put(base, params={"note": "from git"}, json=_with_text("git"))
    assert put.json()["version"] == 3 and put.json()["has_draft"] is False
    assert live.client.get(f"{base}/versions").json()[0]["note"] == "from git"
    # A note too long is refused, as publishing refuses it: not kept cut short.
    long = live.client.put(base, params={"note": "n" * 2001}, json=_with_text("longer"))
    assert long.status_code in (400, 422), long.text
    assert "note: should have at most 2000 characters" in long.text
    assert live.client.get(base).json()["version"] == 3
    # Counted without the spaces around it, on publish as on PUT.
    live.client.put(f"{base}/draft", json=_with_text("spaced"))
    spaced = live.client.post(f"{base}/publish", json={"note": "  " + "n" * 2000 + "  "})
    assert spaced.status_code == 200, spaced.text


def test_replay_with_the_version_it_ran_or_the_current_one(live: Live) -> None:
    flow = create_flow(live, **_with_text("old", fail="permanent"))
    first = httpx.post(hook(live, flow), json={}).json()["run_ids"][0]
    second = httpx.post(hook(live, flow), json={}).json()["run_ids"][0]
    wait_run(live.client, first, "failed")
    wait_run(live.client, second, "failed")
    live.client.put(f"/api/flows/{flow['id']}", json=_with_text("fixed")).raise_for_status()

    assert live.client.post(f"/api/runs/{first}/replay").json()["flow_version"] == 1
    assert wait_run(live.client, first, "failed")["flow_version"] == 1
    r = live.client.post(f"/api/runs/{second}/replay", params={"version": "current"})
    assert r.json()["flow_version"] == 2
    done = wait_run(live.client, second, "succeeded")
    assert done["steps"][0]["output"]["text"] == "fixed"
    bad = live.client.post(f"/api/runs/{first}/replay", params={"version": "newest"})
    assert bad.status_code == 400
