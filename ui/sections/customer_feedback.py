"""Customers page, a profile's Feedback tab: NPS, reviews, complaints and what they mentioned."""

from __future__ import annotations

import streamlit as st

import ui
from crm_core import charts, labels, profiles
from ui.sections.customer_profile import or_dash
from ui.tables import table


def render(profile: profiles.CustomerProfile) -> None:
    summary = profile.feedback_summary
    if summary.entries == 0:
        st.info("No surveys, reviews, complaints or notes.")
    else:
        nps, nps_mean, review, complaints = st.columns(4)
        nps.metric(
            "Latest NPS score",
            or_dash(summary.latest_nps, lambda v: f"{v:.0f}"),
            border=True,
            help=f"0-10; {summary.latest_nps_group}." if summary.latest_nps_group else "0-10.",
        )
        nps_mean.metric(
            "Average NPS score", or_dash(summary.average_nps, lambda v: f"{v:.1f}"), border=True,
            help=f"Over {summary.surveys} surveys.",
        )  # fmt: skip
        review.metric(
            "Average review",
            or_dash(summary.average_review, lambda v: f"{v:.1f} / 5"),
            border=True,
            help=f"Over {summary.reviews} reviews.",
        )
        complaints.metric("Complaints", ui.number(summary.complaints), border=True)
        scored = profile.feedback.dropna(subset=["score"])
        chart, mentions = st.columns(2)
        if not scored.empty:
            chart.plotly_chart(
                charts.feedback_scores(scored, title="Scores over time (surveys 0–10, reviews 1–5)"),
                key=f"feedback_chart_{profile.customer_id}",
            )
        if summary.mentions.empty:
            mentions.caption("No competitor, reason for not buying or complaint mentioned.")
        else:
            table(
                summary.mentions,
                ["mention", "value", "times", "last_at"],
                container=mentions,
                labels_={"value": "What"},
            )
        table(
            profile.feedback,
            ["created_at", "kind", "score", "text"],
            more=["competitor_brand", "reason"],
            key="profile_feedback",
            labels_={"created_at": labels.Column("When", "date")},
        )
