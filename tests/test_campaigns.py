"""Campaign effect in SQL (crm_core.campaigns): hand-made campaigns on every engine, then the demo data.

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
import json
import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from scipy import stats

from crm_core import campaigns, cli, schema, uplift

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


# --- arm statistics and NULL handling -----------------------------------------------------------------------------


def test_arm_statistics_count_only_recorded_outcomes(hand):
    frame = campaigns.arm_statistics(hand, "Spring sale").set_index("arm")
    assert list(frame.index) == ["A", "B", "control"]
    a, b, control = frame.loc["A"], frame.loc["B"], frame.loc["control"]
    assert (a["n"], a["sent"], a["converted"], a["converted_recorded"]) == (110, 110, 20, 100)
    assert (a["delivered"], a["delivered_recorded"], a["opened"], a["opened_recorded"]) == (105, 110, 40, 100)
    assert (a["clicked"], a["clicked_recorded"], a["responded_recorded"]) == (25, 100, 0)
    # Revenue: blank for the 80 recorded non-converters counts as 0; the 10 unrecorded members are left out.
    assert (a["revenue_recorded"], a["revenue_sum"], a["revenue_sumsq"]) == (100, 1000.0, 20 * 50.0**2)
    assert (b["n"], b["converted"], b["converted_recorded"], b["revenue_recorded"]) == (50, 0, 50, 50)
    assert (control["n"], control["sent"], control["delivered_recorded"], control["converted"]) == (100, 0, 0, 10)
    assert bool(control["is_control"]) and not bool(a["is_control"])


# --- one campaign's results -----------------------------------------------------------------------------------------


def test_campaign_results_two_treatment_arms_against_the_control(hand):
    results = campaigns.campaign_results(hand, "Spring sale")
    assert results.has_control and results.control_arm == "control" and results.outcomes == "reported"
    arms = results.arms.set_index("arm")
    assert arms.loc["A", "conversion_rate"] == pytest.approx(0.2)
    assert arms.loc["control", "conversion_rate"] == pytest.approx(0.1)
    assert arms.loc["A", "revenue_per_member"] == pytest.approx(10.0)
    assert (arms.loc["A", "conversion_ci_low"], arms.loc["A", "conversion_ci_high"]) == pytest.approx(
        uplift.wilson_interval(20, 100)
    )
    assert math.isnan(arms.loc["A", "response_rate"])  # not recorded

    a, b = results.effects
    assert (a.arm, b.arm) == ("A", "B")
    expected = uplift.newcombe_difference(20, 100, 10, 100)
    assert a.conversion == expected
    assert a.response is None  # responses were not recorded
    # Welch on the raw revenue of the members with known revenue, against scipy.
    raw_a = np.array([50.0] * 20 + [0.0] * 80)
    raw_c = np.array([50.0] * 10 + [0.0] * 90)
    welch = stats.ttest_ind(raw_a, raw_c, equal_var=False)
    assert a.revenue_per_member.estimate == pytest.approx(5.0)
    assert a.revenue_per_member.p_value == pytest.approx(welch.pvalue)
    ci = welch.confidence_interval()
    assert (a.revenue_per_member.ci_low, a.revenue_per_member.ci_high) == pytest.approx((ci.low, ci.high))
    # Incremental = uplift × members of the arm (110); the cost 1000 is split 110 : 50 over the treatment arms.
    assert a.incremental_conversions == pytest.approx(0.1 * 110)
    assert a.incremental_revenue == pytest.approx(5.0 * 110)
    assert a.incremental_revenue_low == pytest.approx(ci.low * 110)
    assert a.cost == pytest.approx(1000 * 110 / 160)
    assert a.roi == pytest.approx((550 * 0.3 - 687.5) / 687.5)
    assert b.cost == pytest.approx(1000 * 50 / 160)
    assert results.incremental_revenue == pytest.approx(a.incremental_revenue + b.incremental_revenue)
    assert results.roi == pytest.approx((results.incremental_revenue * 0.3 - 1000) / 1000)


def test_an_arm_with_zero_conversions(hand):
    b = campaigns.campaign_results(hand, 1).effects[1]
    assert b.conversion == uplift.newcombe_difference(0, 50, 10, 100)
    assert b.conversion.estimate == pytest.approx(-0.1)
    assert b.conversion.ci_high < 0  # 0/50 against 10/100 is a measurable fall
    assert b.verdict.startswith("B lowered conversion from 10.0% to 0.0%")
    # Revenue of B has no variance at all (every member 0); Welch still works from the control's variance.
    assert b.revenue_per_member.is_estimable


def test_the_verdict_of_a_significant_arm(hand):
    a = campaigns.campaign_results(hand, 1).effects[0]
    assert a.verdict.startswith("A raised conversion from 10.0% to 20.0% (+10.0 pts, 95% CI ")
    assert "it did not pay: ROI −76.0% at a 30.0% margin" in a.verdict


def test_a_campaign_without_control_says_its_effect_cannot_be_measured(hand):
    results = campaigns.campaign_results(hand, "Newsletter")
    assert not results.has_control and results.control_arm is None
    (effect,) = results.effects
    assert effect.conversion is None and effect.revenue_per_member is None
    assert math.isnan(effect.incremental_revenue) and math.isnan(results.roi)
    assert effect.verdict == (
        "all: 10.0% converted, but the effect cannot be measured: this campaign had no control group."
    )
    assert results.arms.loc[0, "conversion_rate"] == pytest.approx(0.1)
    assert any("no control group" in note for note in results.notes)


def test_unknown_campaign_is_a_clear_error(hand):
    with pytest.raises(campaigns.CampaignNotFound, match="Nope"):
        campaigns.campaign_results(hand, "Nope")


def test_results_as_json_carry_every_figure_the_cli_promises(hand):
    data = json.loads(json.dumps(campaigns.campaign_results(hand, 1).as_dict()))
    assert [arm["arm"] for arm in data["arms"]] == ["A", "B", "control"]
    assert data["arms"][0] == {
        "arm": "A",
        "is_control": False,
        "n": 110,
        "conversion_rate": 0.2,
        "response_rate": None,
        "revenue_per_member": 10.0,
    }
    a = data["effects"][0]
    assert set(a["conversion"]) >= {"estimate", "ci_low", "ci_high", "p_value"}
    assert a["response"] is None
    assert a["revenue_per_member"]["estimate"] == pytest.approx(5.0)
    assert a["incremental_revenue"] == pytest.approx(550.0)
    assert a["roi"] == pytest.approx(-0.76)


# --- funnel ---------------------------------------------------------------------------------------------------------


def test_funnel_per_arm_over_recorded_outcomes(hand):
    frame = campaigns.funnel(hand, 1)
    a = frame[frame["arm"] == "A"].set_index("stage")
    assert list(a.index) == list(campaigns.FUNNEL_STAGES)
    assert a["members"].tolist() == [110, 105, 40, 25, 20]
    assert a["recorded"].tolist() == [110, 110, 100, 100, 100]
    assert a.loc["opened", "rate"] == pytest.approx(0.4)
    assert a.loc["converted", "share_of_sent"] == pytest.approx(20 / 110)
    control = frame[frame["arm"] == "control"].set_index("stage")
    assert math.isnan(control.loc["delivered", "rate"])  # not recorded for the control
    assert control.loc["converted", "rate"] == pytest.approx(0.1)
    assert math.isnan(control.loc["converted", "share_of_sent"])  # nobody was sent anything


# --- attribution ----------------------------------------------------------------------------------------------------

# Expected from the window rule: [sent_at, sent_at + 14 days) for treatment, [start 00:00, +14 days) for controls.
ATTRIBUTED = {
    501: (True, 10.0),
    502: (False, 0.0),
    503: (False, 0.0),
    504: (True, 45.0),
    505: (True, 50.0),
    506: (False, 0.0),
    507: (False, 0.0),
    508: (True, 60.0),
}


def test_attributed_outcomes_respect_the_window_edges(hand):
    info = campaigns.get_campaign(hand, "Unreported")
    with hand.connect() as conn:
        rows = conn.execute(campaigns.attributed_outcomes(info)).mappings().all()
    got = {row["customer_id"]: (bool(row["converted"]), float(row["revenue"])) for row in rows}
    assert got == ATTRIBUTED


def test_apply_attribution_fills_unreported_members_only(hand):
    assert campaigns.apply_attribution(hand, "Unreported") == 8
    with hand.connect() as conn:
        rows = conn.execute(
            sa.select(
                schema.campaign_members.c.customer_id,
                schema.campaign_members.c.converted,
                schema.campaign_members.c.revenue,
            ).where(schema.campaign_members.c.campaign_id == 3)
        ).all()
    assert {r[0]: (bool(r[1]), float(r[2])) for r in rows} == ATTRIBUTED
    assert campaigns.apply_attribution(hand, "Unreported") == 0  # nothing left unreported
    # A reported campaign is left alone (its 10 unrecorded members are filled, the others kept).
    before = campaigns.arm_statistics(hand, 1)
    assert campaigns.apply_attribution(hand, 1) == 10
    after = campaigns.arm_statistics(hand, 1).set_index("arm")
    assert after.loc["A", "converted"] == 20 and after.loc["A", "converted_recorded"] == 110
    assert before.set_index("arm").loc["control", "converted"] == after.loc["control", "converted"]


def test_results_of_an_unreported_campaign_are_attributed_on_the_fly(hand):
    results = campaigns.campaign_results(hand, "Unreported")
    assert results.outcomes.startswith("attributed")
    arms = results.arms.set_index("arm")
    assert arms.loc["A", "conversion_rate"] == pytest.approx(2 / 4)
    assert arms.loc["A", "revenue_per_member"] == pytest.approx(55.0 / 4)
    assert arms.loc["control", "conversion_rate"] == pytest.approx(2 / 4)
    assert campaigns.campaign_results(hand, "Unreported", outcomes="reported").effects[0].conversion is None


# --- response by day -----------------------------------------------------------------------------------------------


def test_response_by_day_counts_first_purchases_per_calendar_day(hand):
    frame = campaigns.response_by_day(hand, "Unreported", days=15)
    treated = frame[frame["arm"] == "A"].set_index("day")
    control = frame[frame["arm"] == "control"].set_index("day")
    assert len(treated) == len(control) == 15
    # Treatment: 501 on day 0, 504 on day 9 (2024-05-10), 503 on day 14; 502 bought before the send.
    assert treated["converters"][treated["converters"] > 0].to_dict() == {0: 1, 9: 1, 14: 1}
    # Control: 505 on day 0, 508 on day 13, 507 on day 14; 506 bought before the start.
    assert control["converters"][control["converters"] > 0].to_dict() == {0: 1, 13: 1, 14: 1}
    assert treated.loc[14, "cumulative_rate"] == pytest.approx(3 / 4)
    assert treated.loc[9, "uplift"] == pytest.approx(2 / 4 - 1 / 4)
    assert control["uplift"].isna().all()


# --- uplift by segment and decile ---------------------------------------------------------------------------------


def test_uplift_by_country_sorted_by_effect_with_small_groups_flagged(hand):
    frame = campaigns.uplift_by_segment(hand, "Segmented", by="country")
    assert frame["segment"].tolist() == ["DE", campaigns.UNKNOWN, "FR", "AT"]
    de = frame.iloc[0]
    assert (de["n_treatment"], de["n_control"]) == (100, 100)
    expected = uplift.newcombe_difference(30, 100, 10, 100)
    assert (de["uplift"], de["ci_low"], de["ci_high"]) == pytest.approx(
        (expected.estimate, expected.ci_low, expected.ci_high)
    )
    assert de["note"] == "responded"
    assert frame.set_index("segment").loc["FR", "note"].startswith("no measurable effect")
    at = frame.iloc[-1]
    assert bool(at["too_small"]) and at["uplift"] == pytest.approx(0.5)  # largest, but too small to count


def test_uplift_by_an_imported_attribute(hand):
    frame = campaigns.uplift_by_segment(hand, "Segmented", by="attribute:loyalty_tier").set_index("segment")
    assert sorted(frame.index) == sorted(["gold", "silver", campaigns.UNKNOWN])
    assert frame.loc["gold", "uplift"] == pytest.approx(0.2)
    assert (frame.loc[campaigns.UNKNOWN, "n_treatment"], frame.loc[campaigns.UNKNOWN, "n_control"]) == (50, 50)
    assert "attribute:loyalty_tier" in campaigns.segment_dimensions(hand)


def test_uplift_by_one_arm(hand):
    frame = campaigns.uplift_by_segment(hand, 1, by="country", arm="B")
    (row,) = frame.itertuples()
    assert (row.n_treatment, row.n_control, row.uplift) == (50, 100, pytest.approx(-0.1))


@pytest.mark.parametrize("by", ["email", "attribute:", "customers; drop table x"], ids=["not-allowed", "empty", "sql"])
def test_unknown_breakdowns_are_refused(hand, by):
    with pytest.raises(ValueError, match="cannot break a campaign down"):
        campaigns.uplift_by_segment(hand, 1, by=by)


def test_rfm_segment_is_taken_at_the_campaign_start(hand):
    from crm_core import rfm

    # Of the "Unreported" members only 506 bought before the start (2024-04-30 23:59:59); by today all of them
    # have bought. The segment at sending is therefore "No purchase yet" for seven of them.
    frame = campaigns.uplift_by_segment(hand, "Unreported", by="rfm_segment", min_group_size=1)
    sizes = dict(zip(frame["segment"], frame["n_treatment"] + frame["n_control"], strict=True))
    at_start = rfm.rfm_table(hand, dt.date(2024, 5, 1)).set_index("customer_id")
    assert sizes == {rfm.NO_PURCHASE_YET: 7, at_start.loc[506, "segment"]: 1}


def test_uplift_by_decile_from_a_select_and_from_a_frame(hand):
    members = schema.campaign_members
    values = sa.select(members.c.customer_id, sa.cast(members.c.customer_id, sa.Float).label("predicted_value")).where(
        members.c.campaign_id == 4
    )
    by_select = campaigns.uplift_by_decile(hand, "Segmented", values, deciles=2, min_group_size=1)
    frame = pd.DataFrame({"customer_id": range(1001, 1501), "predicted_value": [float(i) for i in range(1001, 1501)]})
    by_frame = campaigns.uplift_by_decile(hand, "Segmented", frame, deciles=2, min_group_size=1)
    pd.testing.assert_frame_equal(by_select, by_frame)
    assert by_select["decile"].tolist() == [1, 2]
    assert (by_select["value_min"].tolist(), by_select["value_max"].tolist()) == ([1001.0, 1251.0], [1250.0, 1500.0])
    lower = by_select.iloc[0]
    # Lower half: DE treated 1001-1100 (30 conv), DE control 1101-1200 (10), FR treated 1201-1250 (10 of the first 10).
    assert (lower["n_treatment"], lower["n_control"]) == (150, 100)
    assert lower["conversion_treatment"] == pytest.approx(40 / 150)


# --- many campaigns ------------------------------------------------------------------------------------------------


def test_campaign_list_figures(hand):
    frame = campaigns.campaign_list(hand).set_index("name")
    assert list(frame.index) == ["Draft", "Segmented", "Unreported", "Newsletter", "Spring sale"]
    spring = frame.loc["Spring sale"]
    assert (spring["members"], spring["treatment"], spring["control"], spring["sent"]) == (260, 160, 100, 160)
    assert spring["open_rate"] == pytest.approx(50 / 150)
    assert spring["click_rate"] == pytest.approx(25 / 150)
    assert spring["conversion_rate"] == pytest.approx(20 / 150)
    assert spring["control_conversion_rate"] == pytest.approx(0.1)
    assert spring["revenue"] == pytest.approx(1000.0)
    assert spring["incremental_revenue"] == pytest.approx((1000 / 150 - 5.0) * 160)
    assert spring["roi"] == pytest.approx((spring["incremental_revenue"] * 0.3 - 1000) / 1000)
    assert math.isnan(frame.loc["Newsletter", "incremental_revenue"])  # no control
    draft = frame.loc["Draft"]
    assert draft["members"] == 0 and math.isnan(draft["conversion_rate"])


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        pytest.param({"channel": "sms"}, ["Draft", "Newsletter"], id="channel"),
        pytest.param(
            {"start": dt.date(2024, 4, 1), "end": dt.date(2024, 5, 31)}, ["Unreported", "Newsletter"], id="dates"
        ),
        pytest.param(
            {"sort_by": "members", "descending": False},
            ["Draft", "Unreported", "Newsletter", "Spring sale", "Segmented"],
            id="sorted",
        ),
    ],
)
def test_campaign_list_filters_and_sorts(hand, kwargs, names):
    assert campaigns.campaign_list(hand, **kwargs)["name"].tolist() == names


def test_campaign_list_refuses_unknown_sort_columns(hand):
    with pytest.raises(ValueError, match="cannot sort by"):
        campaigns.campaign_list(hand, sort_by="name; drop table campaigns")


def test_compare_campaigns_side_by_side(hand):
    frame = campaigns.compare_campaigns(hand, [4, 1, 2])
    assert frame["name"].tolist() == ["Segmented", "Spring sale", "Newsletter"]
    spring = frame.iloc[1]
    expected = uplift.newcombe_difference(20, 150, 10, 100)  # arms A and B pooled
    assert spring["conversion_uplift"] == pytest.approx(expected.estimate)
    assert spring["conversion_ci_low"] == pytest.approx(expected.ci_low)
    assert "no control group" in frame.iloc[2]["verdict"]


def test_member_list_is_capped_and_says_so(hand):
    listed = campaigns.member_list(hand, 1, limit=50)
    assert len(listed.frame) == 50 and listed.total == 260 and listed.truncated
    assert listed.label == "showing the first 50 of 260 members"
    assert listed.frame["arm"].iloc[0] == "A" and listed.frame["external_id"].iloc[0] == "C0001"
    assert not campaigns.member_list(hand, 2).truncated


# --- the command line -----------------------------------------------------------------------------------------------


def _url(engine):
    return engine.url.render_as_string(hide_password=False)


def test_cli_campaign_json(hand, capsys):
    assert cli.main(["campaign", "Spring sale", "--json", "--db", _url(hand)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["arms"][0]["n"] == 110
    assert data["effects"][0]["conversion"]["estimate"] == pytest.approx(0.1)
    assert data["effects"][0]["roi"] == pytest.approx(-0.76)


def test_cli_campaign_text_and_unknown_name(hand, capsys):
    assert cli.main(["campaign", "Newsletter", "--db", _url(hand)]) == 0
    out = capsys.readouterr().out
    assert "cannot be measured: this campaign had no control group" in out
    assert cli.main(["campaign", "Nope", "--db", _url(hand)]) == 1
    assert "no campaign" in capsys.readouterr().err


def test_cli_campaigns_list(hand, capsys):
    assert cli.main(["campaigns", "--channel", "sms", "--db", _url(hand)]) == 0
    out = capsys.readouterr().out
    assert "Newsletter" in out and "Spring sale" not in out


# --- the demo data ----------------------------------------------------------------------------------------------------
# crm_core/demo.py plants the effects: a delivered treatment member converts beyond the baseline with probability
# effect(target) × (0.4 + 1.2 × past-spend percentile) × (1.6 for arm B) × channel factor, where "Lapsed 90-180 days"
# has the largest effect (0.18) and "Active customers" a small one (0.025). It attributes converted and revenue with
# the same window rule as crm_core.campaigns.


def _demo_campaigns(engine):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(schema.campaigns.c.id, schema.campaigns.c.target_segment).order_by(schema.campaigns.c.id)
        ).all()


def _checked_campaigns(engine):
    """Every demo campaign; on Spark SQL, where each campaign's queries are a few Spark jobs of about a second, every
    fourth one (which still covers each kind of campaign), to keep the Spark part of the suite within its budget."""
    every = _demo_campaigns(engine)
    return every[::4] if engine.dialect.name == "spark" else every


def test_demo_attribution_reproduces_the_generators_outcomes(demo_engine):
    mismatches = 0
    members = schema.campaign_members
    with demo_engine.connect() as conn:
        for campaign_id, _ in _checked_campaigns(demo_engine):
            info = campaigns.get_campaign(conn, campaign_id)
            attributed = campaigns.attributed_outcomes(info).subquery()
            stored = members.alias("stored")
            query = (
                sa.select(sa.func.count())
                .select_from(attributed.join(stored, stored.c.customer_id == attributed.c.customer_id))
                .where(
                    stored.c.campaign_id == campaign_id,
                    sa.or_(
                        stored.c.converted != attributed.c.converted,
                        sa.func.abs(stored.c.revenue - attributed.c.revenue) > 0.005,
                    ),
                )
            )
            mismatches += conn.execute(query).scalar()
    assert mismatches == 0


def test_demo_results_for_every_campaign(demo_engine):
    listed = campaigns.campaign_list(demo_engine).set_index("campaign_id")
    assert len(listed) == len(_demo_campaigns(demo_engine)) > 0
    for campaign_id, _ in _checked_campaigns(demo_engine):
        results = campaigns.campaign_results(demo_engine, campaign_id)
        assert results.outcomes == "reported"
        assert int(results.arms["n"].sum()) == listed.loc[campaign_id, "members"]
        for effect in results.effects:
            if results.has_control:
                assert "no control group" not in effect.verdict
            else:
                assert effect.verdict.endswith("cannot be measured: this campaign had no control group.")


@pytest.fixture(scope="module")
def demo_20k(tmp_path_factory):
    """The app's default demo dataset (20,000 customers, seed 42) on DuckDB: big enough for the planted effects."""
    from crm_core import db, demo

    engine = db.create_engine(f"duckdb:///{tmp_path_factory.mktemp('campaigns') / 'demo.duckdb'}")
    demo.load_demo(engine, customers=20_000, seed=42)
    yield engine
    engine.dispose()


def test_demo_verdict_finds_the_planted_win_back_effect(demo_20k):
    win_back = [cid for cid, target in _demo_campaigns(demo_20k) if target == "Lapsed 90-180 days"]
    checked = 0
    for campaign_id in win_back:
        results = campaigns.campaign_results(demo_20k, campaign_id)
        if results.arms.loc[~results.arms["is_control"], "n"].sum() < 300:
            continue  # too small to promise significance
        checked += 1
        by_arm = {effect.arm: effect for effect in results.effects}
        for effect in by_arm.values():
            assert effect.conversion.ci_low > 0, effect.verdict
            assert " raised conversion from " in effect.verdict
        if "B" in by_arm:  # the stronger offer: 1.6 times the effect
            assert by_arm["B"].conversion.estimate > by_arm["A"].conversion.estimate
    assert checked >= 3


def test_demo_uplift_grows_with_past_value(demo_20k):
    # The planted effect rises with the member's spend before the campaign; rank by exactly that.
    orders = schema.orders
    checked = 0
    for campaign_id, target in _demo_campaigns(demo_20k):
        if target != "Lapsed 90-180 days":
            continue
        start = campaigns.get_campaign(demo_20k, campaign_id).start_date
        spend = (
            sa.select(orders.c.customer_id, sa.func.sum(orders.c.amount).label("predicted_value"))
            .where(orders.c.status == "completed", orders.c.ordered_at < dt.datetime.combine(start, dt.time()))
            .group_by(orders.c.customer_id)
        )
        halves = campaigns.uplift_by_decile(demo_20k, campaign_id, spend, deciles=2)
        if halves["n_control"].min() < 25:
            continue
        checked += 1
        assert halves.loc[1, "uplift"] > halves.loc[0, "uplift"]
    assert checked >= 3


def test_a_campaign_without_start_or_send_time_says_so_until_its_start_is_set(engine, tmp_path):
    from crm_core.imports import campaign_results as campaign_import

    rows = "".join(f"{['A', 'none'][i % 2]},{int(i % 7 == 0)}\n" for i in range(40))
    (tmp_path / "unsent.csv").write_text("arm,bought\n" + rows)
    campaign_import.import_campaign_results(
        engine,
        tmp_path / "unsent.csv",
        campaign_import.ResultsLayout(arm="arm", control="none", outcomes={"converted": "bought"}),
        campaign_import.CampaignSettings.parse("Unsent"),
    )
    assert campaigns.campaign_results(engine, "Unsent").outcomes == "reported"
    with pytest.raises(campaigns.CampaignStartUnknown, match="'Unsent' has neither a start date nor a send time"):
        campaigns.response_by_day(engine, "Unsent")
    info = campaigns.set_start_date(engine, "Unsent", dt.date(2024, 3, 1))
    assert (info.start_date, info.reference_start) == (dt.date(2024, 3, 1), dt.date(2024, 3, 1))
    days = campaigns.response_by_day(engine, "Unsent", days=5)
    assert set(days["arm"]) == {"A", "none"} and days["cumulative_converters"].max() == 0
