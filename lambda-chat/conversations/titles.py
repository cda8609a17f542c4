"""Conversation titles: the first question cut to about 60 characters, or what the person typed.

A title is text. It is stored and answered exactly as given (trimmed); the page inserts it
with textContent and the Markdown export escapes it, so markup in a title stays visible text.
"""

import re
import unicodedata
from typing import Any

from core.contract import ChatError

TITLE_CHARS = 60  # about this long when made from the first question
MAX_TITLE_CHARS = 100  # a title the person sets (PATCH)
ELLIPSIS = "…"
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9 ._-]+")


def title_from_question(text: str) -> str:
    """The question on one line, cut at a word boundary to at most 60 characters, "…" when cut."""
    line = " ".join(text.split())
    if len(line) <= TITLE_CHARS:
        return line
    cut = line[:TITLE_CHARS + 1]
    space = cut.rfind(" ")
    # A word longer than half the title (a URL, a long compound) is cut where it stands.
    head = cut[:space] if space >= TITLE_CHARS // 2 else line[:TITLE_CHARS]
    return head.rstrip(" ,.;:-") + ELLIPSIS


def parse_title(body: Any) -> str:
    """The `title` of a PATCH body: a string, 1-100 characters after trimming, no control characters."""
    if not isinstance(body, dict):
        raise ChatError(400, "the request body must be a JSON object")
    title = body.get("title")
    if not isinstance(title, str):
        raise ChatError(400, "title must be a string")
    title = title.strip()
    if not title:
        raise ChatError(400, "title must not be empty")
    if len(title) > MAX_TITLE_CHARS:
        raise ChatError(400, f"title must be at most {MAX_TITLE_CHARS} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in title):
        raise ChatError(400, "title must not contain control characters")
    return title


def filename(title: str) -> str:
    """An ASCII file name for the export: letters, digits, space, `._-` of the title, else "conversation"."""
    safe = " ".join(_UNSAFE_FILENAME.sub(" ", title).split()).strip(" .")[:TITLE_CHARS].strip(" .")
    return f"{safe or 'conversation'}.md"
