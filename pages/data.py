"""Data: bring a file in, see what is wrong with the data, what every import did, erase a person on request, and
the database in use (DESIGN.md §4; README "The Data page"). Each tab is a module of :mod:`ui.sections`.
"""

import streamlit as st

import ui
from ui.sections import data_database, data_erasure, data_history, data_import, data_quality

ui.page("Data")

SECTIONS = {
    "Import": data_import,
    "Data quality": data_quality,
    "Import history": data_history,
    "Erasure": data_erasure,
    "Database": data_database,
}

for tab, section in zip(st.tabs(list(SECTIONS)), SECTIONS.values(), strict=True):
    with tab:
        section.render()
