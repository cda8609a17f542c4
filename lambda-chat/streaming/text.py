"""From the model's token texts to what the client is sent, equal to what POST /chat answers.

POST /chat cuts the answer at the earliest stop sequence and strips surrounding
whitespace. `AnswerShaper` does the same while tokens arrive: it holds back only the
tail that could still grow into a stop sequence (so a stop split across tokens never
reaches the client), reports `stopped` once one appears, drops leading whitespace and
never sends trailing whitespace. `split_text` cuts a batch so each frame stays small.
"""

import json
from typing import Sequence


class AnswerShaper:
    def __init__(self, stop_sequences: Sequence[str]) -> None:
        self._stops = [s for s in stop_sequences if s]
        self._held = ""  # a tail that may still become a stop sequence
        self._space = ""  # whitespace sent only if more text follows
        self._started = False  # something other than whitespace was sent
        self.stopped = False  # a stop sequence appeared: nothing more comes
        self.text = ""  # everything sent so far

    def feed(self, piece: str) -> str:
        """The text that is now safe to send (maybe empty)."""
        if self.stopped:
            return ""
        buffer = self._held + piece
        cuts = [i for i in (buffer.find(s) for s in self._stops) if i >= 0]
        if cuts:
            self.stopped = True
            self._held = ""
            return self._send(buffer[:min(cuts)])
        keep = self._stop_prefix_length(buffer)
        self._held = buffer[len(buffer) - keep:]
        return self._send(buffer[:len(buffer) - keep])

    def finish(self) -> str:
        """At the end of the answer: a held tail that never became a stop sequence."""
        rest, self._held = self._held, ""
        sent = self._send(rest)
        self._space = ""  # trailing whitespace is never sent
        return sent

    def _stop_prefix_length(self, buffer: str) -> int:
        """Length of the longest end of `buffer` that begins some stop sequence."""
        longest = 0
        for stop in self._stops:
            for k in range(min(len(stop) - 1, len(buffer)), longest, -1):
                if buffer.endswith(stop[:k]):
                    longest = k
                    break
        return longest

    def _send(self, text: str) -> str:
        if not self._started:
            text = text.lstrip()
            if not text:
                return ""
            self._started = True
        text = self._space + text
        body = text.rstrip()
        self._space = text[len(body):]
        self.text += body
        return body


def json_size(text: str) -> int:
    """UTF-8 bytes of `text` inside a JSON string (escapes counted, quotes not)."""
    return len(json.dumps(text, ensure_ascii=False).encode()) - 2


def split_text(text: str, max_bytes: int) -> list[str]:
    """`text` in pieces of at most `max_bytes` JSON-escaped UTF-8 bytes each."""
    if json_size(text) <= max_bytes:
        return [text] if text else []
    pieces: list[str] = []
    start, size = 0, 0
    for i, ch in enumerate(text):
        cost = len(ch.encode()) if ch >= " " and ch not in '"\\' else json_size(ch)
        if size + cost > max_bytes:
            pieces.append(text[start:i])
            start, size = i, 0
        size += cost
    pieces.append(text[start:])
    return pieces
