"""The functions' reasons agree with contract/error-reasons.json and contract/chat-errors.json."""

import json
import re
from pathlib import Path

import pytest

from core import contract
from core.contract import ChatError

CONTRACT = Path(__file__).resolve().parents[2] / "contract"
REASONS = json.loads((CONTRACT / "error-reasons.json").read_text())["reasons"]
MAPPINGS = json.loads((CONTRACT / "chat-errors.json").read_text())["errors"]


def test_default_reason_of_each_status_is_the_contracts():
    assert contract.DEFAULT_REASONS == {m["statusCode"]: m["reason"] for m in MAPPINGS}


@pytest.mark.parametrize("reason", [contract.CONNECTION_LIMIT, contract.BUSY, contract.STREAM_FAILED, *contract.DEFAULT_REASONS.values()])
def test_every_reason_the_functions_give_is_defined_in_the_contract(reason):
    assert reason in REASONS


@pytest.mark.parametrize(("error", "raised"), [
    (ChatError(503, "the model is not running"), "[503] the model is not running"),
    (ChatError(429, "too many answers", "connection_limit"), "[429:connection_limit] too many answers"),
    (ChatError(429, "the model is busy", "busy"), "[429] the model is busy"),
])
def test_a_reason_other_than_the_default_travels_in_the_prefix_and_selects_the_same_status(error, raised):
    assert str(error) == raised
    selected = [m["statusCode"] for m in MAPPINGS if re.fullmatch(m["selectionPattern"], raised)]
    assert selected == [error.status]
    assert REASONS[error.reason]["status"] == error.status
