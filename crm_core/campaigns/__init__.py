"""Campaign effect in SQL: the list, one campaign's results against its control group, funnel, uplift by segment
and by predicted-value decile, response over the days after sending, attribution, comparison (DESIGN.md §4, §5).

Every figure comes from a GROUP BY over ``campaign_members`` (per arm, per side, per segment or per campaign) that
returns sufficient statistics — members, successes, the sum and the sum of squares of revenue — and the rate of each
outcome (:func:`crm_core.campaigns.statistics.outcome_rate`), and never the members themselves. The statistics
(intervals, tests, verdicts) are :mod:`crm_core.uplift`'s.

Modules
-------
- ``info``: the campaign (:class:`CampaignInfo`) by id or name, its start date.
- ``attribution``: the member rows to aggregate, reported or attributed from orders.
- ``statistics``: the sufficient statistics per arm or side, from one GROUP BY; the rate of an outcome in SQL.
- ``effects``: from sufficient statistics to rates with intervals and uplifts.
- ``results``: one campaign's results with uplift, ROI and verdicts; the funnel.
- ``breakdowns``: uplift by segment, customer attribute and decile of predicted value.
- ``timing``: response over the days after sending.
- ``listing``: the campaign list, campaigns side by side, the largest campaign.
- ``members``: one campaign's member list, capped.

Rules
-----
- **Not recorded is not "no".** An outcome column that is NULL was not recorded. A rate counts only the members
  whose outcome was recorded: conversion rate = converted / members with ``converted`` not NULL; likewise for
  delivered, opened, clicked and responded. ``<outcome>_recorded`` columns give these denominators.
- **Revenue per member** is the mean over the members whose revenue is known: ``revenue`` where it is recorded,
  and 0 for a member recorded as not converted whose revenue is blank (a results file usually leaves revenue empty
  for those who did not buy). A member with neither is left out.
- **Control.** Members with ``is_control`` true form the control group; several control arms are pooled. Every
  treatment arm is compared with it. A campaign without control members shows its rates and says that its effect
  cannot be measured.
- **Incremental** conversions and revenue = the uplift of the arm × its members (DESIGN.md §5), with the uplift's
  interval carried along.
- **Cost and ROI.** The campaign's cost is split across its treatment arms in proportion to their members; control
  members are not contacted and cost nothing. ROI = (incremental revenue × margin − cost) / cost with the
  campaign's ``margin``; its interval comes from the interval of incremental revenue.
- **Attribution** (for campaigns whose results were not reported): a member converted when they made a purchase
  (:data:`crm_core.purchases.is_purchase`) in ``[reference, reference + attribution_window_days)`` — the start
  inclusive, the end exclusive, to the second — where the reference is ``sent_at`` for treatment members and the
  campaign's start date at 00:00 for control members (who are never sent anything) and for treatment members
  without ``sent_at``. Attributed revenue is the sum of those purchases.
"""

from crm_core.campaigns.attribution import OUTCOMES, Outcomes, apply_attribution, attributed_outcomes
from crm_core.campaigns.breakdowns import (
    ATTRIBUTE_PREFIX,
    CUSTOMER_DIMENSIONS,
    GROUP_COLUMNS,
    MIN_GROUP_SIZE,
    RFM_SEGMENT,
    UNKNOWN,
    PredictedValues,
    predicted_value_before,
    segment_dimensions,
    uplift_by_decile,
    uplift_by_predicted_value,
    uplift_by_segment,
)
from crm_core.campaigns.info import CampaignInfo, CampaignNotFound, CampaignStartUnknown, get_campaign, set_start_date
from crm_core.campaigns.listing import COMPARE_COLUMNS, LIST_COLUMNS, campaign_list, compare_campaigns, largest_campaign
from crm_core.campaigns.members import MEMBER_COLUMNS, MEMBER_LIST_LIMIT, MemberList, member_list
from crm_core.campaigns.results import FUNNEL_STAGES, ArmEffect, CampaignResults, campaign_results, funnel
from crm_core.campaigns.statistics import STAT_COLUMNS, arm_statistics
from crm_core.campaigns.timing import response_by_day

__all__ = [
    "ATTRIBUTE_PREFIX",
    "COMPARE_COLUMNS",
    "CUSTOMER_DIMENSIONS",
    "FUNNEL_STAGES",
    "GROUP_COLUMNS",
    "LIST_COLUMNS",
    "MEMBER_COLUMNS",
    "MEMBER_LIST_LIMIT",
    "MIN_GROUP_SIZE",
    "OUTCOMES",
    "RFM_SEGMENT",
    "STAT_COLUMNS",
    "UNKNOWN",
    "ArmEffect",
    "CampaignInfo",
    "CampaignNotFound",
    "CampaignResults",
    "CampaignStartUnknown",
    "MemberList",
    "Outcomes",
    "PredictedValues",
    "apply_attribution",
    "arm_statistics",
    "attributed_outcomes",
    "campaign_list",
    "campaign_results",
    "compare_campaigns",
    "funnel",
    "get_campaign",
    "largest_campaign",
    "member_list",
    "predicted_value_before",
    "response_by_day",
    "segment_dimensions",
    "set_start_date",
    "uplift_by_decile",
    "uplift_by_predicted_value",
    "uplift_by_segment",
]
