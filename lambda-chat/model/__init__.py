"""Calling the SageMaker endpoint: the request and its retries (client.py), the response
stream (stream.py) and the prompt plan that fits a question and its history into the
model's token budget (prompt.py). The payload styles themselves are in payloads/.
"""
