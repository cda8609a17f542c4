"""The WebSocket path's parts behind stream_function.py: the stream job that asks the model
and posts frames (job.py), frame posting through the management API (frames.py), the
per-connection answer cap (connections.py) and how streamed text is cut and batched (text.py).
"""
