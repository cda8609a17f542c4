"""Who is asking: sign-in settings, the caller from the authorizer's claims, WebSocket tickets
and the daily answer allowance (docs/signin.md). Issue 17's saved conversations key on the
same `Caller.user_id` (the ID token's `sub`), built in one place: claims.py.
"""
