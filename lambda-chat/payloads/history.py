"""A history a chat template accepts: user and assistant turns alternating, a user turn first.

Chat templates (the 2023 Falcon's on the Hub among them) refuse other orders, and a page
can send them: a question whose answer failed leaves two user turns in a row. Rules:
- a user turn followed by another user turn got no answer: the later one stays;
- assistant turns before the first user turn answer nothing: dropped;
- consecutive assistant turns are one answer: joined with a blank line;
- a user turn at the end got no answer (the new question follows it): dropped.
The result is a sequence of (user, assistant) exchanges, so trimming by whole exchanges
keeps it alternating.
"""

from typing import Sequence

from core.contract import Turn


def alternating(history: Sequence[Turn]) -> tuple[Turn, ...]:
    turns: list[Turn] = []
    for turn in history:
        if turn.role == "user":
            if turns and turns[-1].role == "user":
                turns[-1] = turn
            else:
                turns.append(turn)
        elif turns and turns[-1].role == "assistant":
            turns[-1] = Turn("assistant", f"{turns[-1].content}\n\n{turn.content}")
        elif turns:
            turns.append(turn)
    if turns and turns[-1].role == "user":
        turns.pop()
    return tuple(turns)


def exchanges(turns: Sequence[Turn]) -> list[tuple[Turn, Turn]]:
    """The (user, assistant) pairs of an alternating history."""
    return [(turns[i], turns[i + 1]) for i in range(0, len(turns) - 1, 2)]
