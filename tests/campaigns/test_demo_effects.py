"""The campaign code on the demo data: attribution reproduces the generator, and the planted effects are found.

crm_core/demo/campaigns.py plants the effects: a delivered treatment member converts beyond the baseline with
probability effect(target) × (0.4 + 1.2 × past-spend percentile) × (1.6 for arm B) × channel factor, where "Lapsed
90-180 days" has the largest effect (0.18) and "Active customers" a small one (0.025). It attributes converted and
revenue with the same window rule as crm_core.campaigns.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from crm_core import campaigns, schema


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


@pytest.mark.slow
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


@pytest.mark.slow
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
