"""What every entry point shares: the request/response contract (contract.py), the error
mapping of model and AWS failures (failures.py), settings read once at cold start
(settings.py), JSON log lines (logs.py) and the boto3 clients reused across invocations
(aws_clients.py).
"""
