"""Data shown as text, never as Markdown (STYLE.md 16).

Streamlit interprets Markdown in ``st.markdown``, captions, alerts, titles, tab and widget labels. A value that
comes from the data (a name, an id, a campaign or segment name, a file name, a database URL) goes into such text only
through :func:`plain`, which makes it literal: ``[Click](http://evil)`` stays those characters, and no link, image,
emphasis, code, heading, list, table, math, emoji or colour is made of it. Where a value stands alone, pages use
elements that do not interpret Markdown at all (``st.text``, ``st.code``, tables).
"""

from __future__ import annotations

import re
import string
from typing import Any

#: Every ASCII punctuation character may be backslash-escaped in CommonMark, and each one starts some construct
#: (``*`` emphasis, ``[`` links, ``!`` images, ``<`` autolinks, ``#`` headings, ``$`` math, ``:`` directives...).
_PUNCTUATION = re.compile(f"([{re.escape(string.punctuation)}])")
#: Streamlit's emoji, icon and colour shortcodes (``:smile:``, ``:material/x:``, ``:red[...]``) are read from the text
#: after escapes are resolved; an invisible word joiner after the colon keeps them from being recognised.
_SHORTCODE = re.compile(r"\\:(?=[\w\\/+-]+[:\[])")
_WORD_JOINER = "\u2060"
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f]+")


def plain(value: Any) -> str:
    """``value`` as literal text inside Markdown: every punctuation character escaped, line breaks as spaces.

    >>> plain("[Click](http://evil.example)")
    '\\\\[Click\\\\]\\\\(http\\\\:\\\\/\\\\/evil\\\\.example\\\\)'
    """
    text = _LINE_BREAKS.sub(" ", "" if value is None else str(value))
    escaped = _PUNCTUATION.sub(r"\\\1", text)
    return _SHORTCODE.sub(lambda match: match.group(0) + _WORD_JOINER, escaped)
