"""``bench`` operations of the Campaigns page, all on the campaign with the most members."""

from __future__ import annotations

from crm_core import campaigns
from crm_core.bench.context import BenchContext, row_count


def largest_campaign(ctx: BenchContext) -> tuple[int | None, int]:
    """The campaign with the most members, and its size (looked up once)."""
    if "campaign" not in ctx.cache:
        campaign_id = campaigns.largest_campaign(ctx.engine)
        size = 0 if campaign_id is None else int(campaigns.arm_statistics(ctx.engine, campaign_id)["n"].sum())
        ctx.cache["campaign"] = (campaign_id, size)
    return ctx.cache["campaign"]


def bench_campaign_results(ctx: BenchContext):
    campaign_id, size = largest_campaign(ctx)
    if campaign_id is None:
        return 0, "no campaigns"
    campaigns.campaign_results(ctx.engine, campaign_id)
    return size, "members of the largest campaign"


def bench_campaign_list(ctx: BenchContext):
    return row_count(campaigns.campaign_list(ctx.engine))


def bench_campaign_uplift_by_segment(ctx: BenchContext):
    campaign_id, _ = largest_campaign(ctx)
    return 0 if campaign_id is None else row_count(campaigns.uplift_by_segment(ctx.engine, campaign_id))


def bench_campaign_response_by_day(ctx: BenchContext):
    campaign_id, _ = largest_campaign(ctx)
    return 0 if campaign_id is None else row_count(campaigns.response_by_day(ctx.engine, campaign_id))
