"""The event every benchmark sends: a ~1 KB Particeep ``transaction_created`` entity.

Particeep posts the bare entity as JSON (see shared notes on Particeep): no envelope, no event
name. ``custom.bench_sent_at`` carries the sender's wall-clock time so that the sink can measure
webhook → action latency end to end.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

__all__ = ["BODY_TEMPLATE", "body", "body_bytes"]


def body(sent_at: float | None = None, seq: int = 0) -> dict[str, Any]:
    """One transaction as Particeep would send it (about 1 KB of JSON)."""
    return {
        "id": str(uuid.UUID(int=seq or uuid.uuid4().int)),
        "created_at": "2026-05-02T09:15:00Z",
        "succeeded_at": None,
        "issuer_id": "7d0e5a2c-3b4f-4c8e-9a1d-6f2b8c0e4a13",
        "issuer_type": "USER",
        "recipient_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
        "recipient_type": "ENTERPRISE",
        "fundraise_id": "c3d4e5f6-a7b8-4c9d-0e1f-2a3b4c5d6e7f",
        "fundraise_type": "FUNDRAISE_LOAN",
        "item_id": None,
        "item_type": None,
        "amount": 150000,
        "fees": 1500,
        "partner_fees": 0,
        "currency": "EUR",
        "status": "PENDING",
        "payment_method": "WALLET",
        "handled_offline": False,
        "comment": "Souscription au prêt participatif — tranche 2",
        "private_comment": None,
        "tag": "campaign-2026-spring",
        "price_per_share": 100,
        "num_of_shares": 1500,
        "origin_transaction_id": None,
        "custom": {
            "bench_sent_at": time.time() if sent_at is None else sent_at,
            "investor_email": "charles.beaufils@example.com",
            "investor_name": "Charles Beaufils",
            "channel": "web",
            "utm": {"source": "newsletter", "medium": "email", "campaign": "spring-loan-2026"},
            "ips": [
                {"date": "2026-05-02 09:14:58.314+0000", "ip": "92.154.55.100", "action": "invest"}
            ],
            "kyc_level": "VERIFIED",
            "risk_profile": "balanced",
        },
    }


def body_bytes(sent_at: float | None = None, seq: int = 0) -> bytes:
    """``body()`` as compact JSON bytes."""
    return json.dumps(body(sent_at, seq), separators=(",", ":"), ensure_ascii=False).encode()


#: The body with a fixed timestamp, for closed-loop tools that send the same bytes each time.
BODY_TEMPLATE = body_bytes(sent_at=0.0, seq=1)
