"""Platform presets: the exports of shops, e-mail tools and CRMs read as they are.

A preset is recognised from a file's header (:func:`recognise`), or named (:func:`preset_named`), and turns the
platform's columns into import fields (:func:`prepare`): here a Shopify order line becomes an order line, a
Mailchimp "unsubscribed" file becomes e-mail consent ``opt_out`` dated by its ``UNSUB_TIME``. What the preset
does not use is ignored (order exports) or kept as a customer attribute (contact exports), and said as a warning.

Rules shared by every preset:

- **Who is who**: a person is their e-mail, else their phone, else ``<platform>:<platform id>``; platform ids are
  not shared between platforms, so they are kept as attributes (contact exports) rather than as the customer id.
- **Revenue**: only paid orders are ``completed``; pending (not yet paid) orders are ``pending``, voided and
  cancelled ones ``cancelled``, fully refunded ones ``returned`` — none of them revenue. The amount is the
  platform's order total (after discounts, with shipping and taxes) minus what was refunded.
- **Consent** is written for a channel only when the person has an address there, dated by the platform where it
  says when, with the preset as its source.
- A leading apostrophe that a platform puts before a number or a ``+`` to protect it from spreadsheets is not
  part of the value.

One module: most of its length is the presets themselves, a table per platform read by the same few functions;
a new platform is a new entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crm_core.imports.fields import FIELDS, norm_key
from crm_core.imports.reading import Cells, RawFile
from crm_core.imports.results import Problem, warning

#: What a preset's reading returns: for each output column its target (an import field, or an attribute's name for
#: contact exports), and the text values.
Get = Callable[[str], pd.Series]


@dataclass
class _Out:
    """The columns a preset derives: ``label -> (target, values)``; a label names the file's column (or columns)
    the values come from, so that a problem names what the user can find in their file."""

    columns: dict[str, tuple[str, pd.Series]] = field(default_factory=dict)
    warnings: list[tuple[np.ndarray, str, str]] = field(default_factory=list)

    def put(self, target: str, label: str, values: pd.Series) -> None:
        if values.notna().any():
            self.columns[label] = (target, values)

    def warn(self, mask: pd.Series, column: str, reason: str) -> None:
        if mask.any():
            self.warnings.append((mask.to_numpy(dtype=bool), column, reason))


@dataclass(frozen=True)
class Preset:
    """One platform's export.

    Attributes
    ----------
    name
        What ``--preset`` takes (``shopify-orders``).
    label
        What the import says ("Shopify orders export").
    kind
        The import kind it feeds.
    required
        Headers that must all be present to recognise the file.
    any_of
        At least one of these must be present too (empty: no such condition).
    forbidden
        None of these may be present.
    read
        Reads the file's columns (``get(column)``: stripped text, NaN when empty or absent) into the outputs.
    uses
        The columns the preset reads (a column starting with one of ``use_prefixes`` too).
    keeps_unknown
        Contact exports: a column the preset does not know becomes a customer attribute (its name as written);
        order exports ignore it. ``ignores`` lists the known columns that are never kept.
    revenue, becomes
        In words, for ``--list-presets`` and the README: what counts as revenue; what becomes what.
    """

    name: str
    label: str
    kind: str
    required: tuple[str, ...]
    read: Callable[[Get, set[str]], _Out]
    uses: tuple[str, ...]
    any_of: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    use_prefixes: tuple[str, ...] = ()
    keeps_unknown: bool = False
    ignores: tuple[str, ...] = ()
    revenue: str = "no orders"
    becomes: str = ""

    def matches(self, header: Iterable[str]) -> bool:
        names = {norm_key(h) for h in header}
        return (
            all(norm_key(h) in names for h in self.required)
            and (not self.any_of or any(norm_key(h) in names for h in self.any_of))
            and not any(norm_key(h) in names for h in self.forbidden)
        )

    def is_used(self, column: str) -> bool:
        return norm_key(column) in {norm_key(u) for u in self.uses} or column.startswith(self.use_prefixes)

    def proposed_mapping(self, header: Sequence[str]) -> dict[str, str]:
        """``{file column: field}`` for the columns the preset reads one to one (what the Data page proposes)."""
        names = {norm_key(h): h for h in header}
        return {names[norm_key(c)]: f for c, f in self.direct.items() if norm_key(c) in names}

    @property
    def direct(self) -> dict[str, str]:
        """The columns read as they are into a field: ``{column: field}``."""
        return _DIRECT.get(self.name, {})


# --- value helpers ------------------------------------------------------------------------------------------------


def _first(*values: pd.Series) -> pd.Series:
    """The first non-empty value of each row."""
    out = values[0]
    for more in values[1:]:
        out = out.where(out.notna(), more)
    return out


def _unquote(values: pd.Series) -> pd.Series:
    """Without the apostrophe a platform writes before numbers and ``+`` to protect them from spreadsheets."""
    stripped = values.str.replace(r"^'", "", regex=True).str.strip()
    return stripped.where(stripped != "")


def _number(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce")


def _money(values: pd.Series) -> pd.Series:
    return values.map(lambda v: f"{v:.2f}", na_action="ignore").astype(object)


def _const(like: pd.Series, value: str) -> pd.Series:
    return pd.Series(value, index=like.index, dtype=object)


def _when(mask: pd.Series, values: pd.Series) -> pd.Series:
    return values.where(mask.to_numpy(dtype=bool))


def _lookup(values: pd.Series, table: dict[str, str]) -> pd.Series:
    """Each value through ``table`` (compared case-insensitively); a value it lacks stays as written."""
    return values.map(lambda v: table.get(str(v).strip().lower(), v), na_action="ignore")


def _identity(out: _Out, get: Get, platform: str, id_column: str, email: pd.Series, phone: pd.Series) -> None:
    """The platform's id becomes the customer id only when the row has neither e-mail nor phone."""
    ids = _unquote(get(id_column))
    anonymous = email.isna() & phone.isna()
    out.put("customer_id", id_column, _when(anonymous & ids.notna(), _prefixed(platform, ids)))


def _prefixed(platform: str, ids: pd.Series) -> pd.Series:
    return ids.map(lambda v: f"{platform}:{v}", na_action="ignore")


def _split_name(full: pd.Series) -> tuple[pd.Series, pd.Series]:
    parts = full.str.split(" ", n=1)
    first = parts.str[0]
    last = parts.str[1].str.strip()
    return first.where(first != ""), last.where(last != "")


# --- Shopify ------------------------------------------------------------------------------------------------------

_SHOPIFY_FINANCIAL = {
    "paid": "completed",
    "partially_refunded": "completed",
    "refunded": "returned",
    "voided": "cancelled",
    "expired": "cancelled",
    "pending": "pending",
    "authorized": "pending",
    "partially_paid": "pending",
}


def _shopify_orders(get: Get, header: set[str]) -> _Out:
    out = _Out()
    email = get("Email")
    phone = _first(_unquote(get("Phone")), _unquote(get("Billing Phone")), _unquote(get("Shipping Phone")))
    out.put("order_id", "Name", get("Name"))
    out.put("email", "Email", email)
    out.put("phone", "Phone (else Billing Phone, Shipping Phone)", phone)
    first, last = _split_name(_first(get("Billing Name"), get("Shipping Name")))
    out.put("first_name", "Billing Name (first word)", first)
    out.put("last_name", "Billing Name (the rest)", last)
    out.put("city", "Billing City (else Shipping City)", _first(get("Billing City"), get("Shipping City")))
    out.put(
        "country", "Billing Country (else Shipping Country)", _first(get("Billing Country"), get("Shipping Country"))
    )
    out.put("ordered_at", "Created at", get("Created at"))
    financial = get("Financial Status")
    status = _lookup(financial, _SHOPIFY_FINANCIAL)
    status = status.where(get("Cancelled at").isna() | financial.isna(), "cancelled")
    out.put("status", "Financial Status, Cancelled at", status)
    total = _number(get("Total"))
    refunded = _number(get("Refunded Amount")).fillna(0.0)
    out.put("amount", "Total - Refunded Amount", _money((total - refunded).where(total.notna())))
    source = get("Source")
    channel = source.map(lambda v: {"web": "web", "pos": "store"}.get(str(v).lower(), "app"), na_action="ignore")
    out.put("channel", "Source", channel)
    out.put("consent_email", "Accepts Marketing", _when(email.notna(), get("Accepts Marketing")))
    out.put("product_id", "Lineitem sku", get("Lineitem sku"))
    out.put("product_name", "Lineitem name", get("Lineitem name"))
    out.put("brand", "Vendor", get("Vendor"))
    out.put("quantity", "Lineitem quantity", get("Lineitem quantity"))
    out.put("unit_price", "Lineitem price", get("Lineitem price"))
    out.put("consent_source", "(preset)", _when(email.notna(), _const(email, "Shopify orders: Accepts Marketing")))
    _one_currency(out, get("Currency"))
    return out


def _one_currency(out: _Out, currency: pd.Series) -> None:
    found = currency.dropna().unique()
    if len(found) > 1:
        out.warn(currency.notna(), "Currency", f"amounts in {len(found)} currencies imported without conversion")


def _shopify_customers(get: Get, header: set[str]) -> _Out:
    out = _Out()
    email = get("Email")
    sms_phone = _unquote(get("Phone"))
    phone = _first(sms_phone, _unquote(get("Default Address Phone")))
    _identity(out, get, "shopify", "Customer ID", email, phone)
    out.put("first_name", "First Name", get("First Name"))
    out.put("last_name", "Last Name", get("Last Name"))
    out.put("email", "Email", email)
    out.put("phone", "Phone (else Default Address Phone)", phone)
    out.put("city", "Default Address City", _first(get("Default Address City"), get("City")))
    out.put("country", "Default Address Country Code", _first(get("Default Address Country Code"), get("Country Code")))
    consent = _first(get("Accepts Email Marketing"), get("Accepts Marketing"))
    out.put("consent_email", "Accepts Email Marketing", _when(email.notna(), consent))
    out.put("consent_sms", "Accepts SMS Marketing", _when(sms_phone.notna(), get("Accepts SMS Marketing")))
    out.put("consent_source", "(preset)", _const(email, "Shopify customers export"))
    out.put("shopify_customer_id", "shopify_customer_id", _unquote(get("Customer ID")))
    out.put("tags", "tags", get("Tags"))
    return out


# --- WooCommerce --------------------------------------------------------------------------------------------------

_WOOCOMMERCE_STATUS = {
    "completed": "completed",
    "processing": "completed",
    "on-hold": "pending",
    "pending": "pending",
    "cancelled": "cancelled",
    "failed": "cancelled",
    "refunded": "returned",
}


def _woocommerce_orders(get: Get, header: set[str]) -> _Out:
    out = _Out()
    email = get("billing_email")
    phone = _unquote(get("billing_phone"))
    out.put("order_id", "order_id", get("order_id"))
    out.put("ordered_at", "order_date", get("order_date"))
    status = get("status").str.replace(r"^wc-", "", regex=True)
    out.put("status", "status", _lookup(status, _WOOCOMMERCE_STATUS))
    total = _number(get("order_total"))
    refunded = _number(get("refunded_total")).fillna(0.0)
    out.put("amount", "order_total - refunded_total", _money((total - refunded).where(total.notna())))
    user = _unquote(get("customer_id"))
    anonymous = email.isna() & phone.isna() & (user.fillna("0") != "0")
    out.put("customer_id", "customer_id", _when(anonymous, _prefixed("woocommerce", user)))
    out.put("email", "billing_email", email)
    out.put("phone", "billing_phone", phone)
    out.put("first_name", "billing_first_name", _first(get("billing_first_name"), get("shipping_first_name")))
    out.put("last_name", "billing_last_name", _first(get("billing_last_name"), get("shipping_last_name")))
    out.put("city", "billing_city", _first(get("billing_city"), get("shipping_city")))
    out.put("country", "billing_country", _first(get("billing_country"), get("shipping_country")))
    sku = get("item_sku")
    deleted = sku.str.lower() == "unknown_product"
    out.warn(deleted.fillna(False), "item_sku", "lines of deleted products (SKU unknown_product) identified by name")
    out.put("product_id", "item_sku", sku.where(~deleted.fillna(False)))
    out.put("product_name", "item_name", get("item_name"))
    out.put("quantity", "item_quantity", get("item_quantity"))
    out.put("unit_price", "item_price", get("item_price"))
    _one_currency(out, get("order_currency"))
    return out


# --- Mailchimp ----------------------------------------------------------------------------------------------------


def _mailchimp(status: str, source: str, date_columns: tuple[str, ...]) -> Callable[[Get, set[str]], _Out]:
    def read(get: Get, header: set[str]) -> _Out:
        out = _Out()
        email = get("Email Address")
        out.put("email", "Email Address", email)
        out.put("first_name", "First Name", get("First Name"))
        out.put("last_name", "Last Name", get("Last Name"))
        out.put("phone", "Phone Number", get("Phone Number"))
        out.put("created_at", "OPTIN_TIME (else CONFIRM_TIME)", _first(get("OPTIN_TIME"), get("CONFIRM_TIME")))
        out.put("consent_email", "(the file's status)", _when(email.notna(), _const(email, status)))
        changed = _first(*(get(c) for c in date_columns))
        out.put("consent_email_at", " (else ".join(date_columns) + ")" * (len(date_columns) - 1), changed)
        out.put("consent_source", "(preset)", _const(email, source))
        out.put("birthday", "birthday", get("Birthday"))
        out.put("mailchimp_member_rating", "mailchimp_member_rating", get("MEMBER_RATING"))
        out.put("mailchimp_leid", "mailchimp_leid", get("LEID"))
        out.put("mailchimp_unsub_reason", "mailchimp_unsub_reason", get("UNSUB_REASON"))
        tags = get("TAGS").str.replace(r'^"|"$', "", regex=True).str.replace('","', ", ", regex=False)
        out.put("tags", "tags", tags)
        return out

    return read


_MAILCHIMP_COMMON = (
    "Email Address",
    "First Name",
    "Last Name",
    "Phone Number",
    "Birthday",
    "MEMBER_RATING",
    "OPTIN_TIME",
    "CONFIRM_TIME",
    "LEID",
    "TAGS",
)
_MAILCHIMP_IGNORED = (
    "Address",
    "OPTIN_IP",
    "CONFIRM_IP",
    "LATITUDE",
    "LONGITUDE",
    "GMTOFF",
    "DSTOFF",
    "TIMEZONE",
    "CC",
    "REGION",
    "EUID",
    "NOTES",
    "UNSUB_CAMPAIGN_TITLE",
    "UNSUB_CAMPAIGN_ID",
    "UNSUB_REASON_OTHER",
    "CLEAN_CAMPAIGN_TITLE",
    "CLEAN_CAMPAIGN_ID",
)

# --- HubSpot ------------------------------------------------------------------------------------------------------

_HUBSPOT_OPT_OUT = "Opted out of email:"
_HUBSPOT_LEGAL_BASIS = "Legal basis for processing contact's data"


def _hubspot_contacts(get: Get, header: set[str]) -> _Out:
    out = _Out()
    email = get("Email")
    phone = _first(get("Phone Number"), get("Mobile Phone Number"))
    _identity(out, get, "hubspot", "Record ID", email, phone)
    out.put("first_name", "First Name", get("First Name"))
    out.put("last_name", "Last Name", get("Last Name"))
    out.put("email", "Email", email)
    out.put("phone", "Phone Number (else Mobile Phone Number)", phone)
    out.put("city", "City", get("City"))
    out.put("country", "Country/Region", get("Country/Region"))
    out.put("created_at", "Create Date", get("Create Date"))
    # The first rule that applies: unsubscribed from all, opted out of a subscription type, consent as legal basis.
    unsubscribed = get("Unsubscribed from all email").str.lower() == "true"
    opted_out = pd.Series(False, index=email.index)
    for column in sorted(h for h in header if h.startswith(_HUBSPOT_OPT_OUT)):
        opted_out |= (get(column).str.lower() == "true").fillna(False)
    consented = get(_HUBSPOT_LEGAL_BASIS).str.contains("Freely given consent from contact", regex=False)
    consent = pd.Series(
        np.select(
            [
                (opted_out | unsubscribed.fillna(False)).to_numpy(dtype=bool),
                consented.fillna(False).to_numpy(dtype=bool),
            ],
            ["opt_out", "opt_in"],
            "",
        ),
        index=email.index,
        dtype=object,
    )
    consent = consent.where(consent != "")
    label = f"Unsubscribed from all email, {_HUBSPOT_OPT_OUT} ..., {_HUBSPOT_LEGAL_BASIS}"
    out.put("consent_email", label, _when(email.notna(), consent))
    out.put("consent_source", "(preset)", _const(email, "HubSpot contacts export"))
    for target, column in (
        ("hubspot_record_id", "Record ID"),
        ("marketing_contact_status", "Marketing contact status"),
        ("lifecycle_stage", "Lifecycle Stage"),
        ("lead_status", "Lead Status"),
        ("company", "Associated Company"),
        ("locale", "Preferred language"),
    ):
        out.put(target, target, get(column))
    return out


# --- Klaviyo ------------------------------------------------------------------------------------------------------

_KLAVIYO_CONSENT = {"subscribed": "opt_in", "unsubscribed": "opt_out"}


def _klaviyo_profiles(get: Get, header: set[str]) -> _Out:
    out = _Out()
    email = get("Email")
    phone = get("Phone Number")
    _identity(out, get, "klaviyo", "Klaviyo ID", email, phone)
    out.put("email", "Email", email)
    out.put("phone", "Phone Number", phone)
    out.put("first_name", "First Name", get("First Name"))
    out.put("last_name", "Last Name", get("Last Name"))
    out.put("city", "City", get("City"))
    out.put("country", "Country", get("Country"))
    out.put("created_at", "Profile Created On", get("Profile Created On"))
    for channel, address, column in (
        ("email", email, "Email Marketing Consent"),
        ("sms", phone, "SMS Marketing Consent"),
    ):
        values = get(column).str.lower().map(_KLAVIYO_CONSENT)  # never subscribed: no statement
        out.put(f"consent_{channel}", column, _when(address.notna(), values))
        out.put(
            f"consent_{channel}_at",
            f"{column} Timestamp",
            _when(address.notna() & values.notna(), get(f"{column} Timestamp")),
        )
    out.put("consent_source", "(preset)", _const(email, "Klaviyo profiles export"))
    for target, column in (
        ("klaviyo_id", "Klaviyo ID"),
        ("klaviyo_source", "Source"),
        ("tags", "Shopify Tags"),
        ("organization", "Organization"),
    ):
        out.put(target, target, get(column))
    return out


# --- the presets --------------------------------------------------------------------------------------------------

PRESETS: tuple[Preset, ...] = (
    Preset(
        "shopify-orders",
        "Shopify orders export",
        "orders",
        required=("Name", "Financial Status", "Lineitem quantity", "Lineitem name", "Lineitem price", "Created at"),
        read=_shopify_orders,
        uses=(
            "Name",
            "Email",
            "Financial Status",
            "Accepts Marketing",
            "Currency",
            "Total",
            "Created at",
            "Lineitem quantity",
            "Lineitem name",
            "Lineitem price",
            "Lineitem sku",
            "Billing Name",
            "Billing City",
            "Billing Country",
            "Billing Phone",
            "Shipping Name",
            "Shipping City",
            "Shipping Country",
            "Shipping Phone",
            "Cancelled at",
            "Refunded Amount",
            "Vendor",
            "Source",
            "Phone",
        ),
        revenue="paid and partially refunded orders, at Total − Refunded Amount; pending, authorized and "
        "partially paid orders are pending, voided/expired/cancelled ones cancelled, refunded ones returned",
        becomes="Name → order; Email, else Phone → the buyer (name, city, country from billing, else shipping); "
        "Accepts Marketing → e-mail consent dated by the order; line items → order lines (SKU, else the name), "
        "Vendor → brand; Source → channel",
    ),
    Preset(
        "shopify-customers",
        "Shopify customers export",
        "customers",
        required=("First Name", "Last Name", "Email", "Total Spent", "Total Orders", "Tax Exempt"),
        any_of=("Accepts Email Marketing", "Accepts Marketing"),
        forbidden=("Lineitem name",),
        read=_shopify_customers,
        uses=(
            "Customer ID",
            "First Name",
            "Last Name",
            "Email",
            "Accepts Email Marketing",
            "Accepts Marketing",
            "Default Address City",
            "City",
            "Default Address Country Code",
            "Country Code",
            "Default Address Phone",
            "Phone",
            "Accepts SMS Marketing",
            "Tags",
        ),
        keeps_unknown=True,
        ignores=(
            "Default Address Company",
            "Default Address Address1",
            "Default Address Address2",
            "Default Address Province Code",
            "Default Address Zip",
            "Total Spent",
            "Total Orders",
            "Note",
            "Tax Exempt",
            "Company",
            "Address1",
            "Address2",
            "Province",
            "Province Code",
            "Country",
            "Zip",
        ),
        becomes="the customer by e-mail, else phone, else shopify:<Customer ID>; Accepts Email/SMS Marketing → "
        "consent (SMS only with a Phone); Customer ID and Tags → attributes",
    ),
    Preset(
        "woocommerce-orders",
        "WooCommerce orders export",
        "orders",
        required=(
            "order_id",
            "order_date",
            "status",
            "order_total",
            "refunded_total",
            "billing_email",
            "item_name",
            "item_quantity",
        ),
        read=_woocommerce_orders,
        uses=(
            "order_id",
            "order_date",
            "status",
            "order_total",
            "refunded_total",
            "order_currency",
            "customer_id",
            "billing_first_name",
            "billing_last_name",
            "billing_email",
            "billing_phone",
            "billing_city",
            "billing_country",
            "shipping_first_name",
            "shipping_last_name",
            "shipping_city",
            "shipping_country",
            "item_name",
            "item_sku",
            "item_price",
            "item_quantity",
        ),
        revenue="completed and processing orders, at order_total − refunded_total; on-hold and pending orders are "
        "pending, cancelled and failed ones cancelled, refunded ones returned",
        becomes="order_id → order; billing_email, else billing_phone → the buyer (billing name, city, country); "
        "item_* → order lines (item_sku, else the name; unknown_product is no SKU); no consent",
    ),
    *(
        Preset(
            f"mailchimp-{status}",
            f"Mailchimp audience export ({status} members)",
            "customers",
            required=("Email Address", "MEMBER_RATING", "LEID", "EUID", date_column),
            forbidden=forbidden,
            read=_mailchimp(consent, source, dates),
            uses=(*_MAILCHIMP_COMMON, *dates, *extra),
            keeps_unknown=True,
            ignores=_MAILCHIMP_IGNORED,
            becomes=f"the customer by Email Address; the file's status → e-mail {consent} dated by "
            f"{' else '.join(dates)}; MEMBER_RATING, LEID, TAGS, Birthday{', UNSUB_REASON' if extra else ''} → "
            "attributes; the audience's own fields → attributes",
        )
        for status, consent, source, date_column, dates, forbidden, extra in (
            (
                "subscribed",
                "opt_in",
                "Mailchimp: subscribed",
                "LAST_CHANGED",
                ("CONFIRM_TIME", "OPTIN_TIME", "LAST_CHANGED"),
                ("UNSUB_TIME", "CLEAN_TIME"),
                (),
            ),
            (
                "unsubscribed",
                "opt_out",
                "Mailchimp: unsubscribed",
                "UNSUB_TIME",
                ("UNSUB_TIME",),
                (),
                ("UNSUB_REASON",),
            ),
            ("cleaned", "opt_out", "Mailchimp: cleaned (bounced)", "CLEAN_TIME", ("CLEAN_TIME",), (), ()),
        )
    ),
    Preset(
        "hubspot-contacts",
        "HubSpot contacts export",
        "customers",
        required=("Record ID", "Email", "First Name", "Create Date"),
        any_of=("Marketing contact status", "Lifecycle Stage", "Contact owner", "Lead Status"),
        read=_hubspot_contacts,
        uses=(
            "Record ID",
            "First Name",
            "Last Name",
            "Email",
            "Phone Number",
            "Mobile Phone Number",
            "City",
            "Country/Region",
            "Create Date",
            "Unsubscribed from all email",
            _HUBSPOT_LEGAL_BASIS,
            "Marketing contact status",
            "Lifecycle Stage",
            "Lead Status",
            "Associated Company",
            "Preferred language",
        ),
        use_prefixes=(_HUBSPOT_OPT_OUT,),
        keeps_unknown=True,
        ignores=("Contact owner", "Primary Associated Company ID", "Last Activity Date"),
        becomes="the customer by Email, else phone, else hubspot:<Record ID>; Unsubscribed from all email or an "
        "opted-out subscription → e-mail opt_out, consent as legal basis → opt_in; Record ID, lifecycle stage, "
        "lead status, marketing contact status, company, language → attributes",
    ),
    Preset(
        "klaviyo-profiles",
        "Klaviyo profiles export",
        "customers",
        required=("Email", "Profile Created On", "Date Added"),
        any_of=("Klaviyo ID", "Email Marketing Consent"),
        read=_klaviyo_profiles,
        uses=(
            "Email",
            "Phone Number",
            "First Name",
            "Last Name",
            "Organization",
            "City",
            "Country",
            "Source",
            "Profile Created On",
            "Email Marketing Consent",
            "Email Marketing Consent Timestamp",
            "SMS Marketing Consent",
            "SMS Marketing Consent Timestamp",
            "Klaviyo ID",
            "Shopify Tags",
        ),
        keeps_unknown=True,
        ignores=(
            "Title",
            "Address",
            "Address 2",
            "State / Region",
            "Zip Code",
            "Latitude",
            "Longitude",
            "IP Address",
            "Date Added",
            "Last Active",
        ),
        becomes="the customer by Email, else Phone Number, else klaviyo:<Klaviyo ID>; Email/SMS Marketing Consent "
        "SUBSCRIBED → opt_in, UNSUBSCRIBED → opt_out (never subscribed: nothing), dated by their timestamps; "
        "Klaviyo ID, Source, Organization, Shopify Tags → attributes",
    ),
)

#: The columns each preset reads one to one into a field (what the Data page proposes as the mapping).
_DIRECT: dict[str, dict[str, str]] = {
    "shopify-orders": {
        "Name": "order_id",
        "Email": "email",
        "Phone": "phone",
        "Created at": "ordered_at",
        "Lineitem sku": "product_id",
        "Lineitem name": "product_name",
        "Vendor": "brand",
        "Lineitem quantity": "quantity",
        "Lineitem price": "unit_price",
        "Accepts Marketing": "consent_email",
    },
    "shopify-customers": {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Phone": "phone",
        "Default Address City": "city",
        "Default Address Country Code": "country",
        "Accepts Email Marketing": "consent_email",
        "Accepts SMS Marketing": "consent_sms",
    },
    "woocommerce-orders": {
        "order_id": "order_id",
        "order_date": "ordered_at",
        "billing_email": "email",
        "billing_phone": "phone",
        "billing_first_name": "first_name",
        "billing_last_name": "last_name",
        "billing_city": "city",
        "billing_country": "country",
        "item_sku": "product_id",
        "item_name": "product_name",
        "item_quantity": "quantity",
        "item_price": "unit_price",
    },
    **{
        f"mailchimp-{status}": {
            "Email Address": "email",
            "First Name": "first_name",
            "Last Name": "last_name",
            "Phone Number": "phone",
        }
        for status in ("subscribed", "unsubscribed", "cleaned")
    },
    "hubspot-contacts": {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "City": "city",
        "Country/Region": "country",
        "Create Date": "created_at",
    },
    "klaviyo-profiles": {
        "Email": "email",
        "Phone Number": "phone",
        "First Name": "first_name",
        "Last Name": "last_name",
        "City": "city",
        "Country": "country",
        "Profile Created On": "created_at",
    },
}

NAMES = tuple(p.name for p in PRESETS)


def recognise(header: Iterable[str]) -> Preset | None:
    """The preset whose columns the header has (None when no preset's does)."""
    names = list(header)
    return next((p for p in PRESETS if p.matches(names)), None)


def preset_named(name: str) -> Preset:
    """The preset called ``name`` (``--preset``).

    Raises
    ------
    ValueError
        For an unknown name, listing the presets.
    """
    for preset in PRESETS:
        if preset.name == name:
            return preset
    raise ValueError(f"unknown preset {name!r}; the presets are {', '.join(NAMES)}")


def prepare(raw: RawFile, preset: Preset, overrides: dict[str, str] | None = None) -> tuple[RawFile, dict[str, str]]:
    """The file as the preset reads it, and the mapping of its columns to fields.

    The new file's columns are the preset's outputs, each named after the file's column(s) it comes from; its rows
    keep their physical lines. ``overrides`` (``{file column: field}``, the Data page's edited mapping) read a field
    from another column of the file instead. The columns the preset does not read are ignored (said once as a
    warning) or, in a contact export, kept as attributes.
    """
    position = {norm_key(name): i for i, name in reversed(list(enumerate(raw.header)))}
    empty = pd.Series(np.nan, index=pd.RangeIndex(len(raw.cells)), dtype=object)

    def get(column: str) -> pd.Series:
        at = position.get(norm_key(column))
        return empty if at is None else raw.cells.column(at).astype(object)

    header = {h for h in raw.header if h}
    out = preset.read(get, header)
    mapping = {label: target for label, (target, _) in out.columns.items()}
    for column, target in (overrides or {}).items():
        if column in header and preset.direct.get(column) != target:
            for label in [label for label, t in mapping.items() if t == target]:
                del out.columns[label], mapping[label]
            out.columns[column] = (target, get(column))
            mapping[column] = target
    ignored = []
    for name in raw.header:
        if not name or preset.is_used(name) or name in mapping:
            continue
        if preset.keeps_unknown and norm_key(name) not in {norm_key(i) for i in preset.ignores}:
            out.columns[name] = (name, get(name))
        else:
            ignored.append(name)
    columns = {label: values for label, (_, values) in out.columns.items()}
    prepared = RawFile(
        raw.name,
        raw.sha256,
        Cells.from_columns(columns, raw.cells.lines),
        ",",
        raw.blank_rows,
        list(raw.problems),
        preset=preset.label,
        ignored=ignored,
    )
    lines = np.asarray(raw.cells.lines, dtype=np.int64)
    prepared.warnings = [_said_once(mask, lines, column, reason) for mask, column, reason in out.warnings]
    fields = {label: target for label, target in mapping.items() if not _is_attribute(label, target)}
    return prepared, fields


def _is_attribute(label: str, target: str) -> bool:
    return label == target and target not in _FIELD_NAMES


def _said_once(mask: np.ndarray, lines: np.ndarray, column: str, reason: str) -> Problem:
    first = int(np.flatnonzero(mask)[0])
    return warning(int(lines[first]), column, f"{int(mask.sum()):,} {reason}")


_FIELD_NAMES = {f.name for fields in FIELDS.values() for f in fields}
