"""Customers page, a profile's Contact & consent tab: contact pressure against limits, consent per channel."""

from __future__ import annotations

import streamlit as st

from crm_core import labels, profiles
from ui.tables import table


def render(profile: profiles.CustomerProfile) -> None:
    limit_30, limit_90, _ = st.columns([1, 1, 2])
    default = profiles.ContactLimits()
    warn_30 = limit_30.number_input("Warn above (30 days)", 0, value=default.last_30_days, key="contact_limit_30")
    warn_90 = limit_90.number_input("Warn above (90 days)", 0, value=default.last_90_days, key="contact_limit_90")
    limits = profiles.ContactLimits(last_30_days=int(warn_30), last_90_days=int(warn_90))
    for warning in profiles.contact_warnings(profile.contact_pressure, limits):
        st.warning(warning, icon=":material/campaign:")
    if profile.contact_pressure.empty:
        st.caption(f"Not contacted in the 90 days before {profile.as_of}.")
    else:
        st.caption(f"Outbound contacts before {profile.as_of}, per channel.")
        table(profile.contact_pressure, ["channel", "last_30_days", "last_90_days"])
    st.markdown("**Consent per channel**")
    table(
        profile.consents,
        ["channel", "status", "changed_at", "source", "suppressed"],
        labels_={"changed_at": labels.Column("Since", "date"), "status": "Consent"},
    )
