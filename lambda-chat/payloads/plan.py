"""What one attempt sends to the model: the prompt (or messages) and what it kept of the history."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PromptPlan:
    prompt: str  # inputs: the prompt sent; messages: the stand-in rendering (estimates, logs)
    history_used: int  # entries of the request's history that are in the prompt
    history_dropped: int
    estimated_tokens: int
    style: str = "inputs"
    messages: tuple[dict[str, str], ...] | None = None  # the Messages API's turns
    conversation: bool = False  # an inputs prompt with labelled turns: the model may go on to write "User:"
