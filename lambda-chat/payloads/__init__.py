"""How the functions talk to the model, one module per payload style (PAYLOAD_STYLE).

- `inputs` (inputs.py): TGI's generate body `{"inputs": prompt, "parameters": {...}}`, the
  seed's, with a prompt the function formats; answered with `generated_text`.
- `messages` (messages.py): TGI's OpenAI-style Messages API `{"messages": [...]}`; the
  server applies the model's chat template; answered with `choices[0].message.content`.

history.py makes a history a chat template accepts (alternating, starting with a user
turn); tokens.py is the tokenizer stand-in, calibrated per model family.
"""

INPUTS = "inputs"
MESSAGES = "messages"
STYLES = (INPUTS, MESSAGES)
