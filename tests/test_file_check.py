"""A file checked before import (the Data page's preview) and the import history, on every engine."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest

from crm_core import db, imports
from crm_core.imports import Problem, campaign_results, reading

# --- a file before it is imported -----------------------------------------------------------------------------------


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "header"),
    [
        (b"customer_id,email\nc1,a@x.com\n", "a.csv", ["customer_id", "email"]),
        (b'\xef\xbb\xbf\r\n"Kunden, Nr";E-Mail \r\n1;a@x.com\r\n', "b.csv", ["Kunden, Nr", "E-Mail"]),
        (b"Kunde\tBetrag\n1\t2\n", "c.txt", ["Kunde", "Betrag"]),
        (_xlsx([[None], ["Kunde", "Betrag", None], [1, 2.5]]), "d.xlsx", ["Kunde", "Betrag"]),
        (b"\xff\xfeK\x00", "utf16.csv", []),
        (b"a,b\xff\n", "latin1.csv", []),
        (b"", "empty.csv", []),
    ],
    ids=["csv", "bom-semicolon-quoted", "tab", "xlsx", "utf16", "not-utf8", "empty"],
)
def test_file_header(data, name, header):
    assert imports.file_header(data, name) == header


def test_check_file_previews_the_rows_as_stored_and_lists_every_problem():
    data = (
        b"Kundennummer,E-Mail,Geburtstag,Notiz\n"
        b"0001,a@x.com,01.02.1980,hi\n"
        b'0002,not-an-email,1980-13-01,=HYPERLINK("x")\n'
        b"0003,c@x.com,,\n"
    )
    check = imports.check_file(
        "customers", data, {"Kundennummer": "customer_id", "Geburtstag": "birth_date"}, file_name="k.csv"
    )
    assert (check.kind, check.file_name, check.rows, check.importable, check.bad_lines) == (
        "customers",
        "k.csv",
        3,
        True,
        1,
    )
    assert check.preview["customer_id"].tolist() == ["0001", "0002", "0003"]  # ids stay text
    assert check.preview["birth_date"].tolist()[0] == dt.date(1980, 2, 1)
    assert check.preview["Notiz"].tolist()[0] == "hi"  # an unknown column is kept as an attribute
    assert check.problems == [
        Problem(3, "Geburtstag", "no such date or time", "1980-13-01"),
        Problem(3, "E-Mail", "not an email address", "not-an-email"),
    ]
    frame = check.problems_frame()
    assert frame.columns.tolist() == ["severity", "line", "column", "reason", "value"]
    assert check.problems_csv().splitlines() == [
        "severity,line,column,reason,value",
        "error,3,Geburtstag,no such date or time,1980-13-01",
        "error,3,E-Mail,not an email address,not-an-email",
    ]


def test_check_file_neutralises_formulas_in_the_problem_report():
    check = imports.check_file("orders", b"order_id,customer_id,ordered_at\n=1+1,c1,2024-13-01\n")
    assert check.problems_csv().splitlines()[1] == "error,2,ordered_at,no such date or time,2024-13-01"
    check = imports.check_file("orders", b"order_id,customer_id,ordered_at,amount\no1,c1,2024-01-01,=SUM(A1)\n")
    assert check.problems_csv().splitlines()[1].endswith(",'=SUM(A1)")


def test_a_file_without_a_required_column_cannot_be_imported():
    check = imports.check_file("orders", b"order_id,ordered_at\no1,2024-01-01\n", file_name="o.csv")
    assert (check.rows, check.importable, check.bad_lines) == (0, False, 1)
    assert check.problems == [
        Problem(1, "customer_id", "required column missing: the file needs customer_id or email or phone")
    ]


def test_a_bad_byte_beyond_the_first_megabyte_is_found_at_its_offset():
    # The importer checks UTF-8 a megabyte at a time (no decoded copy of the file); a character split by the
    # boundary is fine, a bad byte after it is reported at its exact offset and line.
    step = reading.DECODE_STEP
    rows = [b"customer_id,first_name\n"]
    size = len(rows[0])
    n = 0
    while size < step - 40:
        rows.append(b"c%d,Ann\n" % n)
        size += len(rows[-1])
        n += 1
    body = b"".join(rows)
    body += b"cX," + b"x" * (step - 1 - len(body) - 3)
    assert len(body) == step - 1
    good = imports.check_file("customers", body + "é".encode() + b"\n")
    assert (good.rows, good.problems, good.preview.shape[0]) == (n + 1, [], 10)
    bad = imports.check_file("customers", body + b"\n" + b"cY,\xff\n")
    reason = (
        f"the file is not UTF-8: byte 0xFF at byte offset {step + 3} is not valid UTF-8; "
        'save the file as UTF-8 ("CSV UTF-8" in Excel)'
    )
    assert bad.problems == [Problem(n + 3, "", reason)]


def test_check_campaign_results_file():
    layout = campaign_results.ResultsLayout(arm="segment", control="No E-Mail", outcomes={"converted": "conversion"})
    data = b"segment,conversion\nMens E-Mail,1\nNo E-Mail,0\nMens E-Mail,maybe\n"
    check = imports.check_campaign_results_file(data, layout, "Test", file_name="h.csv")
    assert (check.kind, check.rows, check.bad_lines) == ("campaign_results", 3, 1)
    assert check.preview["is_control"].tolist() == [False, True, False]
    assert [(p.line, p.column) for p in check.problems] == [(4, "conversion")]


# --- the remembered mapping and the import history ---------------------------------------------------------------


def test_the_mapping_is_remembered_per_kind_without_a_new_data_version(engine):
    version = db.data_version(engine)
    assert imports.remembered_mapping(engine, "orders") == {}
    imports.remember_mapping(engine, "orders", {"Bestellnr": "order_id", "Kunde": "customer_id", "x": "birth_date"})
    imports.remember_mapping(engine, "customers", {"Mail": "email"})
    assert imports.remembered_mapping(engine, "orders") == {"Bestellnr": "order_id", "Kunde": "customer_id"}
    assert imports.remembered_mapping(engine, "customers") == {"Mail": "email"}
    assert db.data_version(engine) == version


def test_the_import_history_lists_every_attempt_newest_first(engine):
    header = b"order_id,customer_id,ordered_at,amount\n"
    imports.import_file(engine, "orders", header + b"o1,c1,2024-01-01,10\n", file_name="ok.csv")
    with pytest.raises(imports.ImportFailed):
        imports.import_file(engine, "orders", header + b"o2,c1,2024-13-01,10\n", file_name="bad.csv")
    imports.import_file(
        engine, "orders", header + b"o3,c1,2024-01-02,5\no4,c1,yesterday,5\n", file_name="some.csv", on_error="skip"
    )
    history = imports.import_history(engine)
    assert history.columns.tolist() == [
        "import_id",
        "started_at",
        "finished_at",
        "kind",
        "file_name",
        "file_hash",
        "rows_total",
        "rows_created",
        "rows_updated",
        "rows_unchanged",
        "rows_rejected",
        "status",
        "message",
        "has_report",
    ]
    shown = history[["import_id", "file_name", "status", "rows_total", "rows_created", "rows_rejected", "has_report"]]
    assert shown.values.tolist() == [
        [3, "some.csv", "partial", 2, 1, 1, True],
        [2, "bad.csv", "failed", 1, 0, 1, True],
        [1, "ok.csv", "ok", 1, 1, 0, False],
    ]
    assert history["file_hash"].str.len().tolist() == [64, 64, 64]
    assert history["message"][1].startswith("Import of bad.csv (orders) failed: 1 error on 1 line(s)")
    assert imports.import_report(engine, 2).splitlines() == [
        "severity,line,column,reason,value",
        "error,2,ordered_at,no such date or time,2024-13-01",
    ]
    assert imports.import_report(engine, 1) is None
    assert len(imports.import_history(engine, limit=2)) == 2


def test_the_history_is_empty_before_any_import(engine):
    history = imports.import_history(engine)
    assert history.empty and "status" in history.columns
    assert imports.import_report(engine, 1) is None
