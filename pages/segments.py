"""Segments: find the groups of customers worth talking to and hand them to a campaign (DESIGN.md §4).

RFM map and named segments, a rule builder with live key figures (saved with versions, exported as a
consent-clean contact list), side-by-side comparison, migration between two dates, cohort retention and value
concentration. Only the chosen section runs; each one is a module of :mod:`ui.sections`.
"""

import streamlit as st

import ui
from crm_core import purchases
from ui.sections import (
    segments_builder,
    segments_cohorts,
    segments_compare,
    segments_concentration,
    segments_migration,
    segments_rfm_map,
    segments_scoring,
)

ui.page("Segments")

SECTIONS = {
    "RFM map": segments_rfm_map,
    "Rule builder": segments_builder,
    "Compare": segments_compare,
    "Migration": segments_migration,
    "Cohorts": segments_cohorts,
    "Concentration": segments_concentration,
}

as_of = ui.cached(purchases.default_as_of)
cuts = segments_scoring.render(as_of)
section = st.segmented_control(
    "Part", list(SECTIONS), default="RFM map", key="segments_section", label_visibility="collapsed"
)
SECTIONS[section or "RFM map"].render(as_of, cuts)
