"""Who the customer is and whether they may be contacted: the ``customers`` row, their free attributes, and consent
per channel with whether each channel may be used (:mod:`crm_core.contact`, the one rule of exports and segments)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm_core import contact, dialect, masking, schema
from crm_core.profiles.reading import float_or_none, timestamp_or_none, typed_frame

customers = schema.customers
consents = schema.consents

#: The consent status of a channel the customer said nothing about.
NO_STATEMENT = "no statement"


class CustomerNotFound(LookupError):
    """No customer has the id asked for."""

    def __init__(self, customer: str | int) -> None:
        self.customer = customer
        super().__init__(f"There is no customer with id {customer!r}.")


@dataclass(frozen=True)
class Identity:
    """Who the customer is: the ``customers`` row."""

    external_id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    city: str | None
    country: str | None
    birth_date: dt.date | None
    gender: str | None
    created_at: pd.Timestamp | None
    acquisition_channel: str | None
    acquisition_cost: float | None
    erased_at: pd.Timestamp | None

    @property
    def name(self) -> str:
        """First and last name, or the customer id when neither is known."""
        parts = [p for p in (self.first_name, self.last_name) if p]
        return " ".join(parts) if parts else self.external_id

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    def masked(self) -> Identity:
        return dataclasses.replace(
            self,
            last_name=masking.mask_surname(self.last_name),
            email=masking.mask_email(self.email),
            phone=masking.mask_phone(self.phone),
        )


def read_customer(conn: Connection, customer: str | int) -> tuple[int, Identity]:
    """The customer's internal id and identity, found by external id (text) or internal id (int)."""
    if isinstance(customer, bool) or not isinstance(customer, str | int | np.integer):
        raise TypeError(f"a customer id is text (the external id) or an int (the internal id), not {customer!r}")
    key = customers.c.external_id == customer if isinstance(customer, str) else customers.c.id == int(customer)
    row = conn.execute(sa.select(customers).where(key)).mappings().first()
    if row is None:
        raise CustomerNotFound(customer)
    identity = Identity(
        external_id=str(row["external_id"]),
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        phone=row["phone"],
        city=row["city"],
        country=row["country"],
        birth_date=dialect.to_date(row["birth_date"]),
        gender=row["gender"],
        created_at=timestamp_or_none(row["created_at"]),
        acquisition_channel=row["acquisition_channel"],
        acquisition_cost=float_or_none(row["acquisition_cost"]),
        erased_at=timestamp_or_none(row["erased_at"]),
    )
    return int(row["id"]), identity


def read_attributes(conn: Connection, cid: int) -> pd.DataFrame:
    """The customer's free attributes: ``name``, ``value``, by name."""
    attrs = schema.customer_attributes
    query = sa.select(attrs.c.name, attrs.c.value).where(attrs.c.customer_id == cid).order_by(attrs.c.name)
    return typed_frame(conn, query)


def read_consents(conn: Connection, cid: int) -> pd.DataFrame:
    """One row per consent channel: ``channel``, ``status``, ``changed_at``, ``source``, ``suppressed``,
    ``contactable`` (see :func:`crm_core.profiles.profile.customer_profile`)."""
    query = sa.select(consents.c.channel, consents.c.status, consents.c.changed_at, consents.c.source).where(
        consents.c.customer_id == cid
    )
    stated = typed_frame(conn, query, dates=["changed_at"])
    channels = list(schema.CONSENT_CHANNELS) + sorted(set(stated["channel"]) - set(schema.CONSENT_CHANNELS))
    frame = pd.DataFrame({"channel": channels}).merge(stated, on="channel", how="left")
    frame["status"] = frame["status"].fillna(NO_STATEMENT)
    frame["changed_at"] = frame["changed_at"].astype("datetime64[ns]")
    reason = contact.person_reasons(conn, cid)
    frame["suppressed"] = frame["channel"].map(reason) == "suppressed"
    frame["contactable"] = [channel in reason and reason[channel] is None for channel in frame["channel"]]
    return frame[["channel", "status", "changed_at", "source", "suppressed", "contactable"]]
