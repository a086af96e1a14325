"""Data is text on every page: hostile names, ids, cities, attributes, product categories, campaign, arm, segment
and file names are rendered through every page under AppTest, and whatever the pages hand to Markdown (text,
captions, alerts, titles, tab, expander and widget labels, radio options) is rendered with a CommonMark parser: the
data makes no link, image, emphasis, code, heading, list, table, math, emoji or colour, and shows as written.
"""

from __future__ import annotations

import html.parser
import json
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
import test_app
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from crm_core import campaigns, db, imports, schema, segments

app_env = test_app.app_env

#: Every hostile value carries EVIL, so that what the data caused can be told from the page's own formatting.
FIRST = "[Click EVIL to verify](http://evil.example/verify)"
LAST = "![EVILpixel](http://evil.example/pixel.png)"
CITY = "**EVILcity** <b>EVILtag</b> www.evil.example :red[EVILred] :smile: $EVIL$"
CUSTOMER_ID = "C--1`EVILid`*x*_y_"
CAMPAIGN = "~~EVILcampaign~~ [win](http://evil.example) $5"
ARM = "*EVILarm* `x` <a href='http://evil.example'>go</a>"
SEGMENT = "# EVILsegment [x](http://evil.example)"
CATEGORY_SUFFIX = " _EVILcat_ ![c](http://evil.example/c.png)"
ATTRIBUTE = ("*evilattr*", "[EVILvalue](http://evil.example)")  # names are shown capitalised
FILE_NAME = "[EVILfile](http://evil.example).csv"

FORMATTING = {"a", "img", "em", "strong", "code", "del", "s", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote"}
FORMATTING |= {"table", "b", "i", "pre"}
MARKDOWN_TYPES = {"markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader", "toast"}


@pytest.fixture(scope="module")
def hostile_url(duckdb_demo_url, tmp_path_factory) -> str:
    """The demo store with hostile text in every place a page shows data from."""
    source = Path(sa.make_url(duckdb_demo_url).database or "")
    path = tmp_path_factory.mktemp("hostile") / "hostile.duckdb"
    shutil.copy(source, path)
    url = f"duckdb:///{path}"
    engine = db.create_engine(url)
    C = schema.customers.c
    with db.write_transaction(engine) as conn:
        conn.execute(schema.customers.update().values(first_name=FIRST, last_name=LAST, city=CITY))
        top = conn.execute(
            sa.select(schema.orders.c.customer_id)
            .group_by(schema.orders.c.customer_id)
            .order_by(sa.func.sum(schema.orders.c.amount).desc())
            .limit(1)
        ).scalar()
        conn.execute(schema.customers.update().where(C.id == top).values(external_id=CUSTOMER_ID))
        conn.execute(schema.customer_attributes.delete().where(schema.customer_attributes.c.customer_id == top))
        conn.execute(schema.customer_attributes.insert().values(customer_id=top, name=ATTRIBUTE[0], value=ATTRIBUTE[1]))
        category = conn.execute(
            sa.select(schema.products.c.category).group_by(schema.products.c.category).order_by(sa.func.count().desc())
        ).first()[0]
        conn.execute(
            schema.products.update()
            .where(schema.products.c.category == category)
            .values(category=category + CATEGORY_SUFFIX, brand=category + CATEGORY_SUFFIX)
        )
    newest = int(campaigns.campaign_list(engine)["campaign_id"].iloc[0])
    with db.write_transaction(engine) as conn:
        conn.execute(schema.campaigns.update().where(schema.campaigns.c.id == newest).values(name=CAMPAIGN))
        members = schema.campaign_members
        conn.execute(
            members.update().where(members.c.campaign_id == newest, members.c.is_control.is_(False)).values(arm=ARM)
        )
    segments.save_segment(engine, SEGMENT, {"all": [{"field": "city", "op": "contains", "value": "EVIL"}]})
    with pytest.raises(imports.ImportFailed):
        imports.import_file(engine, "customers", b"email\nnot-an-email\n", file_name=FILE_NAME)
    engine.dispose()
    return url


class _Tags(html.parser.HTMLParser):
    """The text of an HTML fragment with the tags it stands in; links and images with their targets."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.texts: list[tuple[str, tuple[str, ...]]] = []
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.targets += [str(v) for k, v in attrs if k in ("href", "src")]
        if tag == "img":
            self.texts.append((dict(attrs).get("alt") or "", ("img",)))
        elif tag not in ("br", "hr"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            del self.stack[len(self.stack) - 1 - self.stack[::-1].index(tag) :]

    def handle_data(self, data):
        self.texts.append((data, tuple(self.stack)))


def _markdown_texts(at: AppTest) -> list[str]:
    """Everything the run handed to Markdown: element bodies, labels, radio options."""

    def walk(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    found = []
    for node in walk(at._tree):
        kind = getattr(node, "type", None)
        if kind in MARKDOWN_TYPES and isinstance(getattr(node, "value", None), str):
            found.append(node.value)
        if isinstance(getattr(node, "label", None), str):
            found.append(node.label)
        if kind == "radio":
            found += [str(option) for option in node.options]
    return found


PARSER = MarkdownIt("commonmark", {"linkify": True}).enable(["linkify", "strikethrough", "table"])
HOSTILE = (FIRST, LAST, CITY, CUSTOMER_ID, CAMPAIGN, ARM, SEGMENT, CATEGORY_SUFFIX, *ATTRIBUTE, FILE_NAME)


def _hostile(text: str) -> bool:
    return "evil" in text.lower()


def _tags(text: str) -> tuple[list[str], list[str]]:
    parsed = _Tags()
    parsed.feed(PARSER.render(text))
    return sorted(tag for _, stack in parsed.texts for tag in stack if tag in FORMATTING), parsed.targets


def _problems(texts: list[str]) -> list[str]:
    """What the data turned into: a text whose Markdown makes other links, images or formatting than the same text
    with the data taken out, or that holds a hostile value unescaped."""
    import ui

    values = sorted({*HOSTILE, *(ui.plain(v) for v in HOSTILE)}, key=len, reverse=True)
    problems = []
    for text in texts:
        if not _hostile(text):
            continue
        neutral = text
        for value in values:
            neutral = neutral.replace(value, "DATA")
        (made, targets), (own, _) = _tags(text), _tags(neutral)
        if made != own:
            problems.append(f"{sorted(set(made) - set(own)) or made} made by the data in {text!r}")
        problems += [f"a link or image to {t!r} in {text!r}" for t in targets if "evil" in t]
        problems += [f"unescaped {v!r} in {text!r}" for v in HOSTILE if v in text]
    return problems


def _run(url: str, env, page: str, **query: str) -> AppTest:
    test_app._use_database(env, url)
    at = AppTest.from_file(str(test_app.APP), default_timeout=test_app.TIMEOUT_S)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _shown(texts: list[str]) -> str:
    return "\n".join(test_app.literal(text) for text in texts)


PAGES = {
    "overview": ("pages/overview.py", {}),
    "customers": ("pages/customers.py", {}),
    "profile": ("pages/customers.py", {"customer": CUSTOMER_ID}),
    "campaign": ("pages/campaigns.py", {"campaign": CAMPAIGN}),
    "data": ("pages/data.py", {}),
    "segments": ("pages/segments.py", {}),
    "customer-value": ("pages/customer_value.py", {}),
}


#: Pages that show data in Markdown-rendering elements (the others show it in tables and charts only).
SHOWS_DATA_AS_TEXT = {"customers", "profile", "campaign", "data", "segments"}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PAGES))
def test_no_page_turns_data_into_markdown(app_env, hostile_url, name):
    page, query = PAGES[name]
    at = _run(hostile_url, app_env, page, **query)
    texts = _markdown_texts(at)
    if name == "segments":
        for section in ("Rule builder", "Compare"):
            at.session_state["segments_section"] = section
            at.run()
            if section == "Rule builder":
                at.selectbox(key="segments_saved").set_value(SEGMENT).run()
            else:
                at.multiselect(key="segments_compare").set_value([SEGMENT, "RFM: Champions"]).run()
            assert not at.exception, [e.value for e in at.exception]
            texts += _markdown_texts(at)
    if name == "data":
        at.text_input(key="data_erase_search").set_value(CUSTOMER_ID).run()
        assert not at.exception, [e.value for e in at.exception]
        texts += _markdown_texts(at)
    if name in SHOWS_DATA_AS_TEXT:
        assert any(_hostile(t) for t in texts), f"{name} shows no hostile data: the check would prove nothing"
    assert _problems(texts) == []


@pytest.mark.slow
def test_hostile_values_show_as_written(app_env, hostile_url):
    profile = _shown(_markdown_texts(_run(hostile_url, app_env, "pages/customers.py", customer=CUSTOMER_ID)))
    for value in (CUSTOMER_ID, f"{FIRST} {LAST}", CITY, *ATTRIBUTE):
        assert value in profile, value
    at = _run(hostile_url, app_env, "pages/campaigns.py", campaign=CAMPAIGN)
    assert ARM in _shown(_markdown_texts(at))
    # Plotly reads a subset of HTML in its labels: the arm's link must reach the charts as text, not as a tag.
    specs = [json.dumps(json.loads(chart.proto.spec), ensure_ascii=False) for chart in at.get("plotly_chart")]
    assert any("EVILarm" in spec for spec in specs)
    assert not any(re.search(r"<a\s+href", spec) for spec in specs)


def test_the_check_finds_what_unescaped_data_would_make(monkeypatch):
    # The same values straight into Markdown, as the pages once did: every kind of problem is found.
    monkeypatch.syspath_prepend(str(test_app.PROJECT_ROOT))
    found = "\n".join(_problems([f"**Name** {FIRST}", LAST, CITY, CUSTOMER_ID, CAMPAIGN, ARM, SEGMENT]))
    for kind in ("a link or image", "'a'", "'img'", "'strong'", "'em'", "'code'", "'s'", "'h1'", "unescaped"):
        assert kind in found, kind
    import ui

    assert _problems([f"**Name** {ui.plain(FIRST)} · {ui.plain(CUSTOMER_ID)}", ui.plain(SEGMENT)]) == []
