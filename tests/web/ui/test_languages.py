"""The main path (sign in, build a flow, see its run) once in French and once in English, as a
browser whose language is French or English sees it: pages, labels, messages, the connectors'
own texts, dates and amounts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from maillon.connectors.testing import FakeServer
from tests.support.accounts import OWNER
from tests.support.browser import NewPage, check_accessibility
from tests.support.web import UIServer

pytestmark = pytest.mark.browser

EMAIL, _, PASSWORD = OWNER
POST_MESSAGE = "/api/chat.postMessage"


@dataclass(frozen=True)
class Words:
    """What a person reads in one language, on the path the test takes."""

    locale: str
    main: str
    email: str
    password: str
    sign_in: str
    required: str
    connections: str
    add_connection: str
    name: str
    bot_token: str
    base_url: str
    save_connection: str
    test_connection: str
    works: str
    flows: str
    new_flow: str
    create_flow: str
    add_slack_step: str
    channel: str
    text: str
    flow_url: str
    wait: str
    received: str
    test_step: str
    succeeded_test: str
    save: str
    saved: str
    switch_on: str
    is_on: str
    runs: str
    succeeded: str
    run_heading: str
    money: str
    amount: str
    weekday: re.Pattern[str]


FRENCH = Words(
    locale="fr-FR",
    main="Navigation principale",
    email="Adresse e-mail",
    password="Mot de passe",
    sign_in="Se connecter",
    required="(obligatoire)",
    connections="Connexions",
    add_connection="Ajouter une connexion",
    name="Nom",
    bot_token="Jeton du bot",
    base_url="URL de base de la Web API",
    save_connection="Enregistrer la connexion",
    test_connection="Tester la connexion",
    works="Fonctionne",
    flows="Flux",
    new_flow="Nouveau flux",
    create_flow="Créer et ajouter des étapes",
    add_slack_step="Slack\u00a0: Envoyer un message",
    channel="Canal",
    text="Texte",
    flow_url="L’URL du flux",
    wait="Attendre un événement de test",
    received="L’envoi reçu",
    test_step="Tester cette étape",
    succeeded_test="L’étape a réussi.",
    save="Publier",
    saved="Publié\u00a0: la version 2 est en ligne.",
    switch_on="Activer",
    is_on="est activé.",
    runs="Exécutions",
    succeeded="Réussie",
    run_heading="Exécution du flux «\u00a0Nouvelle transaction\u00a0»",
    money="fr",
    amount="1\u202f500,00\u00a0€",
    # \S, not \w: in a browser \w is ASCII only, and "décembre" or "août" would not match.
    weekday=re.compile(r"(lun|mar|mercre|jeu|vendre|same|diman)(di|che) \d+ \S+ \d{4} à"),
)
ENGLISH = Words(
    locale="en-GB",
    main="Main",
    email="E-mail address",
    password="Password",
    sign_in="Sign in",
    required="(required)",
    connections="Connections",
    add_connection="Add a connection",
    name="Name",
    bot_token="Bot token",
    base_url="Web API base URL",
    save_connection="Save connection",
    test_connection="Test connection",
    works="Works",
    flows="Flows",
    new_flow="New flow",
    create_flow="Create and add steps",
    add_slack_step="Slack: Send a message",
    channel="Channel",
    text="Text",
    flow_url="The flow's URL",
    wait="Wait for a test event",
    received="The delivery received",
    test_step="Test this step",
    succeeded_test="The step succeeded.",
    save="Publish",
    saved="Published: version 2 is live.",
    switch_on="Switch on",
    is_on="is on.",
    runs="Runs",
    succeeded="Succeeded",
    run_heading="Run of “Nouvelle transaction”",
    money="en",
    amount="€1,500.00",
    weekday=re.compile(r"(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, \w+ \d+, \d{4} at"),
)


def _required(page: Page, words: Words, label: str) -> Locator:
    required = re.escape(words.required)
    return page.get_by_label(re.compile(rf"^{re.escape(label)}(\s*\*\s*{required})?$"))


@pytest.mark.parametrize("words", [FRENCH, ENGLISH], ids=["french", "english"])
def test_the_main_path_in_the_browsers_language(
    new_page: NewPage, working_ui_server: UIServer, fake_server: FakeServer, words: Words
) -> None:
    server, slack = working_ui_server, fake_server
    slack.on("POST", "/api/auth.test", (200, {"ok": True, "team": "Acme", "user": "maillon"}))
    slack.on("POST", POST_MESSAGE, (200, {"ok": True, "channel": "C1", "ts": "1.2"}))
    server.set_up_owner()
    page = new_page(locale=words.locale)

    # Sign in.
    page.goto(server.url)
    expect(page.locator("html")).to_have_attribute("lang", words.locale[:2])
    page.get_by_label(words.email).fill(EMAIL)
    page.get_by_label(words.password, exact=True).fill(PASSWORD)
    page.get_by_role("button", name=words.sign_in).click()

    # A Slack connection, from the form made of the connector's translated fields.
    page.get_by_role("link", name=words.connections).click()
    page.get_by_role("link", name=words.add_connection).click()
    page.get_by_role("link", name="Slack", exact=True).click()
    _required(page, words, words.name).fill("team-slack")
    _required(page, words, words.bot_token).fill("xoxb-languages")
    _required(page, words, words.base_url).fill(slack.url + "api/")
    page.get_by_role("button", name=words.save_connection).click()
    page.get_by_role("button", name=words.test_connection).click()
    expect(page.locator(".check[aria-live=polite]")).to_contain_text(words.works)
    check_accessibility(page)

    # A webhook flow whose Slack message gives the amount as the reader writes it.
    page.get_by_role("navigation", name=words.main).get_by_role("link", name=words.flows).click()
    page.get_by_role("link", name=words.new_flow).click()
    page.get_by_label(words.name).fill("Nouvelle transaction")
    page.get_by_role("button", name=words.create_flow).click()
    page.get_by_role("button", name=words.add_slack_step, exact=True).click()
    page.locator("#f-steps-0-connection").select_option("team-slack")
    page.get_by_role("textbox", name=f"{words.channel} {words.required}").fill("#sales")
    hook_url = page.get_by_label(words.flow_url).input_value()
    page.get_by_role("button", name=words.wait).click()
    sample = {"id": "tx-1", "amount": 150000, "investor": "Ada Lovelace"}
    assert httpx.post(hook_url, json=sample).status_code == 200
    expect(page.get_by_text(words.received)).to_be_visible()
    money = f"money('EUR', locale='{words.money}')"
    message = f"{{{{ event.amount | {money} }}}} — {{{{ event.investor }}}}"
    page.get_by_label(words.text).fill(message)
    expected = f"{words.amount} — Ada Lovelace"
    expect(page.locator("#preview-steps-0-input-text")).to_contain_text(expected)
    page.get_by_role("button", name=words.test_step).click()
    expect(page.get_by_text(words.succeeded_test)).to_be_visible()
    page.get_by_role("button", name=words.save, exact=True).click()
    expect(page.get_by_role("status").filter(has_text=words.saved)).to_be_visible()
    page.get_by_role("button", name=words.switch_on).click()
    expect(page.get_by_text(words.is_on)).to_be_visible()
    check_accessibility(page)

    # An event: the flow runs, Slack gets the message, the run is listed and shown.
    assert httpx.post(hook_url, json={**sample, "id": "tx-2"}).status_code == 200
    [_, delivered] = slack.wait_for("POST", POST_MESSAGE, count=2)
    assert json.loads(delivered.body)["text"] == expected
    page.get_by_role("navigation", name=words.main).get_by_role("link", name=words.runs).click()
    first = page.locator("#runs-results tbody tr").first
    expect(first).to_contain_text(words.succeeded)
    first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(words.run_heading)
    expect(page.locator(".run-summary .facts")).to_contain_text(words.weekday)
    expect(page.locator("#run-steps .run-step")).to_contain_text(words.succeeded)
    check_accessibility(page)
