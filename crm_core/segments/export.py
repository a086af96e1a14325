"""The consent-aware export of a segment for one channel: the members who may be contacted, and how many were
left out and why."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_core import db, dialect, exports, privacy, rfm, schema
from crm_core.segments.compiler import needs_scores, prepare_rule
from crm_core.segments.rules import Rule

customers = schema.customers


EXPORT_CHANNELS = schema.CONSENT_CHANNELS

#: Why a member is left out of an export, in the order the reasons are checked (each member counts once).
EXCLUSION_REASONS = ("erased", "suppressed", "opted out", "no consent given", "no contact data")

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
        """The CSV of ``frame``, spreadsheet formulas neutralised (:func:`crm_core.exports.write_csv`)."""
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

    Consent, erasure and missing contact data are checked in SQL; the suppression list keeps only hashes
    (:mod:`crm_core.privacy`), so the members' addresses are hashed here and looked up in it. A suppression for the
    channel or for ``all`` applies, matched by email or by phone.

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
    consents = schema.consents
    with engine.connect() as conn:
        stale = needs_scores(rule) and not db.scores_current(conn)
        compiled = prepare_rule(conn, rule, as_of, cuts, bounds)
        consent = consents.alias("export_consent")
        contact = _CONTACT_COLUMN[channel]
        query = (
            sa.select(
                customers.c.id,
                customers.c.external_id.label("customer_id"),
                customers.c.first_name,
                customers.c.last_name,
                customers.c.email,
                customers.c.phone,
                customers.c.country,
                customers.c.city,
                sa.case((customers.c.erased_at.is_not(None), 1), else_=0).label("erased"),
                consent.c.status.label("consent"),
            )
            .select_from(
                compiled.from_clause.outerjoin(
                    consent,
                    sa.and_(
                        consent.c.customer_id == customers.c.id, consent.c.channel == sa.literal(channel, sa.String)
                    ),
                )
            )
            .where(compiled.where)
            .order_by(customers.c.id)
        )
        frame = dialect.read_frame(conn, query)
        reason = pd.Series(None, index=frame.index, dtype=object)
        reason[frame["erased"].astype(int) == 1] = "erased"
        candidates = reason.isna()
        suppressed = _suppressed(conn, frame.loc[candidates], channel)
        reason[candidates & suppressed.reindex(frame.index, fill_value=False)] = "suppressed"
        reason[reason.isna() & (frame["consent"] == "opt_out")] = "opted out"
        reason[reason.isna() & (frame["consent"] != "opt_in")] = "no consent given"
        if contact is not None:
            missing = frame[contact].isna() | (frame[contact].astype(str).str.strip() == "")
            reason[reason.isna() & missing] = "no contact data"
    counts = reason.value_counts()
    excluded = pd.DataFrame({"reason": list(EXCLUSION_REASONS)})
    excluded["customers"] = excluded["reason"].map(counts).fillna(0).astype("int64")
    kept = frame.loc[reason.isna(), EXPORT_COLUMNS[channel]].reset_index(drop=True)
    if mask:
        from crm_core import masking

        kept = masking.mask_frame(kept, {"customer_id": "id"})
    text = exports.write_csv(kept)
    assert text is not None
    return SegmentExport(channel, len(frame), kept, excluded, text, scores_stale=stale)


def _suppressed(conn: Connection, frame: pd.DataFrame, channel: str) -> pd.Series:
    """True for each row whose email or phone is on the suppression list for the channel or for all channels.

    Both contacts are checked whatever the channel: a person who asked not to be contacted is recognised by either.
    """
    suppressions = schema.suppressions
    matched = pd.Series(False, index=frame.index)
    if frame.empty:
        return matched
    applies = suppressions.c.channel.in_([channel, "all"])
    legacy = privacy.legacy_keys_in_use(conn)
    for column, hash_column, keys_of in (
        ("email", suppressions.c.email_hash, privacy.email_keys),
        ("phone", suppressions.c.phone_hash, privacy.phone_keys),
    ):
        # The list is one short hash per erased or opted-out person: read it whole and hash the candidates here.
        listed = {h for (h,) in conn.execute(sa.select(hash_column).where(applies, hash_column.is_not(None)))}
        if listed:
            keys = {v: keys_of(v, legacy=legacy) for v in frame[column].dropna().unique() if isinstance(v, str)}
            hit = {v for v, found in keys.items() if found & listed}
            matched |= frame[column].isin(hit)
    return matched
