"""SageMaker's response-stream wire for the fake model: event-stream framing, PayloadPart sizes.

The framing is what botocore/eventstream.py parses: a prelude (total length uint32 BE,
headers length uint32 BE, CRC32 of those 8 bytes), headers (1-byte name length, name,
1-byte type, value; strings are type 7 with a uint16 BE length), the payload, and the
CRC32 of everything before it. Events are `:message-type` `event` with `:event-type`
`PayloadPart` (raw bytes), or `exception` with `:exception-type` `ModelStreamError` /
`InternalStreamFailure` (a JSON payload).
"""

import json
import random
import struct
import zlib

def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (total length, headers length, CRC32), headers,
    payload, CRC32 of everything before it (as botocore/eventstream.py reads it)."""
    encoded = b"".join(_header(k, v) for k, v in headers.items())
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def payload_part(data: bytes) -> bytes:
    return event_message({":message-type": "event", ":event-type": "PayloadPart",
                          ":content-type": "application/octet-stream"}, data)


def stream_exception(kind: str, payload: dict[str, str]) -> bytes:
    return event_message({":message-type": "exception", ":exception-type": kind,
                          ":content-type": "application/json"}, json.dumps(payload).encode())


class Splitter:
    """Cuts the SSE byte stream into PayloadParts: fixed sizes, or random points."""

    def __init__(self, part_bytes: int | None, seed: int) -> None:
        self.part_bytes = part_bytes
        self.random = random.Random(seed)
        self.pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        self.pending += data
        if self.part_bytes:
            size = self.part_bytes
            count = len(self.pending) // size
            parts = [self.pending[i * size:(i + 1) * size] for i in range(count)]
            self.pending = self.pending[count * size:]
            return parts
        if self.random.random() < 0.25:  # sometimes held back to join the next event
            return []
        parts = []
        if len(self.pending) > 1 and self.random.random() < 0.6:
            cut = self.random.randint(1, len(self.pending) - 1)
            parts.append(self.pending[:cut])
            self.pending = self.pending[cut:]
        parts.append(self.pending)
        self.pending = b""
        return parts

    def flush(self) -> list[bytes]:
        parts, self.pending = ([self.pending] if self.pending else []), b""
        return parts
