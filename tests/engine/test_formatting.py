"""The formatters, as template filters, in French and American English."""

from __future__ import annotations

from typing import Any

import pytest

from maillon.engine.formatting import slug
from maillon.engine.i18n import use_locale
from maillon.engine.templating import TemplateRenderError, render_value

NNBSP, NBSP = "\u202f", "\xa0"  # the narrow and the plain no-break space of French figures
EVENT = {
    "amount": 150000,
    "currency": "EUR",
    "created_at": "2026-05-04T09:15:00Z",
    "due": "04/05/2026",
    "title": "  Éco-Prêt Énergie 2026 !  ",
    "status": "PENDING",
}


def render(template: str) -> Any:
    return render_value(template, {"event": EVENT})


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ event.amount | money(event.currency, 'fr_FR') }}", f"1{NNBSP}500,00{NBSP}€"),
        ("{{ event.amount | money(event.currency, 'en_US') }}", "€1,500.00"),
        ("{{ event.amount | money('USD', 'en_US') }}", "$1,500.00"),
        ("{{ event.amount | money('JPY', 'fr_FR') }}", f"150{NNBSP}000{NBSP}JPY"),  # no cents
        ("{{ event.amount | money(event.currency) }}", "1,500.00 EUR"),  # as it always read
        ("{{ event.amount | money('EUR', locale='fr') }}", f"1{NNBSP}500,00{NBSP}€"),
        ("{{ 15 | money('EUR', 0) }}", "15.00 EUR"),  # a number second: the amount's places
        # Without a locale: the currency's own decimals, a minus sign, the code lower-cased.
        ("{{ -123456789 | money('eur') }}", "-1,234,567.89 EUR"),
        ("{{ 150000 | money('JPY') }}", "150,000 JPY"),
        ("{{ 1 | money('BHD') }}", "0.001 BHD"),
        ("{{ 1234.5 | number('fr_FR') }}", f"1{NNBSP}234,5"),
        ("{{ 1234.5 | number('en_US') }}", "1,234.5"),
        ("{{ 1234.5 | number('fr_FR', 2) }}", f"1{NNBSP}234,50"),
        ("{{ event.created_at | date('full', 'Europe/Paris', 'fr_FR') }}", "lundi 4 mai 2026"),
        (
            "{{ event.created_at | date('full', 'America/New_York', 'en_US') }}",
            "Monday, May 4, 2026",
        ),
        ("{{ event.created_at | date('EEEE d MMMM', 'Europe/Paris', 'fr-FR') }}", "lundi 4 mai"),
        ("{{ event.created_at | date('%d/%m/%Y %H:%M', 'Europe/Paris') }}", "04/05/2026 11:15"),
        ("{{ event.created_at | datetime('short', 'Europe/Paris', 'fr_FR') }}", "04/05/2026 11:15"),
        (
            "{{ event.created_at | datetime('medium', 'America/New_York', 'en_US') }}",
            f"May 4, 2026, 5:15:00{NNBSP}AM",
        ),
        ("{{ event.due | date('long', locale='fr_FR', parse='%d/%m/%Y') }}", "4 mai 2026"),
        ("{{ 1777886100 | date('%Y-%m-%d') }}", "2026-05-04"),  # epoch seconds
        ("{{ event.title | trim }}", "Éco-Prêt Énergie 2026 !"),
        ("{{ event.title | trim | truncate(12, leeway=0) }}", "Éco-Prêt..."),
        ("{{ event.title | trim | title }}", "Éco-Prêt Énergie 2026 !"),
        ("{{ 'hello world' | title }}", "Hello World"),
        ("{{ event.title | slug }}", "eco-pret-energie-2026"),
        (
            "{{ event.status | lookup({'PENDING': 'en attente', 'SUCCEEDED': 'payé'}) }}",
            "en attente",
        ),
        ("{{ 'OTHER' | lookup({'PENDING': 'en attente'}, 'autre') }}", "autre"),
        ("{{ 'OTHER' | lookup({'PENDING': 'en attente'}) }}", "OTHER"),
        ("{{ 2 | lookup({'2': 'deux'}) }}", "deux"),
    ],
)
def test_formatters(template: str, expected: str) -> None:
    assert render(template) == expected


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ event.amount | money('EURO') }}", "unknown currency 'EURO'"),
        ("{{ event.amount | money('EUR', 'xx_YY') }}", "unknown locale 'xx_YY'"),
        ("{{ event.created_at | date('full', 'Mars/Olympus') }}", "unknown timezone"),
        ("{{ event.status | date }}", "'PENDING' is not a date"),
        ("{{ event.status | number }}", "'PENDING' is not a number"),
    ],
)
def test_formatters_say_what_is_wrong(template: str, reason: str) -> None:
    with pytest.raises(TemplateRenderError, match=reason):
        render(template)


def test_formatters_say_it_in_the_language_of_the_moment() -> None:
    """A run's record is written in the install's language (the executor sets it)."""
    with use_locale("fr"), pytest.raises(TemplateRenderError, match="'PENDING' n’est pas une date"):
        render("{{ event.status | date }}")


def test_a_slug_spells_the_letters_unicode_does_not_decompose() -> None:
    assert slug("Ølberg Straße Œuvre Łódź") == "olberg-strasse-oeuvre-lodz"
