"""The export of a contact list for a campaign: pick a channel, see who can be contacted and who is left out, and
download the consent-clean CSV (DESIGN.md §8: exports respect consent and neutralise spreadsheet formulas).

Every page that hands customers to a campaign draws it with :func:`render`; what the list holds comes from crm_core
(``segments.export_segment``, ``clv_report.at_risk_export``), which applies the consent and suppression rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import pandas as pd
import streamlit as st

from crm_core import formats, labels
from ui.format import number
from ui.privacy import masking_enabled
from ui.tables import table

#: What a downloaded contact list holds, said under its download button.
CONSENT_CAPTION = (
    "Only customers who opted in to this channel; never erased or suppressed ones. Cells that a spreadsheet would "
    "run as a formula start with a ' ."
)
MASKED_CAPTION = " Personal data is masked (the switch in the sidebar)."


class ContactList(Protocol):
    """A contact list for one channel, as crm_core returns it (``segments.SegmentExport`` and its kin)."""

    @property
    def members(self) -> int: ...

    @property
    def excluded(self) -> pd.DataFrame: ...

    @property
    def exported(self) -> int: ...

    def csv_bytes(self) -> bytes: ...


def render(
    contact_list: Callable[[str], ContactList],
    *,
    channels: Sequence[str],
    file_name: Callable[[str], str],
    key: str,
    title: str = "Export for a campaign",
    of_whom: str = "members",
    caption: str = CONSENT_CAPTION,
) -> None:
    """Draw the export panel.

    Parameters
    ----------
    contact_list
        The list for a channel (called once the user picked one), usually a cached crm_core call.
    channels
        The channels offered, stored codes (``email``...); the first is chosen at the start.
    file_name
        The download's file name for a channel.
    key
        The prefix of the panel's widget keys (``{key}_channel``, ``{key}_download``).
    of_whom
        What the list is drawn from, as in "of 1,204 members".
    caption
        What the list holds; a note that personal data is masked is added when it is.
    """
    st.subheader(title)
    channel = st.segmented_control(
        "Channel", list(channels), default=channels[0], key=f"{key}_channel", format_func=labels.value_label
    )
    if channel is None:
        return
    export = contact_list(channel)
    left, right = st.columns([2, 3])
    left.metric(
        "Can be contacted",
        number(export.exported),
        f"of {formats.count(export.members)} {of_whom}",
        delta_color="off",
        delta_arrow="off",
    )
    table(
        export.excluded,
        ["reason", "customers"],
        container=right,
        labels_={"reason": labels.Column("Left out because", width="medium")},
    )
    st.download_button(
        f"Download the {labels.value_label(channel).lower()} list (CSV)",
        export.csv_bytes(),
        file_name=file_name(channel),
        mime="text/csv",
        key=f"{key}_download",
        icon=":material/download:",
        disabled=export.exported == 0,
    )
    st.caption(caption + (MASKED_CAPTION if masking_enabled() else ""))
