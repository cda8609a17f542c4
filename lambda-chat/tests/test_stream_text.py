"""What the stream job sends out of the model's tokens: the same text POST /chat answers.

`AnswerShaper` is fed token texts; whatever it returns is sent. Cut anywhere, the
pieces must join to `cut_at_stop(answer).strip()`, which is POST /chat's answer.
"""

import json
import random

import pytest


@pytest.fixture
def shaping(handler):
    from streaming import text as stream_text
    return stream_text


@pytest.fixture
def cut_at_stop(handler):
    from model.client import cut_at_stop
    return cut_at_stop


STOPS = ["<|endoftext|>", "</s>", "\nUser:"]
ANSWERS = [
    " Paris is the capital.", "  Paris.<|endoftext|>User: more", " About 2.1 million.\nUser: thanks",
    "\n\n  spaced   out  \n", " almost a stop <|endof and on", " ends in a prefix <", " </s> nothing before",
    " 서울은 대한민국의 수도입니다.</s>", " a < b and c </ d", " \nUser", " x\nUse", "<|endoftext|>",
]


def shape(shaping, pieces, stops=STOPS):
    shaper = shaping.AnswerShaper(stops)
    sent = [shaper.feed(p) for p in pieces] + [shaper.finish()]
    assert "".join(sent) == shaper.text
    return [s for s in sent if s], shaper


@pytest.mark.parametrize("answer", ANSWERS)
def test_any_split_of_the_answer_sends_exactly_what_post_chat_answers(shaping, cut_at_stop, answer):
    rng = random.Random(answer)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(answer)), k=rng.randint(0, min(6, len(answer) - 1))))
        pieces = [answer[i:j] for i, j in zip([0, *cuts], [*cuts, len(answer)])]
        sent, _ = shape(shaping, pieces)
        assert "".join(sent) == cut_at_stop(answer, STOPS).strip(), pieces


def test_character_by_character_nothing_of_a_stop_sequence_is_sent(shaping):
    sent, shaper = shape(shaping, list(" Paris.<|endoftext|>User: more"))
    assert sent == ["P", "a", "r", "i", "s", "."] and shaper.stopped


def test_overlapping_stop_sequences_cut_at_the_earliest(shaping):
    sent, _ = shape(shaping, ["x a", "b"], stops=["ab", "b"])
    assert "".join(sent) == "x"


def test_held_tail_that_never_becomes_a_stop_sequence_is_sent_at_the_end(shaping):
    sent, shaper = shape(shaping, [" a <", "|end"])
    assert sent == ["a", " <|end"] and not shaper.stopped


def test_nothing_is_sent_after_a_stop_sequence(shaping):
    shaper = shaping.AnswerShaper(STOPS)
    assert shaper.feed(" done</s>") == "done"
    assert shaper.feed(" more") == "" and shaper.finish() == ""


@pytest.mark.parametrize("text", ["plain " * 5000, "서울 " * 4000, '"\\\n\t\x01' * 3000, "😀" * 9000])
def test_split_text_keeps_each_piece_within_the_limit_and_loses_nothing(shaping, text):
    pieces = shaping.split_text(text, 16 * 1024)
    assert "".join(pieces) == text
    assert len(pieces) > 1
    assert all(0 < len(json.dumps(p, ensure_ascii=False).encode()) - 2 <= 16 * 1024 for p in pieces)


def test_split_text_leaves_small_text_whole(shaping):
    assert shaping.split_text("short", 16 * 1024) == ["short"]
    assert shaping.split_text("", 16 * 1024) == []
