"""The consent-aware export of a segment for one channel: the members who may be contacted, and how many were
left out and why."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy.engine import Engine

from crm_core import contact, db, dialect, rfm, safe_csv, schema
from crm_core.segments.compiler import needs_scores, prepare_rule
from crm_core.segments.rules import Rule

customers = schema.customers


EXPORT_CHANNELS = contact.CHANNELS

#: Why a member is left out of an export, in the order the reasons are checked (each member counts once): who may
#: be contacted at all (:data:`crm_core.contact.REASONS`), then whether there is an address or number to use.
EXCLUSION_REASONS = (*contact.REASONS, "no contact data")

_CONTACT_COLUMN = {"email": "email", "sms": "phone", "phone": "phone", "mail": None}
EXPORT_COLUMNS = {
    "email": ["customer_id", "first_name", "last_name", "email", "country", "city"],
    "sms": ["customer_id", "first_name", "last_name", "phone", "country", "city"],
    "phone": ["customer_id", "first_name", "last_name", "phone", "country", "city"],
    "mail": ["customer_id", "first_name", "last_name", "country", "city"],
}


@dataclass(frozen=True)
class SegmentExport:
    """A segment's members that may be contacted on one channel, and how many were left out and why.

    ``frame`` holds only customers with an ``opt_in`` consent for the channel who are neither erased nor on the
    suppression list (and, for email, SMS and phone, who have the address or number). ``excluded`` has one row per
    reason of :data:`EXCLUSION_REASONS`: ``reason``, ``customers``. ``scores_stale``: the rule selects by model
    outputs and the stored ones are for older data.
    """

    channel: str
    members: int
    frame: pd.DataFrame
    excluded: pd.DataFrame
    csv: str
    scores_stale: bool = False

    @property
    def exported(self) -> int:
        return len(self.frame)

    def csv_text(self) -> str:
        """The CSV of ``frame``, spreadsheet formulas neutralised (:func:`crm_core.safe_csv.write_csv`)."""
        return self.csv

    def csv_bytes(self) -> bytes:
        return self.csv.encode("utf-8")


def export_segment(
    engine: Engine,
    rule: Rule | str,
    channel: str,
    as_of: dt.date | str | None = None,
    cuts: rfm.RfmCuts | None = None,
    bounds: rfm.RfmBounds | None = None,
    mask: bool = False,
) -> SegmentExport:
    """The contact list of a segment for one channel: consented, never erased or suppressed.

    Who may be contacted is decided by :mod:`crm_core.contact` (erasure, the suppression list by email or phone
    for the channel or for ``all``, consent); a member who may be but has no address or number for the channel is
    left out as ``no contact data``.

    Parameters
    ----------
    mask
        Mask emails, phone numbers and surnames in the list (:mod:`crm_core.masking`), for demo deployments.

    Returns
    -------
    SegmentExport
        ``frame`` columns: :data:`EXPORT_COLUMNS` of the channel, ordered by customer id; ``csv`` its CSV text.
    """
    if channel not in EXPORT_CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: use one of {', '.join(EXPORT_CHANNELS)}")
    with engine.connect() as conn:
        stale = needs_scores(rule) and not db.scores_current(conn)
        compiled = prepare_rule(conn, rule, as_of, cuts, bounds)
        listed = (
            customers.c.external_id.label("customer_id"),
            customers.c.first_name,
            customers.c.last_name,
            customers.c.country,
            customers.c.city,
        )
        query = (
            contact.contact_select(compiled.from_clause, channel, *listed)
            .where(compiled.where)
            .order_by(customers.c.id)
        )
        frame = dialect.read_frame(conn, query)
        reason = contact.reasons(conn, frame)
    address = _CONTACT_COLUMN[channel]
    if address is not None:
        missing = frame[address].isna() | (frame[address].astype(str).str.strip() == "")
        reason[reason.isna() & missing] = "no contact data"
    counts = reason.value_counts()
    excluded = pd.DataFrame({"reason": list(EXCLUSION_REASONS)})
    excluded["customers"] = excluded["reason"].map(counts).fillna(0).astype("int64")
    kept = frame.loc[reason.isna(), EXPORT_COLUMNS[channel]].reset_index(drop=True)
    if mask:
        from crm_core import masking

        kept = masking.mask_frame(kept, {"customer_id": "id"})
    text = safe_csv.write_csv(kept)
    assert text is not None
    return SegmentExport(channel, len(frame), kept, excluded, text, scores_stale=stale)
