"""Saved conversations: each signed-in person's chats, one DynamoDB partition per person
(keys.py builds every key), the store, titles, the Markdown export, and the chat paths' part."""
