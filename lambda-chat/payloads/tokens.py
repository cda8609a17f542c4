"""An upper estimate of a Falcon model's token count, calibrated per family (MODEL_TOKENIZER).

Both families use byte-level BPE tokenizers: no piece is shorter than one byte, so a
non-ASCII character costs at most its UTF-8 length (Korean and CJK 3, emoji 4, accented
Latin 2) in either. They differ in how much English one token holds: the 2023 Falcon's
65K vocabulary is estimated at 3 ASCII letters a token; Falcon 3's 131K vocabulary (twice
the merges) at 4. English averages more than either per token; rare words fewer, which
the rest of a text makes up for. Per maximal run: ASCII letters ceil(n/k); digits 1 each;
other ASCII symbols 1 each; each line break or tab 1; a single space 0 (BPE merges it
into the next word), each further space 1. Splitting a text never lowers the sum, so the
estimates of a prompt's parts add up to at least the whole's.
"""

import math

LETTERS_PER_TOKEN = {"falcon": 3, "falcon3": 4}
FAMILIES = tuple(LETTERS_PER_TOKEN)


def estimate_tokens(text: str, family: str = "falcon") -> int:
    letters = LETTERS_PER_TOKEN[family]
    total = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        j = i + 1
        if ch.isascii() and ch.isalpha():
            while j < n and text[j].isascii() and text[j].isalpha():
                j += 1
            total += math.ceil((j - i) / letters)
        elif ch == " ":
            while j < n and text[j] == " ":
                j += 1
            total += j - i - 1
        elif ch.isascii():
            total += 1  # a digit, a symbol, a line break or tab
        else:
            total += len(ch.encode("utf-8", "surrogatepass"))
        i = j
    return total
