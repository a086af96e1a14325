"""Sufficient statistics per arm, counting only recorded outcomes (crm_core.campaigns.statistics)."""

from __future__ import annotations

from crm_core import campaigns


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
