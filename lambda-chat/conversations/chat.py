"""The chat paths' part of saved conversations: the history from the store, the turn saved at the end.

With a `conversationId` the function reads that conversation of the caller (404 when it is
not theirs) and builds the history itself from its `ok` turns, newest first, until they
would fill the model's input budget by the estimate (the prompt's own trimming then picks
what fits exactly); a history the client sent is ignored. Without one, the answer starts a
new conversation, created only when the answer succeeds (an error body has no room for a
new id: the page keeps a failed first question and Retry sends it again without an id).
The turn is saved once, at the end: ok, failed (existing conversations only) or stopped
with what was shown. A save that fails never costs the answer: it is logged, and the
answer says `"saved": false`.
"""

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable

from core.contract import ChatError, ChatRequest, Turn
from core.failures import describe
from core.logs import log
from conversations.items import now_ms
from conversations.keys import UserKeys, keys_for, new_conversation_id, turn_key, turn_of
from conversations.store import ConversationStore, SavedTurn
from conversations.titles import title_from_question
from identity.claims import Caller
from payloads.tokens import estimate_tokens


@dataclass(frozen=True)
class History:
    turns: tuple[Turn, ...]  # oldest first, only the ok turns read
    newest_turn: str | None  # the conversation's newest turn key
    newest_failed: bool


def read_history(messages: Iterable[dict[str, Any]], budget: int, family: str) -> History:
    """The ok turns of `messages` (newest first, as the store reads them) until they exceed `budget` tokens."""
    turns: list[tuple[Turn, Turn]] = []
    newest: str | None = None
    newest_failed, spent = False, 0
    answer: dict[str, Any] | None = None
    for item in messages:
        turn = turn_of(item["item_key"]["S"])
        if newest is None:
            newest = turn
        if item["role"]["S"] == "assistant":
            answer = item
            if turn == newest:
                newest_failed = item.get("status", {}).get("S") == "failed"
            continue
        if answer is None or turn_of(answer["item_key"]["S"]) != turn:
            continue  # a question without its answer (cannot happen with transactions): skipped
        if answer.get("status", {}).get("S") == "ok" and "content" in answer:
            pair = (Turn("user", item["content"]["S"]), Turn("assistant", answer["content"]["S"]))
            turns.append(pair)
            spent += sum(estimate_tokens(t.content, family) for t in pair)
            if spent > budget:
                break
        answer = None
    return History(tuple(t for pair in reversed(turns) for t in pair), newest, newest_failed)


class ConversationTurn:
    """One question of a chat path with conversations on, from loading to saving."""

    def __init__(self, store: ConversationStore, keys: UserKeys, request: ChatRequest,
                 history: History | None, question_at: int, request_id: str | None) -> None:
        self.store = store
        self.keys = keys
        self.existing = history is not None
        self.conversation_id = request.conversation_id if history is not None else new_conversation_id()
        self.request = dataclasses.replace(request, history=history.turns if history else ())
        self.question_at = question_at
        self.request_id = request_id
        self.replaces_failed = bool(history and request.retry and history.newest_failed)
        newest = int(history.newest_turn) if history and history.newest_turn else -1
        self.turn = (history.newest_turn if self.replaces_failed and history and history.newest_turn
                     else turn_key(max(question_at, newest + 1)))
        self.saved: bool | None = None  # None until the turn is saved (or given up)

    def answered(self, text: str) -> dict[str, Any]:
        """Saves the answer; what the answer (POST body, `done` frame) adds about the conversation."""
        self._save("ok", text, None)
        return self.answer_fields()

    def failed(self, error: ChatError) -> dict[str, Any]:
        """Saves a failed answer of an existing conversation (a new one is not created)."""
        if not self.existing:
            return {}
        self._save("failed", None, error)
        return self.answer_fields()

    def stopped(self, shown: str) -> None:
        """The client left (or could not be reached) after `shown` was posted: saved as stopped."""
        if shown:
            self._save("stopped", shown, None)

    def answer_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.saved or self.existing:
            fields["conversationId"] = self.conversation_id
        if self.saved is False:
            fields["saved"] = False
        return fields

    def _save(self, status: str, answer: str | None, error: ChatError | None) -> None:
        if self.saved is not None:
            return  # once per question
        try:
            self.store.save(self.keys, SavedTurn(
                conversation_id=self.conversation_id, new=not self.existing,
                title=None if self.existing else title_from_question(self.request.text), turn=self.turn,
                question=self.request.text, question_at=self.question_at, answer_at=now_ms(),
                status=status, answer=answer, error=error, replaces_failed=self.replaces_failed))
            self.saved = True
        except Exception as cause:
            self.saved = False
            log.warning("conversation not saved: the answer is given without it", extra={
                "requestId": self.request_id, "conversationId": self.conversation_id, "status_saved": status,
                "cause": describe(cause)})


def begin_turn(store: ConversationStore, caller: Caller, request: ChatRequest, budget: int, family: str,
               question_at: int, request_id: str | None) -> ConversationTurn:
    """Loads the conversation named by the request (404 when it is not the caller's) and its history."""
    keys = keys_for(caller)
    history = None
    if request.conversation_id is not None:
        store.conversation(keys, request.conversation_id)
        history = read_history(store.all_messages(keys, request.conversation_id, newest_first=True),
                               budget, family)
    return ConversationTurn(store, keys, request, history, question_at, request_id)
