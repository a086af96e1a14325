"""The profile itself: :class:`CustomerProfile`, everything the company knows about one customer, assembled by
:func:`customer_profile` from the point queries of the other modules on two connections, and written as plain text
(:meth:`CustomerProfile.describe`, the CLI's ``customer`` command) or JSON-able values."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from crm_core import dialect, labels, masking
from crm_core.plain import json_records, json_value
from crm_core.profiles.campaigns_received import read_campaigns
from crm_core.profiles.contact_pressure import ContactLimits, contact_warnings, read_contact_pressure
from crm_core.profiles.customer_rfm import CustomerRfm, customer_rfm
from crm_core.profiles.feedback import FeedbackSummary, read_feedback, read_feedback_summary
from crm_core.profiles.identity import Identity, read_attributes, read_consents, read_customer
from crm_core.profiles.key_figures import KeyFigures, read_key_figures
from crm_core.profiles.offers import next_best_offers
from crm_core.profiles.orders import bought_categories, favourites, read_order_lines, read_orders
from crm_core.profiles.predictions import Predictions, read_predictions
from crm_core.profiles.reading import float_or_none
from crm_core.profiles.reference import ProfileReference, profile_reference
from crm_core.profiles.timeline import TIMELINE_PAGE_SIZE, TimelinePage, read_timeline_facets, read_timeline_page
from crm_core.purchases import default_as_of


@dataclass(frozen=True)
class CustomerProfile:
    """Everything about one customer (see :func:`customer_profile` for each part's columns)."""

    customer_id: int
    as_of: dt.date
    identity: Identity
    attributes: pd.DataFrame
    consents: pd.DataFrame
    key_figures: KeyFigures
    rfm: CustomerRfm | None
    predictions: Predictions | None
    timeline: TimelinePage
    timeline_channels: tuple[str, ...]
    timeline_types: tuple[str, ...]
    orders: pd.DataFrame
    orders_total: int
    order_lines: pd.DataFrame
    favourite_categories: pd.DataFrame
    favourite_brands: pd.DataFrame
    offers: pd.DataFrame
    campaigns: pd.DataFrame
    feedback: pd.DataFrame
    feedback_summary: FeedbackSummary
    contact_pressure: pd.DataFrame
    masked_pii: bool = False

    @property
    def external_id(self) -> str:
        return self.identity.external_id

    def masked(self) -> CustomerProfile:
        """The same profile with emails, phones and surnames masked, in the identity and in every free text."""
        if self.masked_pii:
            return self
        own = [self.identity.last_name] if self.identity.last_name else []  # their surname in their own texts
        return dataclasses.replace(
            self,
            identity=self.identity.masked(),
            attributes=masking.mask_frame(self.attributes, {"value": "text"}, surnames=own),
            timeline=dataclasses.replace(self.timeline, frame=masking.mask_frame(self.timeline.frame, surnames=own)),
            feedback=masking.mask_frame(self.feedback, surnames=own),
            feedback_summary=dataclasses.replace(
                self.feedback_summary,
                mentions=masking.mask_frame(self.feedback_summary.mentions, {"value": "text"}, surnames=own),
            ),
            masked_pii=True,
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (the CLI's ``--json``)."""

        def plain(obj: Any) -> Any:
            return {k: json_value(v) for k, v in dataclasses.asdict(obj).items()}

        summary = {k: json_value(v) for k, v in dataclasses.asdict(self.feedback_summary).items() if k != "mentions"}
        return {
            "customer_id": self.external_id,
            "as_of": self.as_of.isoformat(),
            "masked": self.masked_pii,
            "identity": {**plain(self.identity), "name": self.identity.name},
            "attributes": json_records(self.attributes),
            "consents": json_records(self.consents),
            "key_figures": plain(self.key_figures),
            "rfm": None if self.rfm is None else {**plain(self.rfm), "cell": self.rfm.cell},
            "predictions": None if self.predictions is None else plain(self.predictions),
            "timeline": {
                "total": self.timeline.total,
                "page": self.timeline.page,
                "page_size": self.timeline.page_size,
                "events": json_records(self.timeline.frame),
            },
            "orders": {"total": self.orders_total, "newest": json_records(self.orders)},
            "favourite_categories": json_records(self.favourite_categories),
            "favourite_brands": json_records(self.favourite_brands),
            "next_best_offers": json_records(self.offers),
            "campaigns": json_records(self.campaigns),
            "feedback": {
                "summary": {**summary, "latest_nps_group": self.feedback_summary.latest_nps_group},
                "mentions": json_records(self.feedback_summary.mentions),
                "entries": json_records(self.feedback),
            },
            "contact_pressure": json_records(self.contact_pressure),
        }

    def describe(self, limits: ContactLimits | None = None) -> str:
        """The profile as plain text (the CLI's ``customer`` command), stored codes in the words of
        :mod:`crm_core.labels` as the pages write them."""
        who, k = self.identity, self.key_figures
        lines = [f"{who.name} ({who.external_id})" + "".join(f" · {p}" for p in (who.city, who.country) if p)]
        if who.is_erased:
            lines.append(f"ERASED on {_day(who.erased_at)}: personal data anonymised, never contacted again")
        lines.append(
            f"email {who.email or '-'} · phone {who.phone or '-'} · born {_day(who.birth_date)} · "
            f"customer since {_day(who.created_at)} · acquired via {labels.value_label(who.acquisition_channel) or '-'}"
        )
        consent = [
            f"{labels.value_label(row.channel)} {labels.value_label(row.status).lower()}"
            + (" (suppressed)" if row.suppressed else "")
            for row in self.consents.itertuples()
        ]
        lines.append("consent: " + ", ".join(consent))
        lines += ["", f"as of {self.as_of}:"]
        aov = "-" if k.average_order_value is None else f"{k.average_order_value:,.2f}"
        lines.append(
            f"  spend {k.total_spend:,.2f} · {k.purchases} orders · AOV {aov} · first {_day(k.first_purchase)} · "
            f"last {_day(k.last_purchase)} · tenure {k.tenure_days if k.tenure_days is not None else '-'} days · "
            f"{k.returns} returns ({k.returned_amount:,.2f}) · {k.cancellations} cancelled"
        )
        if self.rfm is None:
            lines.append("  RFM: no purchase yet")
        else:
            r = self.rfm
            lines.append(f"  RFM: {r.segment} (R{r.r_score} F{r.f_score} M{r.m_score}) - {r.meaning} {r.action}")
        p = self.predictions
        if p is None:
            lines.append("  predictions: not scored")
        else:
            clv_text = p.clv_text() or _num(p.clv, ",.2f")
            purchases = p.purchases_text() or _num(p.expected_purchases_90d, ".2f")
            lines.append(
                f"  predictions: CLV {clv_text} · P(alive) {_num(p.p_alive, '.0%')} · "
                f"next 90 days {purchases} "
                f"(P(at least one) {_num(p.prob_purchase_90d, '.0%')}) · churn risk {p.churn_risk or '-'}"
                + (" · computed before the latest data" if p.stale else "")
            )
        for label, frame, key in (
            ("favourite categories", self.favourite_categories, "category"),
            ("favourite brands", self.favourite_brands, "brand"),
        ):
            shown = ", ".join(f"{row[key]} {row['share']:.0%}" for _, row in frame.iterrows())
            lines.append(f"  {label}: {shown or '-'}")
        lines += ["", "next-best offer:"] + [f"  {o.category}: {o.reason}" for o in self.offers.itertuples()]
        if self.offers.empty:
            lines.append("  -")
        lines += ["", f"campaigns ({len(self.campaigns)}):"]
        for c in self.campaigns.itertuples():
            flags = [name for name in ("opened", "clicked", "converted") if _yes(getattr(c, name))]
            role = "control" if _yes(c.is_control) else f"arm {c.arm}"
            revenue = "" if _blank(c.revenue) else f", revenue {float_or_none(c.revenue):,.2f}"
            lines.append(f"  {c.start_date} {c.campaign} ({role}): {', '.join(flags) or 'no response'}{revenue}")
        s = self.feedback_summary
        lines += [
            "",
            f"feedback: {s.entries} entries · NPS latest {_num(s.latest_nps, '.0f')} average "
            f"{_num(s.average_nps, '.1f')} ({s.surveys} surveys) · reviews {_num(s.average_review, '.1f')}/5 "
            f"({s.reviews}) · {s.complaints} complaints",
        ]
        lines += [f"  {m.mention}: {m.value} ({m.times}x)" for m in s.mentions.itertuples()]
        contacts = ", ".join(
            f"{labels.value_label(r.channel)} {r.last_30_days}/{r.last_90_days}"
            for r in self.contact_pressure.itertuples()
        )
        lines += ["", f"contacts in the last 30/90 days: {contacts or 'none'}"]
        lines += [f"  WARNING: {w}" for w in contact_warnings(self.contact_pressure, limits)]
        t = self.timeline
        lines += ["", f"timeline (newest {len(t.frame)} of {t.total}):"]
        for e in t.frame.itertuples():
            what = " · ".join(
                labels.value_label(v)
                for v in (e.channel, e.direction, e.type, e.subject, e.outcome)
                if isinstance(v, str) and v
            )
            extra = "" if _blank(e.amount) else f" · {float_or_none(e.amount):,.2f}"
            extra += "" if _blank(e.score) else f" · score {float_or_none(e.score):.0f}"
            lines.append(f"  {e.occurred_at:%Y-%m-%d %H:%M}  {labels.value_label(e.source):<8} {what}{extra}")
        return "\n".join(lines)


def _blank(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _yes(value: Any) -> bool:
    """A recorded outcome flag that is true (NULL - not recorded - is not)."""
    return not _blank(value) and bool(value)


def _day(value: Any) -> str:
    return "-" if value is None or value is pd.NaT else f"{pd.Timestamp(value):%Y-%m-%d}"


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def customer_profile(
    engine: Engine,
    customer_id: str | int,
    as_of: dt.date | str | None = None,
    *,
    reference: ProfileReference | None = None,
    timeline_page_size: int = TIMELINE_PAGE_SIZE,
    mask: bool = False,
) -> CustomerProfile:
    """Everything the company knows about one customer.

    Parameters
    ----------
    customer_id
        The customer's id as in import files and links (``"C0000042"``, text); an ``int`` is the internal key.
    as_of
        The as-of date of key figures, RFM and contact pressure; by default the reference's, else the day after the
        last order.
    reference
        The population reference (:func:`profile_reference`) for this as-of date; computed here when not given,
        which costs a pass over all purchases.
    timeline_page_size
        Events on the timeline's first page; later pages come from :func:`customer_timeline`.
    mask
        Mask emails, phones and surnames (:meth:`CustomerProfile.masked`).

    Returns
    -------
    CustomerProfile
        - ``identity`` (:class:`Identity`), ``attributes`` (``name``, ``value``);
        - ``consents``: one row per consent channel: ``channel``, ``status`` (opt_in / opt_out / "no statement"),
          ``changed_at``, ``source``, ``suppressed`` (left out there by the suppression list), ``contactable``
          (may be contacted there: :mod:`crm_core.contact`, the one rule of exports and segments);
        - ``key_figures`` (:class:`KeyFigures`), ``rfm`` (:class:`CustomerRfm`, None without purchases),
          ``predictions`` (:class:`Predictions`, None before the models scored anyone or for a non-buyer);
        - ``timeline`` (:class:`TimelinePage`, see :func:`customer_timeline`), ``timeline_channels`` and
          ``timeline_types`` (the filter choices this customer's events offer);
        - ``orders``: the newest :data:`ORDER_LIMIT`: ``order_id``, ``external_id``, ``ordered_at``, ``channel``,
          ``status``, ``amount``, ``items`` (quantity), ``products`` (in words); ``orders_total`` of all;
        - ``order_lines``: every line of the customer's orders: ``order_id``, ``order_ref``, ``ordered_at``,
          ``status``, ``product``, ``category``, ``brand``, ``quantity``, ``unit_price``, ``line_amount``;
        - ``favourite_categories`` / ``favourite_brands``: ``category`` / ``brand``, ``orders``, ``items``,
          ``revenue``, ``share`` (of the customer's spend), top :data:`FAVOURITES` by revenue;
        - ``offers``: :func:`next_best_offers`;
        - ``campaigns``: ``campaign``, ``channel``, ``start_date``, ``arm``, ``is_control``, ``sent_at``,
          ``delivered``, ``opened``, ``clicked``, ``converted``, ``revenue`` (outcomes NULL = not recorded);
        - ``feedback``: newest :data:`FEEDBACK_LIMIT`: ``created_at``, ``kind``, ``score``, ``competitor_brand``,
          ``reason``, ``text``; ``feedback_summary`` (:class:`FeedbackSummary`, ``mentions``: ``mention``
          (competitor / reason for not buying / complaint), ``value``, ``times``, ``last_at``);
        - ``contact_pressure``: per channel with outbound contacts in the last 90 days: ``channel``,
          ``last_30_days``, ``last_90_days``.

    Raises
    ------
    CustomerNotFound
        When no customer has that id.
    """
    if timeline_page_size < 1:
        raise ValueError(f"timeline_page_size must be at least 1, got {timeline_page_size}")
    with engine.connect() as conn:
        cid, identity = read_customer(conn, customer_id)
        if as_of is not None:
            day = dialect.to_date(as_of)
        elif reference is not None:
            day = reference.as_of
        else:
            day = default_as_of(conn)
    assert day is not None
    if reference is None:
        reference = profile_reference(engine, day)
    elif reference.as_of != day:
        raise ValueError(f"the reference is for {reference.as_of}, the profile for {day}")
    # The timeline and the feedback are read on a second connection while this one reads the rest: the parts are
    # independent, and every engine answers two connections at once.
    with ThreadPoolExecutor(max_workers=1) as worker:
        contacts_future = worker.submit(_contacts, engine, cid, timeline_page_size)
        with engine.connect() as conn:
            figures = read_key_figures(conn, cid, day, identity)
            lines = read_order_lines(conn, cid)
            order_list = read_orders(conn, cid, lines)
            attributes = read_attributes(conn, cid)
            consents = read_consents(conn, cid)
            predictions = read_predictions(conn, cid)
            campaigns = read_campaigns(conn, cid)
            pressure = read_contact_pressure(conn, cid, day)
        contacts = contacts_future.result()
    profile = CustomerProfile(
        customer_id=cid,
        as_of=day,
        identity=identity,
        attributes=attributes,
        consents=consents,
        key_figures=figures,
        rfm=customer_rfm(reference, cid, figures),
        predictions=predictions,
        timeline=contacts.timeline,
        timeline_channels=contacts.channels,
        timeline_types=contacts.types,
        orders=order_list[0],
        orders_total=order_list[1],
        order_lines=lines,
        favourite_categories=favourites(lines, "category", day),
        favourite_brands=favourites(lines, "brand", day),
        offers=next_best_offers(reference, bought_categories(lines, day)),
        campaigns=campaigns,
        feedback=contacts.feedback,
        feedback_summary=contacts.feedback_summary,
        contact_pressure=pressure,
    )
    return profile.masked() if mask else profile


@dataclass(frozen=True)
class _Contacts:
    timeline: TimelinePage
    channels: tuple[str, ...]
    types: tuple[str, ...]
    feedback: pd.DataFrame
    feedback_summary: FeedbackSummary


def _contacts(engine: Engine, cid: int, timeline_page_size: int) -> _Contacts:
    """The timeline and the feedback of a profile, read on a connection of their own."""
    with engine.connect() as conn:
        channels, types = read_timeline_facets(conn, cid)
        entries = read_feedback(conn, cid)
        return _Contacts(
            timeline=read_timeline_page(conn, cid, (), (), 0, timeline_page_size),
            channels=channels,
            types=types,
            feedback=entries,
            feedback_summary=read_feedback_summary(conn, cid, entries),
        )
