"""The product's vocabulary: what every column, metric, option and stored value is called on the screen and in the CLI.

The database and the code name things ``revenue_per_member``, ``opt_in`` or ``attribute:loyalty member``; a reader
sees "Revenue per member", "Opted in" and "Loyalty member (attribute)". One table per kind of name, looked up by
the pages, the charts and the command line, so that a thing has one name everywhere:

- :data:`COLUMNS`: a table column's header, its kind (how its values are written, by :mod:`crm_core.formats`),
  and a one-line help;
- :data:`METRICS`: a metric's name in sentences and chart labels;
- :data:`VALUES`: a stored code (consent status, order status, channel, direction...) as a word;
- :func:`option_label`: a field or break-down option (``attribute:NAME``, ``metric_name``) as a word;
- :func:`display_frame`: a result table with every value written as the product writes it (money with its sign,
  percentages to one decimal, points, dates, "—" for missing) and every stored code as its word.

A name not in the tables falls back to :func:`humanize` (``competitor_brand`` -> "Competitor brand"), so that no
snake_case name reaches a reader even when a new column is added without a label.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from crm_core import formats

#: How a column's values are written: each kind is one function of :mod:`crm_core.formats`.
KINDS = (
    "text",  # a word or a name from the data; stored codes become words (VALUES)
    "count",  # 20,000
    "money",  # €21,647 or €84.23 by size
    "money_cents",  # €84.23
    "money_change",  # +€1,204, −€26.08
    "percent",  # 20.9%
    "percent_change",  # +12.3%
    "points",  # +4.0 pts
    "number",  # 2.1
    "decimal",  # 0.7930, 4.414 (model estimates, four significant digits)
    "p_value",  # 0.049, <0.001
    "date",  # 2024-03-05
    "datetime",  # 2024-03-05 10:00
    "yes_no",  # Yes / No
    "name",  # a name the user wrote (a file's column): “ordered_at”, literally
    "raw",  # left as it is (links, flags the page formats itself)
)


@dataclass(frozen=True)
class Column:
    """A table column as a reader sees it: its header, how its values are written, and what it means."""

    label: str
    kind: str = "text"
    help: str | None = None
    width: str | None = None  # "small", "medium" or "large"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}; one of {', '.join(KINDS)}")


def _c(label: str, kind: str = "text", help: str | None = None, width: str | None = None) -> Column:  # noqa: A002
    return Column(label, kind, help, width)


#: Every column the product shows, by its name in crm_core's results. A page may override a label or kind where the
#: same name means something else (``uplift`` of money against of a rate).
COLUMNS: dict[str, Column] = {
    # people
    "customer": _c("Customer"),
    "customer_id": _c("Customer id"),
    "external_id": _c("Customer id"),
    "profile": _c("Customer"),
    "name": _c("Name", width="medium"),
    "first_name": _c("First name"),
    "last_name": _c("Last name"),
    "email": _c("Email", width="medium"),
    "email_norm": _c("Email (as matched)"),
    "phone": _c("Phone"),
    "city": _c("City"),
    "country": _c("Country"),
    "gender": _c("Gender"),
    "birth_date": _c("Birth date", "date"),
    "created_at": _c("Created", "date"),
    "acquisition_channel": _c("Acquired through"),
    "acquisition_cost": _c("Acquisition cost", "money"),
    # purchases
    "order_id": _c("Order"),
    "ordered_at": _c("Ordered", "datetime"),
    "amount": _c("Amount", "money_cents"),
    "status": _c("Status"),
    "channel": _c("Channel"),
    "items": _c("Items", width="large"),
    "product": _c("Product", width="medium"),
    "product_name": _c("Product", width="medium"),
    "category": _c("Category"),
    "brand": _c("Brand"),
    "quantity": _c("Quantity", "count"),
    "unit_price": _c("Unit price", "money_cents"),
    "orders": _c("Orders", "count"),
    "revenue": _c("Revenue", "money"),
    "share": _c("Share", "percent"),
    "revenue_share": _c("Share of revenue", "percent"),
    "last_order": _c("Last order", "date"),
    "first_order": _c("First order", "date"),
    "rank": _c("Rank", "count"),
    # contact
    "occurred_at": _c("When", "datetime"),
    "when": _c("When", "datetime"),
    "direction": _c("Direction"),
    "type": _c("Type"),
    "subject": _c("Subject", width="medium"),
    "outcome": _c("Outcome"),
    "campaign": _c("Campaign", width="medium"),
    "kind": _c("Kind"),
    "score": _c("Score", "text", "NPS 0–10 for surveys, 1–5 for reviews"),
    "competitor_brand": _c("Competitor brand"),
    "reason": _c("Reason not bought", width="medium"),
    "text": _c("Text", width="large"),
    "source": _c("Source"),
    "changed_at": _c("Changed", "datetime"),
    "mentions": _c("Mentions", "count"),
    "mention": _c("Mentioned as"),
    "times": _c("Times", "count"),
    "last_at": _c("Last", "date"),
    "order_ref": _c("Order"),
    "line_amount": _c("Amount", "money_cents"),
    "products": _c("Products", width="large"),
    "last_30_days": _c("Last 30 days", "count"),
    "last_90_days": _c("Last 90 days", "count"),
    "suppressed": _c("Suppressed", "yes_no", "On the suppression list: never contacted"),
    # RFM and segments
    "segment": _c("Segment"),
    "segment_a": _c("Segment before"),
    "segment_b": _c("Segment after"),
    "customers": _c("Customers", "count"),
    "recency": _c("Days since last order", "count"),
    "frequency": _c("Orders", "count"),
    "monetary": _c("Revenue", "money"),
    "r_score": _c("R", "count"),
    "f_score": _c("F", "count"),
    "m_score": _c("M", "count"),
    "dimension": _c("Score"),
    "min_value": _c("From", "number"),
    "max_value": _c("To", "number"),
    "action": _c("Suggested action", width="large"),
    "saved_at": _c("Saved", "datetime"),
    "version": _c("Version", "count"),
    "avg_clv": _c("Average predicted value", "money"),
    "clv": _c("Predicted value", "money"),
    "p_alive": _c("Likely still active", "percent"),
    "churn_risk": _c("Churn risk"),
    "clv_low": _c("Value, 80 % range from", "money"),
    "clv_high": _c("Value, 80 % range to", "money"),
    "value_if_active": _c("Value if they stay", "money"),
    "expected_spend": _c("Spend per purchase", "money_cents"),
    "p_purchase": _c("Buys in the next 90 days", "percent"),
    "days_since_last": _c("Days since last purchase", "count"),
    "purchases": _c("Purchase days", "count"),
    # campaigns
    "arm": _c("Arm"),
    "is_control": _c("Control group", "yes_no"),
    "n": _c("Members", "count"),
    "members": _c("Members", "count"),
    "treatment": _c("Treated", "count"),
    "control": _c("Control", "count"),
    "n_treatment": _c("Treated", "count"),
    "n_control": _c("Control", "count"),
    "start_date": _c("Start", "date"),
    "end_date": _c("End", "date"),
    "sent_at": _c("Sent", "datetime"),
    "sent": _c("Sent", "yes_no"),
    "delivered": _c("Delivered", "yes_no"),
    "opened": _c("Opened", "yes_no"),
    "clicked": _c("Clicked", "yes_no"),
    "responded": _c("Responded", "yes_no"),
    "converted": _c("Converted", "yes_no"),
    "open_rate": _c("Open rate", "percent"),
    "click_rate": _c("Click rate", "percent"),
    "response_rate": _c("Response", "percent"),
    "conversion_rate": _c("Conversion", "percent"),
    "control_conversion_rate": _c("Control conversion", "percent"),
    "conversion_treatment": _c("Conversion, treated", "percent"),
    "conversion_control": _c("Conversion, control", "percent"),
    "conversion_ci_low": _c("Conversion from", "percent", "Lower end of the 95 % interval"),
    "conversion_ci_high": _c("Conversion to", "percent", "Upper end of the 95 % interval"),
    "revenue_per_member": _c("Revenue per member", "money_cents"),
    "revenue_ci_low": _c("Revenue per member from", "money_cents", "Lower end of the 95 % interval"),
    "revenue_ci_high": _c("Revenue per member to", "money_cents", "Upper end of the 95 % interval"),
    "uplift": _c("Uplift", "points", "Treated minus control, in percentage points"),
    "conversion_uplift": _c("Conversion uplift", "points", "Treated minus control, in percentage points"),
    "revenue_uplift": _c("Revenue per member uplift", "money_change", "Treated minus control, per member"),
    "ci_low": _c("95 % CI from", "points"),
    "ci_high": _c("95 % CI to", "points"),
    "p_value": _c("p-value", "p_value", "Chance of an effect this large if the campaign did nothing"),
    "conversion_p_value": _c("p-value", "p_value", "Chance of an effect this large if the campaign did nothing"),
    "revenue_p_value": _c("p-value (revenue)", "p_value"),
    "incremental_conversions": _c("Extra conversions", "number", "Conversions the campaign caused"),
    "incremental_conversions_low": _c("Extra conversions from", "number"),
    "incremental_conversions_high": _c("Extra conversions to", "number"),
    "incremental_revenue": _c("Incremental revenue", "money_change", "Revenue the campaign caused"),
    "incremental_revenue_low": _c("Incremental revenue from", "money_change"),
    "incremental_revenue_high": _c("Incremental revenue to", "money_change"),
    "cost": _c("Cost", "money"),
    "roi": _c("ROI", "percent_change", "(incremental revenue × margin − cost) / cost"),
    "verdict": _c("Verdict", width="large"),
    "note": _c("Note", width="medium"),
    "estimate": _c("Estimate", "decimal"),
    "metric": _c("Measure"),
    # data
    "table": _c("Table"),
    "rows": _c("Rows", "count"),
    "file_name": _c("File", width="medium"),
    "rows_total": _c("Rows", "count"),
    "rows_created": _c("Created", "count"),
    "rows_updated": _c("Updated", "count"),
    "rows_rejected": _c("Rejected", "count"),
    "rows_warned": _c("Warnings", "count"),
    "started_at": _c("Started", "datetime"),
    "finished_at": _c("Finished", "datetime"),
    "title": _c("Check", width="medium"),
    "count": _c("Count", "count"),
    "treatment_note": _c("How the metrics treat them", width="large"),
    "line": _c("Line", "count"),
    "column": _c("Column", "name", "The column of the file, as it is named there"),
    "value": _c("Value"),
    "table_name": _c("Table"),
    "column_name": _c("Column"),
    "record": _c("Record"),
    "missing_customer": _c("Customer missing", "yes_no"),
    "variants": _c("Names used", width="large"),
    "product_id": _c("Product id"),
    "import_id": _c("Import", "count"),
    "rows_unchanged": _c("Unchanged", "count"),
    "file_hash": _c("File fingerprint (SHA-256)", width="small"),
    "erased_at": _c("Erased", "datetime"),
    "breakdown": _c("Of which", width="large"),
    "severity": _c("Severity"),
}

#: Metrics by their name in crm_core, as words for sentences, chart labels and the CLI.
METRICS: dict[str, str] = {
    "conversion": "conversion",
    "conversion_rate": "conversion",
    "response": "response",
    "response_rate": "response",
    "revenue_per_member": "revenue per member",
    "revenue_per_customer": "revenue per customer",
    "average_order_value": "average order value",
    "orders_per_buyer": "orders per buyer",
    "avg_clv": "average predicted value",
    "avg_p_alive": "average chance still active",
    "reachable_email": "reachable by email",
    "reachable_sms": "reachable by SMS",
    "reachable_phone": "reachable by phone",
    "reachable_mail": "reachable by post",
    "share": "share of customers",
    "revenue_share": "share of revenue",
    "rfm_segment": "RFM segment at sending",
}

#: Stored codes as words. Data values that are already words (names, cities, categories) are left as they are.
VALUES: dict[str, str] = {
    "opt_in": "Opted in",
    "opt_out": "Opted out",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "returned": "Returned",
    "pending": "Pending",
    "web": "Web",
    "store": "Store",
    "phone": "Phone",
    "app": "App",
    "email": "Email",
    "sms": "SMS",
    "chat": "Chat",
    "mail": "Post",
    "social": "Social",
    "in": "Inbound",
    "out": "Outbound",
    "survey": "Survey",
    "review": "Review",
    "complaint": "Complaint",
    "note": "Note",
    "paid_search": "Paid search",
    "paid_social": "Paid social",
    "organic": "Organic",
    "referral": "Referral",
    "affiliate": "Affiliate",
    "direct": "Direct",
    "newsletter": "Newsletter",
    "support_call": "Support call",
    "visit": "Visit",
    "unknown": "Unknown",
    "recency": "Recency (days since last order)",
    "frequency": "Frequency (orders)",
    "monetary": "Monetary (revenue)",
    "order": "Order",
    "interaction": "Contact",
    "ok": "OK",
    "failed": "Failed",
    "partial": "Partial",
    "error": "Error",
    "warning": "Warning",
    "customers": "Customers",
    "orders": "Orders",
    "interactions": "Interactions",
    "feedback": "Feedback",
    "campaign_results": "Campaign results",
    "campaign_members": "Campaign members",
    "order_items": "Order items",
    "customer_attributes": "Customer attributes",
    "consents": "Consents",
    "products": "Products",
    "campaigns": "Campaigns",
    "segments": "Segments",
    "import_log": "Import log",
    "customer_scores": "Customer scores",
    "stored_results": "Stored results",
    "product_variants": "Product variants",
    "segment_versions": "Segment versions",
    "meta": "Settings",
    "suppressions": "Suppressions",
}

#: The sentences that explain model outputs a reader would otherwise take for mistakes.
EXPLANATIONS: dict[str, str] = {
    "one_time_buyers": (
        "A customer who bought only once shows as 100 % likely still active, however long ago that was: the "
        "purchase model (BG/NBD) learns that someone has left only from a silence after repeat purchases, so one "
        "purchase gives it no sign either way. Their expected purchases and predicted value stay low all the same; "
        "read those for them."
    ),
    "lapsed_frequent_buyers": (
        "A predicted value near €0 for “Cannot lose them” and “At risk” is the model's reading of their history, not "
        "a fault: they used to buy every week or two and have been silent for more than a year, many times their "
        "usual gap, so it judges that nearly all of them have already left. Their past spend says what they were "
        "worth; winning them back is a win-back campaign, measured against a control group."
    ),
    "p_alive": (
        "Likely still active: the chance the customer has not left for good. It is not the chance of buying soon."
    ),
    "p_purchase": (
        "The chance of at least one purchase in the next 90 days. It is lower than “likely still active”, because "
        "an active customer may simply not need anything yet; for frequent buyers the two are close."
    ),
}

#: Columns of the database named as ``table.column`` (in quality checks), as words.
FIELDS: dict[str, str] = {
    "orders.ordered_at": "order dates",
    "interactions.occurred_at": "contact dates",
    "feedback.created_at": "feedback dates",
    "customers.created_at": "sign-up dates",
    "customers.birth_date": "birth dates",
    "consents.changed_at": "consent dates",
}

#: The prefix of a free customer attribute among the fields of a rule or a break-down.
ATTRIBUTE_PREFIX = "attribute:"


def humanize(name: str) -> str:
    """A code name as words: ``competitor_brand`` -> ``Competitor brand``; ``paid_search`` -> ``Paid search``."""
    words = str(name).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def column(name: str, overrides: Mapping[str, Column | str] | None = None) -> Column:
    """The column ``name`` as a reader sees it; ``overrides`` (a label or a whole :class:`Column`) win."""
    base = COLUMNS.get(name, Column(humanize(name)))
    override = (overrides or {}).get(name)
    if isinstance(override, Column):
        return override
    if isinstance(override, str):
        return replace(base, label=override)
    return base


def column_label(name: str) -> str:
    """The header of column ``name``."""
    return column(name).label


def metric_label(name: str) -> str:
    """A metric as words in a sentence: ``revenue_per_member`` -> ``revenue per member``."""
    return METRICS.get(name, humanize(name).lower())


def value_label(value: Any) -> Any:
    """A stored code as a word (``opt_in`` -> ``Opted in``); any other value unchanged."""
    if isinstance(value, str):
        if value in VALUES:
            return VALUES[value]
        if value.startswith(ATTRIBUTE_PREFIX):
            return option_label(value)
        if "_" in value and value in COLUMNS:  # a column named in the data (a quality check's finding)
            return COLUMNS[value].label
        if value in FIELDS:
            return FIELDS[value]
    return value


def option_label(option: Any) -> str:
    """A field or break-down option as words: ``attribute:loyalty member`` -> ``Loyalty member (attribute)``,
    ``rfm_segment`` -> ``RFM segment at sending``, ``None`` -> ``—``."""
    if option is None:
        return formats.MISSING
    text = str(option)
    if text.startswith(ATTRIBUTE_PREFIX):
        return f"{humanize(text.removeprefix(ATTRIBUTE_PREFIX))} (attribute)"
    if text in METRICS:
        return humanize(METRICS[text])
    if text in VALUES:
        return VALUES[text]
    if text in COLUMNS:
        return COLUMNS[text].label
    return humanize(text) if "_" in text else text


def breakdown_text(breakdown: Mapping[str, int]) -> str:
    """A check's counts by part as words: ``{"orders.ordered_at": 0, "cancelled": 12}`` ->
    ``order dates 0, cancelled 12``; an empty breakdown is :data:`~crm_core.formats.MISSING`."""
    if not breakdown:
        return formats.MISSING
    return ", ".join(f"{FIELDS.get(key, humanize(key).lower())} {formats.count(n)}" for key, n in breakdown.items())


_RULE_PLACE = re.compile(r"^(?P<path>[\w\[\].]+): (?P<rest>.*)$")
_EMPTY_VALUE = re.compile(
    r"^(?:field )?'?(?P<field>[^' ]+)'? takes (?:a number|a date|a non-empty text)|"
    r"^(?P<op>in|not_in|contains|between) takes"
)


def rule_problem(message: str) -> str:
    """A rule's validation message (``all[0].value: country takes a non-empty text, got str ""``) as a sentence
    for the person building it: which condition, and what it still needs (``Condition 1: choose a country.``)."""
    match = _RULE_PLACE.match(str(message))
    if match is None:
        return str(message)
    path, rest = match.group("path"), match.group("rest")
    numbers = [int(n) + 1 for n in re.findall(r"\[(\d+)\]", path)]
    place = (
        "The rule"
        if not numbers
        else "Condition " + numbers[-1].__str__()
        if len(numbers) == 1
        else f"Group {numbers[0]}, condition {numbers[-1]}"
    )
    empty = _EMPTY_VALUE.match(rest)
    if empty and empty.group("field"):
        return f"{place}: choose a value for {option_label(empty.group('field')).lower()}."
    if empty:
        return f"{place}: choose at least one value."
    if "needs low <= high" in rest:
        return f"{place}: the first value must not be larger than the second."
    return f"{place}: {rest}"


def effects_table(effects: pd.DataFrame) -> pd.DataFrame:
    """A campaign's uplifts (``CampaignResults.effects_frame()``) written for reading: each estimate and interval
    end in its metric's unit (points for rates, signed money for revenue per member), the metric named in words."""
    out = effects.copy()
    money = out["metric"].eq("revenue_per_member")
    for name in ("estimate", "ci_low", "ci_high"):
        out[name] = [
            formats.money(v, cents=True, plus=True) if is_money else formats.points(v)
            for v, is_money in zip(out[name], money, strict=True)
        ]
    out["metric"] = out["metric"].map(lambda m: metric_label(m).capitalize())
    return out


def p_value(value: Any) -> str:
    """A p-value with three decimals, ``<0.001`` below that."""
    if formats.is_missing(value):
        return formats.MISSING
    return "<0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def _date(value: Any, with_time: bool) -> str:
    if formats.is_missing(value):
        return formats.MISSING
    if isinstance(value, str):
        return value
    stamp = pd.Timestamp(value)
    is_day = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    return stamp.strftime("%Y-%m-%d %H:%M" if with_time and not is_day else "%Y-%m-%d")


def _significant(value: Any) -> str:
    """A model estimate to four significant digits (``0.6181``, ``4.414``), whole above a thousand."""
    if formats.is_missing(value):
        return formats.MISSING
    number = float(value)
    if abs(number) >= 1000:
        return formats.number(number, 0)
    return formats.number(number, max(0, 3 - int(math.floor(math.log10(abs(number))))) if number else 0)


def _yes_no(value: Any) -> str:
    if formats.is_missing(value):
        return formats.MISSING
    return "Yes" if bool(value) else "No"


def _text(value: Any) -> str:
    return formats.text(value_label(value))


WRITERS = {
    "text": _text,
    "count": formats.count,
    "money": formats.money,
    "money_cents": lambda v: formats.money(v, cents=True),
    "money_change": lambda v: formats.money(v, plus=True),
    "percent": formats.percent,
    "percent_change": lambda v: formats.percent(v, plus=True),
    "points": formats.points,
    "number": formats.number,
    "decimal": lambda v: _significant(v),
    "p_value": p_value,
    "date": lambda v: _date(v, False),
    "datetime": lambda v: _date(v, True),
    "yes_no": _yes_no,
    "name": lambda v: formats.MISSING if formats.is_missing(v) or v == "" else f"“{v}”",
}


def write(value: Any, kind: str) -> Any:
    """One value written as a column of ``kind`` writes it; text already written (by the page) stays as it is."""
    if kind == "raw" or (kind not in ("text", "name") and isinstance(value, str)):
        return value
    return WRITERS[kind](value)


def display_frame(
    frame: pd.DataFrame,
    columns: Iterable[str] | None = None,
    overrides: Mapping[str, Column | str] | None = None,
) -> pd.DataFrame:
    """``frame``'s ``columns`` (all by default) with every value written as the product writes it: text cells, no
    missing value (``—``), stored codes as words. Column names are kept (headers come from :func:`column`);
    counts without a missing value stay numbers, so that they sort as numbers."""
    names = list(frame.columns if columns is None else columns)
    shown = {}
    for name in names:
        spec = column(name, overrides)
        values = frame[name]
        if spec.kind == "raw" or (spec.kind == "count" and not values.isna().any()):
            shown[name] = values
        elif spec.kind in ("money", "money_change"):
            # One column, one precision, so that the amounts line up: cents only when every amount is small.
            amounts = pd.to_numeric(values, errors="coerce")
            cents = bool(amounts.abs().max() < formats.CENTS_BELOW) if amounts.notna().any() else False
            plus = spec.kind == "money_change"
            shown[name] = values.map(
                lambda v, c=cents, p=plus: v if isinstance(v, str) else formats.money(v, cents=c, plus=p)
            ).astype(object)
        else:
            shown[name] = values.map(lambda v, kind=spec.kind: write(v, kind)).astype(object)
    return pd.DataFrame(shown, index=frame.index)
