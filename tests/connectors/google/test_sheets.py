from __future__ import annotations

import pytest
from pydantic import ValidationError

from maillon.connectors.google import GoogleConnection
from maillon.connectors.google.sheets import AppendRow, header_cache, spreadsheet_id_from
from maillon.connectors.sdk import PermanentError
from maillon.connectors.testing import FakeServer
from tests.connectors.google.support import ctx

SID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd"
APPEND = f"/v4/spreadsheets/{SID}/values/%27Investors%27%21A1:append"
HEADERS = f"/v4/spreadsheets/{SID}/values/%27Investors%27%211%3A1"
UPDATES = {
    "spreadsheetId": SID,
    "tableRange": "Investors!A1:D41",
    "updates": {"updatedRange": "Investors!A42:D42", "updatedRows": 1, "updatedCells": 4},
}


@pytest.fixture
def sheets(google: FakeServer) -> FakeServer:
    google.on("POST", APPEND, (200, UPDATES))
    google.on(
        "GET",
        HEADERS,
        (200, {"range": "Investors!A1:Z1", "values": [["Date", "Email", " Amount ", "Project"]]}),
    )
    return google


def test_append_row_in_column_order(sheets: FakeServer, conn: GoogleConnection) -> None:
    data = AppendRow.Input(
        spreadsheet=f"https://docs.google.com/spreadsheets/d/{SID}/edit#gid=0",
        sheet="Investors",
        values=["2025-03-10", "ada@example.com", 2500, None, True],
    )

    out = AppendRow().run(ctx(), conn, data)

    assert out.model_dump() == {
        "spreadsheet_id": SID,
        "updated_range": "Investors!A42:D42",
        "updated_rows": 1,
        "row_number": 42,
    }
    (request,) = sheets.received("POST", APPEND)
    assert request.path == APPEND
    assert request.query == {
        "valueInputOption": ["USER_ENTERED"],
        "insertDataOption": ["INSERT_ROWS"],
        "alt": ["json"],
    }
    assert request.json() == {"values": [["2025-03-10", "ada@example.com", 2500, "", True]]}
    assert sheets.received("GET") == []  # list mode needs no header row


def test_append_row_by_header_places_values_under_their_columns(
    sheets: FakeServer, conn: GoogleConnection
) -> None:
    data = AppendRow.Input(
        spreadsheet=SID,
        sheet="Investors",
        values={"amount": "2500", "Email": "ada@example.com"},  # any order, any case
        value_input_option="RAW",
    )

    AppendRow().run(ctx(), conn, data)

    (request,) = sheets.received("POST", APPEND)
    assert request.query["valueInputOption"] == ["RAW"]
    assert request.json() == {"values": [["", "ada@example.com", "2500"]]}


def test_header_row_is_read_once_per_sheet(sheets: FakeServer, conn: GoogleConnection) -> None:
    data = AppendRow.Input(spreadsheet=SID, sheet="Investors", values={"Email": "a@example.com"})

    AppendRow().run(ctx("r1:s1"), conn, data)
    AppendRow().run(ctx("r2:s1"), conn, data)

    assert len(sheets.received("GET", HEADERS)) == 1
    assert len(sheets.received("POST", APPEND)) == 2


def test_unknown_header_rereads_the_row_then_names_the_column(
    sheets: FakeServer, conn: GoogleConnection
) -> None:
    AppendRow().run(
        ctx(), conn, AppendRow.Input(spreadsheet=SID, sheet="Investors", values={"Email": "a"})
    )
    data = AppendRow.Input(spreadsheet=SID, sheet="Investors", values={"Email": "a", "Phone": "1"})

    with pytest.raises(PermanentError, match="no column 'Phone'") as caught:
        AppendRow().run(ctx(), conn, data)

    assert "'Date', 'Email', ' Amount ', 'Project'" in caught.value.message
    assert caught.value.details == {"unknown_header": "Phone"}
    # The cached row lacked "Phone": it was read again in case the column had just been added.
    assert len(sheets.received("GET", HEADERS)) == 2
    assert len(sheets.received("POST", APPEND)) == 1


def test_a_column_added_after_caching_is_found(sheets: FakeServer, conn: GoogleConnection) -> None:
    sheets.on(
        "GET",
        HEADERS,
        (200, {"values": [["Date", "Email"]]}),
        (200, {"values": [["Date", "Email", "Phone"]]}),
    )
    AppendRow().run(
        ctx(), conn, AppendRow.Input(spreadsheet=SID, sheet="Investors", values={"Email": "a"})
    )

    data = AppendRow.Input(spreadsheet=SID, sheet="Investors", values={"Phone": "+33 6"})
    AppendRow().run(ctx(), conn, data)

    assert sheets.received("POST", APPEND)[-1].json() == {"values": [["", "", "+33 6"]]}


def test_cached_headers_expire(sheets: FakeServer, conn: GoogleConnection) -> None:
    data = AppendRow.Input(spreadsheet=SID, sheet="Investors", values={"Email": "a"})
    ttl = header_cache.ttl
    header_cache.ttl = -1.0  # every entry is born expired
    try:
        AppendRow().run(ctx(), conn, data)
        AppendRow().run(ctx(), conn, data)
    finally:
        header_cache.ttl = ttl

    assert len(sheets.received("GET", HEADERS)) == 2


def test_first_sheet_when_none_is_named(google: FakeServer, conn: GoogleConnection) -> None:
    google.on("GET", f"/v4/spreadsheets/{SID}/values/1%3A1", (200, {"values": [["Email"]]}))
    google.on("POST", f"/v4/spreadsheets/{SID}/values/A1:append", (200, UPDATES))

    AppendRow().run(ctx(), conn, AppendRow.Input(spreadsheet=SID, values={"Email": "a"}))

    (request,) = google.received("POST", f"/v4/spreadsheets/{SID}/values/A1:append")
    assert request.json() == {"values": [["a"]]}


def test_sheet_without_header_row(google: FakeServer, conn: GoogleConnection) -> None:
    google.on("GET", f"/v4/spreadsheets/{SID}/values/1%3A1", (200, {"range": "Sheet1!A1:Z1"}))

    with pytest.raises(PermanentError, match=r"no column 'Email'.*\(headers: none\)"):
        AppendRow().run(ctx(), conn, AppendRow.Input(spreadsheet=SID, values={"Email": "a"}))


def test_spreadsheet_ids_from_urls() -> None:
    assert (
        spreadsheet_id_from(f"https://docs.google.com/spreadsheets/d/{SID}/edit?usp=sharing") == SID
    )
    assert spreadsheet_id_from(f"  {SID} ") == SID
    with pytest.raises(ValidationError, match="not a spreadsheet ID or URL"):
        AppendRow.Input(spreadsheet="https://example.com/some/page", values=[1])
