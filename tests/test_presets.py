"""Platform presets: each sample export (tests/files/presets, written from the platforms' documentation and
public sample files) imports with no flags, with 0 rejected lines and the known answers below, on every engine;
importing it again changes nothing.

Known answers (each file alone into an empty database; worked by hand from the files):

    file                        customers  orders: completed/pending/returned/cancelled  lines  products  revenue
    shopify_orders.csv          7          10: 6/2/1/1                                   18     8 (1 renamed)  431.55
    shopify_customers.csv       12         -                                             -      -        -
    woocommerce_orders.csv      6          10: 5/2/1/2                                   14     6 (1 renamed)  246.02
    mailchimp_subscribed.csv    8          -
    mailchimp_unsubscribed.csv  5          -
    mailchimp_cleaned.csv       3          -
    hubspot_contacts.csv        10         -
    klaviyo_profiles.csv        10         -

Revenue is the net amount of paid orders: Shopify 73.75 + (107.90 - 21.00) + 33.90 + 101.00 + 51.50 + 84.50;
WooCommerce 58.72 + 39.00 + (92.40 - 34.00) + 41.00 + 48.90.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm_core import cli, contact_keys, db, schema
from crm_core.imports import ImportFailed, import_file, presets

PRESETS = Path(__file__).parent / "files" / "presets"
T = dt.datetime


def _phone(text: str) -> str:
    return "tel:" + str(contact_keys.normalise_phone(text))


def _rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql))]


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        out = {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in schema.DATA_TABLES
            if t is not schema.import_log
        }
    out["data_version"] = db.data_version(engine)
    return out


def _statuses(engine) -> dict[str, tuple[int, float]]:
    rows = _rows(engine, "SELECT status, COUNT(*), SUM(amount) FROM orders GROUP BY status")
    return {status: (int(n), round(float(total), 2)) for status, n, total in rows}


def _consents(engine) -> list[tuple]:
    sql = (
        "SELECT c.external_id, k.channel, k.status, k.changed_at, k.source FROM consents k "
        "JOIN customers c ON c.id = k.customer_id ORDER BY c.external_id, k.channel"
    )
    return [
        (c, ch, s, None if at is None else T.fromisoformat(str(at)), src) for c, ch, s, at, src in _rows(engine, sql)
    ]


def _attributes(engine) -> dict[str, int]:
    return {n: int(c) for n, c in _rows(engine, "SELECT name, COUNT(*) FROM customer_attributes GROUP BY name")}


def _customers(engine) -> list[str]:
    return [r[0] for r in _rows(engine, "SELECT external_id FROM customers ORDER BY external_id")]


def _import(engine, name: str, kind: str):
    result = import_file(engine, kind, PRESETS / name)
    assert (result.status, result.rejected, result.problems) == ("ok", 0, [])
    return result


def _again_changes_nothing(engine, name: str, kind: str) -> None:
    before = _counts(engine)
    again = import_file(engine, kind, PRESETS / name)
    assert (again.created, again.updated, again.changed) == (0, 0, False)
    assert _counts(engine) == before


def test_shopify_orders(engine):
    result = _import(engine, "shopify_orders.csv", "orders")
    assert result.preset == "Shopify orders export"
    assert "recognised as: Shopify orders export" in result.describe()
    assert (result.rows_total, result.created, result.items_created, result.customers_created) == (18, 10, 18, 7)
    assert (result.products_created, result.product_variants, result.consents_written) == (8, 2, 6)
    assert [w.reason.split(":")[0] for w in result.warnings] == [
        "55 columns ignored",
        "18 timestamps with a UTC offset converted to UTC",
        "product TEE-ORG-BLK-M has 2 different names, categories or brands in the file; the most recent (line 21) "
        "is kept for all its lines",
    ]
    assert _statuses(engine) == {
        "completed": (6, 431.55),
        "pending": (2, 118.80),
        "returned": (1, 0.0),
        "cancelled": (1, 36.90),
    }
    assert _customers(engine) == sorted(
        [
            "ana.martinez@example.org",
            "cagla.yildiz@example.org",
            "francois.lefevre@example.com",
            "mia.schaefer@example.com",
            "soren.odegard@example.com",
            "zoe.dupre@example.com",
            _phone("+4917012345678"),
        ]
    )
    source = "Shopify orders: Accepts Marketing"
    assert _consents(engine) == [
        ("ana.martinez@example.org", "email", "opt_out", T(2026, 4, 18, 8, 10, 10), source),
        ("cagla.yildiz@example.org", "email", "opt_in", T(2026, 4, 10, 6, 30), source),
        ("francois.lefevre@example.com", "email", "opt_out", T(2026, 4, 14, 17, 22, 48), source),
        ("mia.schaefer@example.com", "email", "opt_in", T(2026, 4, 25, 13, 42, 9), source),
        ("soren.odegard@example.com", "email", "opt_out", T(2026, 4, 2, 9, 47, 30), source),
        ("zoe.dupre@example.com", "email", "opt_in", T(2026, 3, 29, 16, 5, 11), source),
    ]
    revenue = _rows(
        engine,
        "SELECT c.external_id, SUM(o.amount) FROM orders o JOIN customers c ON c.id = o.customer_id "
        "WHERE o.status = 'completed' GROUP BY c.external_id ORDER BY c.external_id",
    )
    assert [(c, round(float(a), 2)) for c, a in revenue] == sorted(
        [
            ("ana.martinez@example.org", 138.40),
            ("mia.schaefer@example.com", 84.50),
            ("zoe.dupre@example.com", 107.65),
            (_phone("+4917012345678"), 101.00),
        ]
    )
    assert _rows(engine, "SELECT name FROM products WHERE external_id = 'TEE-ORG-BLK-M'") == [
        ("Organic Cotton Tee - Black / M",)
    ]
    teapot = "Handgefertigte Keramik-Teekanne mit Bambusgriff und Edelstahlsieb, 1,2 Liter - Salbeigrün"
    assert _rows(engine, "SELECT COUNT(*) FROM products WHERE name = :n".replace(":n", f"'{teapot}'")) == [(1,)]
    assert _rows(engine, "SELECT channel, COUNT(*) FROM orders GROUP BY channel ORDER BY channel") == [
        ("store", 1),
        ("web", 9),
    ]
    first = _rows(engine, "SELECT ordered_at FROM orders WHERE external_id = '#1001'")[0][0]
    assert T.fromisoformat(str(first)) == T(2026, 3, 2, 8, 14, 27)
    _again_changes_nothing(engine, "shopify_orders.csv", "orders")


def test_shopify_customers_then_orders(engine):
    result = _import(engine, "shopify_customers.csv", "customers")
    assert result.preset == "Shopify customers export"
    assert (result.created, len(result.warnings)) == (12, 1)
    assert result.warnings[0].reason.startswith("9 columns ignored: Default Address Company")
    customers = _customers(engine)
    assert len(customers) == 12
    assert {_phone("+4917012345678"), _phone("+393331234567"), "shopify:8696125100110"} <= set(customers)
    consents = _consents(engine)
    assert [(c[1], c[2]) for c in consents].count(("email", "opt_in")) == 5
    assert [(c[1], c[2]) for c in consents].count(("email", "opt_out")) == 4
    assert [(c[1], c[2]) for c in consents].count(("sms", "opt_in")) == 4
    assert [(c[1], c[2]) for c in consents].count(("sms", "opt_out")) == 1
    assert {c[4] for c in consents} == {"Shopify customers export"}
    assert _attributes(engine) == {"shopify_customer_id": 12, "tags": 9}
    assert _rows(
        engine,
        "SELECT a.value FROM customer_attributes a JOIN customers c ON c.id = a.customer_id "
        "WHERE c.external_id = 'zoe.dupre@example.com' AND a.name = 'shopify_customer_id'",
    ) == [("8696125100101",)]
    _again_changes_nothing(engine, "shopify_customers.csv", "customers")
    # The buyers of the orders export are all customers of the customers export (6 by e-mail, one by phone).
    orders = _import(engine, "shopify_orders.csv", "orders")
    assert orders.customers_created == 0
    assert len(_customers(engine)) == 12


def test_woocommerce_orders(engine):
    result = _import(engine, "woocommerce_orders.csv", "orders")
    assert result.preset == "WooCommerce orders export"
    assert (result.created, result.items_created, result.customers_created, result.consents_written) == (10, 14, 6, 0)
    assert (result.products_created, result.product_variants) == (6, 2)
    assert [w.reason.split(":")[0] for w in result.warnings] == [
        "36 columns ignored",
        "2 lines of deleted products (SKU unknown_product) identified by name",
        "product KAF-BRA-1000 has 2 different names, categories or brands in the file; the most recent (line 13) "
        "is kept for all its lines",
    ]
    assert _statuses(engine) == {
        "completed": (5, 246.02),
        "pending": (2, 61.40),
        "returned": (1, 0.0),
        "cancelled": (2, 82.90),
    }
    assert _customers(engine) == sorted(
        [
            "amelie.cote@example.org",
            "ines.ferreira@example.com",
            "lea.fontaine@example.org",
            "nils.bjornstad@example.com",
            "paul.krueger@example.com",
            _phone("+49 151 23456789"),
        ]
    )
    assert _rows(engine, f"SELECT phone FROM customers WHERE external_id = '{_phone('+4915123456789')}'") == [
        ("+49 151 23456789",)
    ]
    assert _rows(engine, "SELECT COUNT(*), SUM(quantity) FROM order_items") == [(14, 18)]
    assert _rows(engine, "SELECT name FROM products WHERE external_id = 'KAF-BRA-1000'") == [
        ("Brasil Santos Bohnen, 1 kg",)
    ]
    assert _consents(engine) == []
    _again_changes_nothing(engine, "woocommerce_orders.csv", "orders")


MAILCHIMP = [
    (
        "mailchimp_subscribed.csv",
        "subscribed",
        8,
        "opt_in",
        {"mailchimp_leid": 8, "mailchimp_member_rating": 8, "tags": 7, "birthday": 3},
    ),
    (
        "mailchimp_unsubscribed.csv",
        "unsubscribed",
        5,
        "opt_out",
        {"mailchimp_leid": 5, "mailchimp_member_rating": 5, "tags": 4, "birthday": 1, "mailchimp_unsub_reason": 5},
    ),
    ("mailchimp_cleaned.csv", "cleaned", 3, "opt_out", {"mailchimp_leid": 3, "mailchimp_member_rating": 3, "tags": 1}),
]


@pytest.mark.parametrize(
    ("name", "status", "rows", "consent", "attributes"), MAILCHIMP, ids=["subscribed", "unsubscribed", "cleaned"]
)
def test_mailchimp_audience_file_status_becomes_email_consent(engine, name, status, rows, consent, attributes):
    result = _import(engine, name, "customers")
    assert result.preset == f"Mailchimp audience export ({status} members)"
    assert result.created == rows
    consents = _consents(engine)
    assert len(consents) == rows
    assert {(c[1], c[2]) for c in consents} == {("email", consent)}
    assert all(c[3] is not None for c in consents)
    assert _attributes(engine) == attributes
    _again_changes_nothing(engine, name, "customers")


def test_mailchimp_dates_and_the_three_files_together(engine):
    for name, *_ in MAILCHIMP:
        _import(engine, name, "customers")
    consents = {c[0]: c[2:] for c in _consents(engine)}
    assert len(consents) == 16
    assert consents["zoe.dupre@example.com"] == ("opt_in", T(2025, 11, 3, 9, 12, 45), "Mailchimp: subscribed")
    assert consents["gokhan.ozturk@example.com"] == ("opt_in", T(2025, 10, 20, 12), "Mailchimp: subscribed")
    assert consents["francois.lefevre@example.com"] == ("opt_out", T(2026, 4, 15, 8), "Mailchimp: unsubscribed")
    assert consents["leon.girard@example.com"] == ("opt_out", T(2026, 4, 3, 19, 25, 10), "Mailchimp: cleaned (bounced)")
    assert _rows(engine, "SELECT COUNT(created_at), COUNT(phone) FROM customers") == [(15, 3)]
    tags = _rows(
        engine,
        "SELECT a.value FROM customer_attributes a JOIN customers c ON c.id = a.customer_id "
        "WHERE c.external_id = 'zoe.dupre@example.com' AND a.name = 'tags'",
    )
    assert tags == [("Customer, Newsletter",)]


def test_hubspot_contacts(engine):
    result = _import(engine, "hubspot_contacts.csv", "customers")
    assert result.preset == "HubSpot contacts export"
    assert (result.created, [w.reason.split(":")[0] for w in result.warnings]) == (10, ["3 columns ignored"])
    assert {_phone("+49 170 12345678"), "hubspot:51234567807"} <= set(_customers(engine))
    assert [c[:3] for c in _consents(engine)] == [
        ("ana.martinez@example.org", "email", "opt_out"),
        ("hanna.schmidt@example.com", "email", "opt_out"),
        ("noemie.laurent@example.org", "email", "opt_in"),
        ("pierre.dubois@example.org", "email", "opt_in"),
        ("zoe.dupre@example.com", "email", "opt_in"),
        ("zoltan.kovacs@example.com", "email", "opt_out"),
    ]
    assert _attributes(engine) == {
        "hubspot_record_id": 10,
        "marketing_contact_status": 10,
        "lifecycle_stage": 10,
        "lead_status": 5,
        "company": 2,
        "locale": 9,
    }
    assert _rows(engine, "SELECT COUNT(created_at), COUNT(city), COUNT(country) FROM customers") == [(10, 9, 10)]
    _again_changes_nothing(engine, "hubspot_contacts.csv", "customers")


def test_klaviyo_profiles(engine):
    result = _import(engine, "klaviyo_profiles.csv", "customers")
    assert result.preset == "Klaviyo profiles export"
    assert (result.created, [w.reason.split(":")[0] for w in result.warnings]) == (10, ["10 columns ignored"])
    source = "Klaviyo profiles export"
    consents = _consents(engine)
    assert [c[:3] for c in consents if c[1] == "sms"] == sorted(
        [
            ("ana.martinez@example.org", "sms", "opt_out"),
            ("mia.schaefer@example.com", "sms", "opt_in"),
            (_phone("+393331234567"), "sms", "opt_out"),
            (_phone("+4915123456789"), "sms", "opt_in"),
        ]
    )
    assert ("mia.schaefer@example.com", "sms", "opt_in", T(2026, 1, 15, 18, 23, 5), source) in consents
    assert ("mia.schaefer@example.com", "email", "opt_in", T(2026, 1, 15, 18, 22, 10), source) in consents
    email = [c[2] for c in consents if c[1] == "email"]
    assert (email.count("opt_in"), email.count("opt_out")) == (5, 2)
    assert _attributes(engine) == {"klaviyo_id": 10, "klaviyo_source": 10, "tags": 5, "organization": 1}
    _again_changes_nothing(engine, "klaviyo_profiles.csv", "customers")


def test_every_sample_is_recognised_as_its_own_preset():
    from crm_core.imports import file_header

    expected = {
        "shopify_orders.csv": "shopify-orders",
        "shopify_customers.csv": "shopify-customers",
        "woocommerce_orders.csv": "woocommerce-orders",
        "mailchimp_subscribed.csv": "mailchimp-subscribed",
        "mailchimp_unsubscribed.csv": "mailchimp-unsubscribed",
        "mailchimp_cleaned.csv": "mailchimp-cleaned",
        "hubspot_contacts.csv": "hubspot-contacts",
        "klaviyo_profiles.csv": "klaviyo-profiles",
    }
    found = {}
    for name in expected:
        preset = presets.recognise(file_header(PRESETS / name))
        found[name] = preset.name if preset else None
    assert found == expected
    assert presets.recognise(["customer_id", "email"]) is None


def test_a_preset_of_another_kind_or_forced_off(engine):
    with pytest.raises(ImportFailed) as failure:
        import_file(engine, "customers", PRESETS / "shopify_orders.csv")
    assert failure.value.problems[0].reason.startswith(
        "this file is a Shopify orders export, which holds orders, not customers"
    )
    with pytest.raises(ValueError, match="unknown preset 'shopify'"):
        import_file(engine, "orders", PRESETS / "shopify_orders.csv", preset="shopify")


def test_cli_recognises_lists_and_forces_presets(engine, capsys):
    url = engine.url.render_as_string(hide_password=False)
    assert cli.main(["import", "--list-presets"]) == 0
    listed = capsys.readouterr().out
    assert all(p.name in listed and p.label in listed for p in presets.PRESETS)
    assert cli.main(["import", "orders", str(PRESETS / "woocommerce_orders.csv"), "--db", url]) == 0
    out = capsys.readouterr().out
    assert "recognised as: WooCommerce orders export" in out
    assert "0 errors (rows rejected), 3 warnings" in out
    klaviyo = ["import", "customers", str(PRESETS / "klaviyo_profiles.csv"), "--preset", "klaviyo-profiles"]
    assert cli.main([*klaviyo, "--db", url]) == 0
    assert "recognised as: Klaviyo profiles export" in capsys.readouterr().out
    # Without the preset it is a plain customers file, whose contact without e-mail or phone has no id.
    plain = ["import", "customers", str(PRESETS / "hubspot_contacts.csv"), "--preset", "none"]
    assert cli.main([*plain, "--db", url]) == 1
    assert "line 8, column Email: customer_id, email or phone required" in capsys.readouterr().err
