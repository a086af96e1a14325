"""The hand-made campaigns of the tests of crm_core.campaigns, on every engine.

The hand data (built by :func:`_hand_data`, numbers chosen so that every expected value can be worked out on paper):

1. "Spring sale" (email, 2024-03-01, cost 1000, margin 0.3, window 14 days)
   - arm A, 110 members (customers 1-110), sent 2024-03-01 09:00: converted 1-20 (revenue 50 each), not converted
     21-100 (revenue blank), conversion NOT RECORDED 101-110; delivered 1-105; opened 1-40, not 41-100, not
     recorded 101-110; clicked 1-25, not 26-100, not recorded 101-110.
   - arm B, 50 members (111-160): no conversion at all (revenue 0 recorded); delivered all; opened 111-120.
   - control, 100 members (161-260), not sent: converted 161-170 (revenue 50); delivery etc. not recorded.
   - responded: not recorded for anyone.
2. "Newsletter" (sms, 2024-04-01, no cost): one arm "all", 40 members (301-340), 4 converted; no control group.
3. "Unreported" (email, 2024-05-01, window 14): outcomes not reported; orders around the window's edges.
4. "Segmented" (mail, 2024-06-01): by country DE strong uplift, FR none, AT too small, unknown none.
5. "Draft" (sms, 2024-07-01): no members.
"""

from __future__ import annotations

import datetime as dt

import pytest

from crm_core import schema

SENT = dt.datetime(2024, 3, 1, 9, 0)


def _member(campaign_id, customer_id, arm, is_control=False, sent_at=None, **outcomes):
    row = {
        "campaign_id": campaign_id,
        "customer_id": customer_id,
        "arm": arm,
        "is_control": is_control,
        "sent_at": sent_at,
        "delivered": None,
        "opened": None,
        "clicked": None,
        "responded": None,
        "converted": None,
        "revenue": None,
    }
    row.update(outcomes)
    return row


def _hand_data():
    customers, members, attributes, orders = [], [], [], []

    def customer(i, country=None):
        customers.append({"id": i, "external_id": f"C{i:04d}", "first_name": f"F{i}", "country": country})

    # 1. Spring sale
    for i in range(1, 111):
        customer(i)
        recorded = i <= 100
        members.append(
            _member(
                1,
                i,
                "A",
                sent_at=SENT,
                delivered=i <= 105,
                opened=(i <= 40) if recorded else None,
                clicked=(i <= 25) if recorded else None,
                converted=(i <= 20) if recorded else None,
                revenue=50.0 if i <= 20 else None,
            )
        )
    for i in range(111, 161):
        customer(i)
        members.append(
            _member(
                1, i, "B", sent_at=SENT, delivered=True, opened=i <= 120, clicked=False, converted=False, revenue=0.0
            )
        )
    for i in range(161, 261):
        customer(i)
        members.append(_member(1, i, "control", True, converted=i <= 170, revenue=50.0 if i <= 170 else None))
    # 2. Newsletter: no control
    for i in range(301, 341):
        customer(i)
        members.append(
            _member(
                2, i, "all", sent_at=dt.datetime(2024, 4, 1, 8), converted=i <= 304, revenue=20.0 if i <= 304 else 0.0
            )
        )
    # 3. Unreported: attribution window edges. (customer, is_control, sent_at, [(ordered_at, status, amount)])
    sent3 = dt.datetime(2024, 5, 1, 10, 0)
    unreported = [
        (501, False, sent3, [(sent3, "completed", 10.0)]),  # exactly at sending: counts
        (502, False, sent3, [(sent3 - dt.timedelta(seconds=1), "completed", 20.0)]),  # a second before: no
        (503, False, sent3, [(sent3 + dt.timedelta(days=14), "completed", 30.0)]),  # exactly at the end: no
        (
            504,
            False,
            sent3,
            [
                (dt.datetime(2024, 5, 10, 12), "completed", 5.0),
                (dt.datetime(2024, 5, 5), "cancelled", 100.0),  # not a purchase
                (sent3 + dt.timedelta(days=14, seconds=-1), "completed", 40.0),  # a second before the end: counts
            ],
        ),
        (505, True, None, [(dt.datetime(2024, 5, 1, 0, 0), "completed", 50.0)]),  # control: start 00:00 counts
        (506, True, None, [(dt.datetime(2024, 4, 30, 23, 59, 59), "completed", 70.0)]),  # before the start: no
        (507, True, None, [(dt.datetime(2024, 5, 15, 0, 0), "completed", 80.0)]),  # control window end: no
        (508, True, None, [(dt.datetime(2024, 5, 14, 23, 59, 59), "completed", 60.0)]),  # just inside: counts
    ]
    for customer_id, is_control, sent_at, its_orders in unreported:
        customer(customer_id)
        members.append(_member(3, customer_id, "control" if is_control else "A", is_control, sent_at))
        for ordered_at, status, amount in its_orders:
            orders.append(
                {
                    "id": len(orders) + 1,
                    "external_id": f"O{len(orders) + 1}",
                    "customer_id": customer_id,
                    "ordered_at": ordered_at,
                    "status": status,
                    "amount": amount,
                }
            )
    # 4. Segmented: (country, treated, treated converted, controls, controls converted, loyalty tier)
    groups = [("DE", 100, 30, 100, 10, "gold"), ("FR", 100, 10, 100, 10, "silver"), ("AT", 10, 5, 10, 0, None)]
    groups.append((None, 40, 4, 40, 4, None))
    next_id = 1001
    for country, treated, treated_conv, controls, controls_conv, tier in groups:
        for side, size, conv in ((False, treated, treated_conv), (True, controls, controls_conv)):
            for k in range(size):
                customer(next_id, country)
                if tier:
                    attributes.append({"customer_id": next_id, "name": "loyalty_tier", "value": tier})
                members.append(
                    _member(
                        4,
                        next_id,
                        "control" if side else "offer",
                        side,
                        None if side else dt.datetime(2024, 6, 1, 9),
                        converted=k < conv,
                        revenue=25.0 if k < conv else 0.0,
                    )
                )
                next_id += 1
    campaign_rows = [
        {"id": 1, "name": "Spring sale", "channel": "email", "start_date": dt.date(2024, 3, 1), "cost": 1000.0},
        {"id": 2, "name": "Newsletter", "channel": "sms", "start_date": dt.date(2024, 4, 1), "cost": None},
        {"id": 3, "name": "Unreported", "channel": "email", "start_date": dt.date(2024, 5, 1), "cost": 100.0},
        {"id": 4, "name": "Segmented", "channel": "mail", "start_date": dt.date(2024, 6, 1), "cost": 500.0},
        {"id": 5, "name": "Draft", "channel": "sms", "start_date": dt.date(2024, 7, 1), "cost": None},
    ]
    for row in campaign_rows:
        row.update(end_date=row["start_date"] + dt.timedelta(days=14), attribution_window_days=14, margin=0.3)
    return customers, campaign_rows, members, attributes, orders


@pytest.fixture
def hand(engine):
    customers, campaign_rows, members, attributes, orders = _hand_data()
    with engine.begin() as conn:
        conn.execute(schema.customers.insert(), customers)
        conn.execute(schema.customer_attributes.insert(), attributes)
        conn.execute(schema.campaigns.insert(), campaign_rows)
        conn.execute(schema.campaign_members.insert(), members)
        conn.execute(schema.orders.insert(), orders)
    return engine
