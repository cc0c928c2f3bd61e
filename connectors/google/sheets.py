"""Google Sheets: append a row to a sheet."""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from maillon.connectors.google import french
from maillon.connectors.google.check import check_connection
from maillon.connectors.google.client import SHEETS, GoogleSession, session
from maillon.connectors.google.connection import GoogleConnection
from maillon.connectors.google.oauth import GOOGLE_OAUTH
from maillon.connectors.sdk import Action, ActionContext, Connector, PermanentError, choice_labels

__all__ = ["AppendRow", "HeaderCache", "connector", "header_cache", "spreadsheet_id_from"]

Cell = str | int | float | bool | None

_URL_ID = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")
_BARE_ID = re.compile(r"[A-Za-z0-9_-]+")
_ROW_NUMBER = re.compile(r"![A-Z]+(\d+)")


def spreadsheet_id_from(value: str) -> str:
    """The spreadsheet ID, given the ID itself or any URL of the spreadsheet."""
    value = value.strip()
    found = _URL_ID.search(value)
    if found:
        return found.group(1)
    if _BARE_ID.fullmatch(value):
        return value
    raise ValueError(f"not a spreadsheet ID or URL: {value!r}")


def _a1_sheet(sheet: str | None) -> str:
    # Always quote: a sheet named "A1" or "Q3 2025" must not be read as a cell reference.
    return "" if sheet is None else "'" + sheet.replace("'", "''") + "'!"


class HeaderCache:
    """Header rows by (connection, spreadsheet, sheet), kept for ``ttl`` seconds.

    The cache saves one read per appended row, but headers change: someone adds, renames or
    moves a column. So entries expire after a short ``ttl``, a mapping that names a header the
    cached row lacks re-reads the row before failing, and the cache is keyed by connection too,
    since two accounts may not see the same spreadsheet.
    """

    def __init__(self, ttl: float = 60.0, max_entries: int = 512) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[object, ...], tuple[float, list[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> list[str] | None:
        """The cached headers, or ``None`` if absent or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] < time.monotonic():
                self._entries.pop(key, None)
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: tuple[object, ...], headers: list[str]) -> None:
        """Remember ``headers`` for ``ttl`` seconds."""
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl, headers)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()


#: The process-wide header cache of :class:`AppendRow`.
header_cache = HeaderCache()


class AppendRowInput(BaseModel):
    """A row to add below the last row of a sheet."""

    spreadsheet: str = Field(
        title="Spreadsheet",
        description="The spreadsheet's ID, or its URL as copied from the browser.",
        examples=[
            "https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789/edit"
        ],
    )
    sheet: str | None = Field(
        default=None,
        title="Sheet",
        description="Name of the tab. Leave empty for the first one.",
        examples=["Subscriptions"],
    )
    values: list[Cell] | dict[str, Cell] = Field(
        title="Values",
        description="Either the cells in column order, or a mapping from column header (as "
        "written in the sheet's first row) to value; columns not named stay empty.",
        examples=[
            {"Email": "ada@example.com", "Amount": 2500, "Date": "2025-03-10"},
            ["ada@example.com", 2500, "2025-03-10"],
        ],
    )
    value_input_option: Literal["USER_ENTERED", "RAW"] = Field(
        default="USER_ENTERED",
        title="Value input",
        json_schema_extra=choice_labels(
            {
                "USER_ENTERED": "As if typed (numbers, dates, formulas)",
                "RAW": "As given (text stays text)",
            }
        ),
        description="USER_ENTERED parses values as if typed into the sheet: numbers, dates, and "
        "formulas for text starting with '=' (beware of text coming from outside); RAW stores "
        "every value as given.",
    )

    @field_validator("spreadsheet")
    @classmethod
    def _spreadsheet_id(cls, value: str) -> str:
        return spreadsheet_id_from(value)


class AppendRowOutput(BaseModel):
    """Where the row landed."""

    spreadsheet_id: str = Field(title="Spreadsheet ID")
    updated_range: str = Field(
        title="Updated range",
        description="The cells written, in A1 notation.",
        examples=["Subscriptions!A42:C42"],
    )
    updated_rows: int = Field(title="Rows written", examples=[1])
    row_number: int | None = Field(
        default=None, title="Row number", description="Number of the new row.", examples=[42]
    )


class AppendRow(Action[GoogleConnection, AppendRowInput, AppendRowOutput]):
    """Append one row at the end of a sheet's table, inserting it rather than overwriting."""

    key = "append_row"
    title = "Append a row"
    advanced_inputs = ("value_input_option",)
    description = "Add a row to a Google Sheets spreadsheet, by column order or by column header."

    def run(
        self, ctx: ActionContext, conn: GoogleConnection, data: AppendRowInput
    ) -> AppendRowOutput:
        sheets = session(conn, SHEETS)
        if isinstance(data.values, dict):
            row = self._row_by_header(ctx, sheets, data.spreadsheet, data.sheet, data.values)
        else:
            row = [_cell(v) for v in data.values]
        request = sheets.resource("spreadsheets", "values").append(
            spreadsheetId=data.spreadsheet,
            range=f"{_a1_sheet(data.sheet)}A1",
            valueInputOption=data.value_input_option,
            insertDataOption="INSERT_ROWS",
            body={"values": [row]},
        )
        result = sheets.execute(ctx, request)
        updates = result.get("updates", {}) if isinstance(result, dict) else {}
        updated_range = str(updates.get("updatedRange", ""))
        found = _ROW_NUMBER.search(updated_range)
        return AppendRowOutput(
            spreadsheet_id=data.spreadsheet,
            updated_range=updated_range,
            updated_rows=int(updates.get("updatedRows", 0)),
            row_number=int(found.group(1)) if found else None,
        )

    def _row_by_header(
        self,
        ctx: ActionContext,
        sheets: GoogleSession,
        spreadsheet: str,
        sheet: str | None,
        values: dict[str, Cell],
    ) -> list[Cell]:
        key = (sheets.conn, spreadsheet, sheet)
        headers = header_cache.get(key)
        fresh = headers is None
        if headers is None:
            headers = self._read_headers(ctx, sheets, spreadsheet, sheet)
            header_cache.put(key, headers)
        columns = _columns(headers, values)
        if isinstance(columns, str) and not fresh:
            # A header we do not know may have been added since we cached the row: look again.
            headers = self._read_headers(ctx, sheets, spreadsheet, sheet)
            header_cache.put(key, headers)
            columns = _columns(headers, values)
        if isinstance(columns, str):
            where = f"sheet {sheet!r}" if sheet else "the first sheet"
            known = ", ".join(repr(h) for h in headers if h) or "none"
            raise PermanentError(
                f"no column {columns!r} in the header row of {where} (headers: {known})",
                details={"unknown_header": columns},
            )
        row: list[Cell] = [""] * (max(columns.values(), default=-1) + 1)
        for name, index in columns.items():
            row[index] = _cell(values[name])
        return row

    def _read_headers(
        self, ctx: ActionContext, sheets: GoogleSession, spreadsheet: str, sheet: str | None
    ) -> list[str]:
        request = sheets.resource("spreadsheets", "values").get(
            spreadsheetId=spreadsheet, range=f"{_a1_sheet(sheet)}1:1"
        )
        result = sheets.execute(ctx, request)
        rows = (result.get("values") if isinstance(result, dict) else None) or [[]]
        return [str(h) for h in rows[0]]


def _columns(headers: list[str], values: dict[str, Cell]) -> dict[str, int] | str:
    """Column index of each key of ``values``, or the first key that matches no header.

    Exact match first (after trimming spaces), then case-insensitive, so that "email" finds
    "Email" but two headers differing only by case are still told apart.
    """
    exact: dict[str, int] = {}
    folded: dict[str, int] = {}
    for position, header in enumerate(headers):
        exact.setdefault(header.strip(), position)
        folded.setdefault(header.strip().casefold(), position)
    columns: dict[str, int] = {}
    for name in values:
        wanted = name.strip()
        index = exact.get(wanted, folded.get(wanted.casefold()))
        if not wanted or index is None:
            return name
        columns[name] = index
    return columns


def _cell(value: Cell) -> Cell:
    # The API rejects null inside a row; an empty string leaves the cell empty.
    return "" if value is None else value


connector = Connector(
    key="google_sheets",
    title="Google Sheets",
    description="Add rows to Google Sheets spreadsheets.",
    actions=(AppendRow,),
    connection=GoogleConnection,
    oauth=GOOGLE_OAUTH,
    check=check_connection,
    translations={"fr": {**french.CONNECTION, **french.SHEETS}},
)
