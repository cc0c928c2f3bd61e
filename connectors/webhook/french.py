"""The connector's texts in French (``Connector.translations``): its title and its field's."""

from __future__ import annotations

__all__ = ["FRENCH"]

#: English text → French.
FRENCH: dict[str, str] = {
    "Webhook signing secret": "Secret de signature de webhook",
    "The secret a sender signs its webhook deliveries with, for a flow to check them.": (
        "Le secret avec lequel un expéditeur signe ses envois de webhook, pour qu’un flux les "
        "vérifie."
    ),
    "Signing secret": "Secret de signature",
    "The secret the sender signs deliveries with (its webhook settings show it).": (
        "Le secret avec lequel l’expéditeur signe ses envois (ses réglages de webhook l’indiquent)."
    ),
}
