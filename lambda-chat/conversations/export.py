"""A conversation as a Markdown file (GET /conversations/{id}/export).

The title and the person's questions are text: every character Markdown or HTML could read
as markup is backslash-escaped (CommonMark lets any ASCII punctuation be), so a title such
as `<img src=x onerror=alert(1)>` shows as typed in any viewer. Answers keep their Markdown
(code blocks, lists: the model writes it), but raw HTML in them is neutralised by escaping
`<` and `&` outside code fences.
"""

import re
from typing import Any, Iterable

from conversations.items import iso, message, number, summary

SPEAKERS = {"user": "You", "assistant": "Falcon"}
_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&\"'=:])")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")


def as_text(value: str) -> str:
    """Markdown that renders exactly `value` (escaped, line breaks kept as hard breaks)."""
    return "  \n".join(_PUNCTUATION.sub(r"\\\1", line) for line in value.splitlines())


def without_html(markdown: str) -> str:
    """The answer's Markdown with `<` and `&` escaped outside fenced code blocks."""
    lines, fence = [], None
    for line in markdown.splitlines():
        opened = _FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)[0]
        elif fence is not None and opened and opened.group(1)[0] == fence:
            fence = None
        elif fence is None:
            line = line.replace("&", "&amp;").replace("<", "&lt;")
        lines.append(line)
    return "\n".join(lines)


def _when(at: str) -> str:
    return at[:19].replace("T", " ") + " UTC"


def markdown(conversation: dict[str, Any], messages: Iterable[dict[str, Any]]) -> str:
    shown = summary(conversation)
    parts = [f"# {as_text(shown['title'])}", "",
             f"*Created {_when(shown['createdAt'])}, updated {_when(iso(number(conversation, 'updated_at')))}*"]
    for item in messages:
        m = message(item)
        parts += ["", f"## {SPEAKERS[m['role']]} · {_when(m['at'])}", ""]
        if m["role"] == "user":
            parts.append(as_text(m["content"]))
        elif m.get("status") == "failed":
            error = m.get("error", {})
            parts.append(f"*No answer: {as_text(str(error.get('message', 'the answer failed')))}*")
        else:
            parts.append(without_html(m["content"]))
            if m.get("status") == "stopped":
                parts += ["", "*(stopped)*"]
    return "\n".join(parts) + "\n"
