"""Hostile and broken files: every import refuses what it cannot store faithfully, says why with line, column (or
cell) and reason, in one pass, and changes nothing (tests/files/hostile, one file per case; on every engine).

- ``nul_byte.csv``: a NUL character in a first name (PostgreSQL's bulk load crashed on it; the others stored it).
- ``feedback_150kb_text.csv``: a 150,000-character feedback text, past the csv module's default field limit (it was
  reported as an "unclosed quote").
- ``formula_without_result.xlsx``: a formula cell that a script wrote without a result (it imported as empty).
- ``workbook_bomb.xlsx``: 214 KB that unpack to 210 MB.
- ``orders_given_as_customers.csv``: an orders file imported as customers (its columns became attributes).
- ``order_in_2100.csv``: one order dated 2100-01-01 (it moved every metric's as-of date to 2100).
- ``offset_1430.csv``: a ``+14:30`` UTC offset, which no clock has.
- ``campaign_two_problems.csv``: an unknown member on line 4 and a bad flag on line 5 (reported in two attempts).
- ``consent_by_id_only.csv``: a consent update that names the customer by id alone (it opted in a suppressed
  person).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from crm_core import erasure, purchases, schema
from crm_core.imports import ImportFailed, check_file, import_file, import_report
from crm_core.imports.campaign_results import CampaignSettings, ResultsLayout, import_campaign_results
from crm_core.imports.log import STORED_PROBLEMS
from crm_core.imports.reading import MAX_CELL_CHARS

HOSTILE = Path(__file__).parent / "files" / "hostile"


def _row_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
            for table in schema.DATA_TABLES
            if table is not schema.import_log
        }


def _failure(engine, kind: str, path: Path, **options) -> list[tuple]:
    before = _row_counts(engine)
    with pytest.raises(ImportFailed) as failed:
        import_file(engine, kind, path, **options)
    assert _row_counts(engine) == before, "a failed import changes nothing"
    return [(p.line, p.column, p.reason) for p in failed.value.problems]


def test_a_nul_character_rejects_its_row_with_line_and_column(engine):
    problems = _failure(engine, "customers", HOSTILE / "nul_byte.csv")
    assert problems == [
        (
            3,
            "first_name",
            "holds a NUL character (byte 0x00), which no database stores as text; remove it from the cell",
        )
    ]


def test_a_nul_character_is_skipped_and_the_other_rows_import(engine, tmp_path):
    result = import_file(engine, "customers", HOSTILE / "nul_byte.csv", on_error="skip", report_path=tmp_path / "r.csv")
    assert (result.created, result.rejected) == (2, 1)
    with engine.connect() as conn:
        names = conn.execute(sa.select(schema.customers.c.first_name).order_by(schema.customers.c.external_id))
        assert [n for (n,) in names] == ["Ann", "Cy"]


def test_a_cell_over_128_kib_is_a_long_text_not_an_unclosed_quote(engine):
    import_file(engine, "customers", b"customer_id\r\nL1\r\n", file_name="l1.csv")
    result = import_file(engine, "feedback", HOSTILE / "feedback_150kb_text.csv")
    assert (result.status, result.created) == ("ok", 1)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(schema.feedback.c.text)).scalar_one()
    assert len(stored) == 150_000
    assert stored.startswith("Lieferung kam spät")


def test_a_cell_over_the_limit_says_so(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("w", newline="") as f:
        f.write('customer_id,created_at,text\r\nL1,2024-04-01,"')
        f.write("x" * (MAX_CELL_CHARS + 10))
        f.write('"\r\n')
    check = check_file("feedback", path)
    assert [(p.line, p.reason) for p in check.problems] == [
        (
            2,
            f"a cell of the row starting on line 2 is longer than {MAX_CELL_CHARS:,} characters, the most one cell "
            "may hold (or its quote is never closed)",
        )
    ]


def test_an_unclosed_quote_is_still_called_one():
    check = check_file("customers", b'customer_id,first_name\r\nC1,"Ann\r\nC2,Bob\r\n')
    assert [p.reason for p in check.problems] == [
        "unclosed quote: the quoted field of the row starting on line 2 never ends"
    ]


def test_a_formula_without_a_result_is_named_by_its_cell(engine):
    problems = _failure(engine, "customers", HOSTILE / "formula_without_result.xlsx")
    assert problems == [
        (
            3,
            "acquisition_cost",
            "cell C3 holds a formula without a saved result, which would import as empty; open the file in Excel and "
            "save it (Excel stores the results), or export the sheet as CSV",
        )
    ]


def test_a_workbook_that_unpacks_past_the_cap_is_refused_at_once(engine):
    problems = _failure(engine, "customers", HOSTILE / "workbook_bomb.xlsx")
    assert len(problems) == 1
    line, column, reason = problems[0]
    assert (line, column) == (None, "")
    assert reason.startswith("the workbook unpacks to 210 MB, more than the 200 MB an Excel file may hold here")


def test_the_history_keeps_the_first_problems_and_counts_the_rest(engine, tmp_path):
    bad = STORED_PROBLEMS + 500
    text = (
        "customer_id,email\r\n" + "".join(f"B{i},not-an-address-{i}\r\n" for i in range(bad)) + "G1,g@example.com\r\n"
    )
    path = tmp_path / "many_bad.csv"
    path.write_text(text)
    result = import_file(engine, "customers", path, on_error="skip", report_path=tmp_path / "all.csv")
    assert (result.created, result.rejected) == (1, bad)
    assert len(pd.read_csv(tmp_path / "all.csv")) == bad, "the report file the user asked for has every problem"
    stored = pd.read_csv(io.StringIO(import_report(engine, result.import_id)))
    assert len(stored) == STORED_PROBLEMS + 1
    assert stored["reason"].iloc[-1] == ("500 more problems are not kept in the history; the report file has them all")


def test_an_orders_file_given_as_customers_is_refused_before_writing(engine):
    problems = _failure(engine, "customers", HOSTILE / "orders_given_as_customers.csv")
    assert problems == [
        (
            1,
            "order_id",
            "this file looks like orders (columns order_id, ordered_at), not customers; import it as orders - as "
            "customers, those columns would become customer attributes",
        )
    ]
    assert import_file(engine, "orders", HOSTILE / "orders_given_as_customers.csv").created == 2


def test_a_customers_file_with_a_created_at_column_is_no_feedback_file(engine, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,email,created_at\r\nC1,c1@example.com,2024-01-01\r\n")
    assert import_file(engine, "customers", path).created == 1


def test_an_order_in_2100_is_kept_with_a_warning_and_never_moves_the_as_of_date(engine):
    result = import_file(engine, "orders", HOSTILE / "order_in_2100.csv")
    assert (result.status, result.created) == ("ok", 3)
    warned = [(w.line, w.column, w.value) for w in result.warnings if "after today" in w.reason]
    assert warned == [(3, "ordered_at", "2100-01-01 00:00")]
    assert purchases.default_as_of(engine) == dt.date(2024, 5, 21)


def test_an_offset_no_clock_has_is_rejected(engine):
    problems = _failure(engine, "orders", HOSTILE / "offset_1430.csv")
    assert problems == [
        (
            3,
            "ordered_at",
            "no such UTC offset (+14:30): offsets run from -12:00 to +14:00, in whole hours or :30 and :45",
        )
    ]


def test_a_quarter_hour_offset_is_converted(engine, tmp_path):
    path = tmp_path / "nepal.csv"
    path.write_text("order_id,customer_id,ordered_at,amount\r\nN1,K1,2024-03-03 10:00 +05:45,12.50\r\n")
    import_file(engine, "orders", path)
    with engine.connect() as conn:
        assert conn.execute(sa.select(schema.orders.c.ordered_at)).scalar_one() == dt.datetime(2024, 3, 3, 4, 15)


def test_a_campaign_results_file_reports_every_problem_in_one_attempt(engine, tmp_path):
    customers = tmp_path / "members.csv"
    customers.write_text("customer_id\r\nM1\r\nM2\r\nM3\r\nM4\r\n")
    import_file(engine, "customers", customers)
    layout = ResultsLayout(arm="arm", control="ctrl", customer="customer", outcomes={"converted": "converted"})
    before = _row_counts(engine)
    with pytest.raises(ImportFailed) as failed:
        import_campaign_results(
            engine, HOSTILE / "campaign_two_problems.csv", layout, CampaignSettings.parse("Two", sent_at="2024-05-02")
        )
    assert [(p.line, p.column, p.reason) for p in failed.value.problems] == [
        (4, "customer", "unknown customer"),
        (5, "converted", failed.value.problems[1].reason),
    ]
    assert "maybe" in failed.value.problems[1].value
    assert _row_counts(engine) == before


def test_a_consent_update_by_id_never_opts_in_a_suppressed_person(engine, tmp_path):
    # Ann (S1) is erased; she comes back as S2 with the same address (suppressed, so opted out), and then a consent
    # file names S2 by id alone and says yes.
    first = tmp_path / "first.csv"
    first.write_text("customer_id,email,consent_email\r\nS1,ann@example.com,yes\r\n")
    import_file(engine, "customers", first)
    erasure.erase_customer(engine, customer_id="S1")
    again = tmp_path / "again.csv"
    again.write_text("customer_id,email,consent_email\r\nS2,ann@example.com,yes\r\n")
    assert import_file(engine, "customers", again).suppressed == 1
    result = import_file(engine, "customers", HOSTILE / "consent_by_id_only.csv")
    assert result.suppressed == 1
    c, k = schema.customers, schema.consents
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(k.c.channel, k.c.status).join(c, c.c.id == k.c.customer_id).where(c.c.external_id == "S2")
        ).all()
    assert sorted(stored) == [("email", "opt_out"), ("mail", "opt_out"), ("phone", "opt_out"), ("sms", "opt_out")]
