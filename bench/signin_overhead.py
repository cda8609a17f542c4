"""What sign-in and the daily allowance add to a warm answer: `auth: cognito` against `auth: none`.

    python3 bench/signin_overhead.py [--calls 300] [--blocks 4]      (npm run bench:signin)

The same REST handler (lambda-chat/lambda_function.py) answers from the same fake
SageMaker runtime, once as the open stack runs it and once as the signed-in stack does
(the authorizer's caller in the event; one conditional UpdateItem per answer against
dev/fake_dynamodb.py, moto on 127.0.0.1). Each block runs in a fresh process, warmed
with 20 calls first; blocks of the two alternate so machine noise hits both alike. Also
times minting a ticket (POST /chat/ticket) and consuming it ($connect). Against real
DynamoDB in the same region expect a few ms per call instead of moto's figure; API
Gateway's Cognito authorizer caches a token's verdict (default 300 s), which is not
measured here. Prints figures only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambda-chat"), str(ROOT / "dev")]

from fake_dynamodb import LocalDynamoDb  # noqa: E402
from fake_sagemaker import FakeSageMaker  # noqa: E402

WORKER = """
import json, sys, time
out, sys.stdout = sys.stdout, open("/dev/null", "w")
sys.path.insert(0, sys.argv[1])
import lambda_function as f
signed_in = sys.argv[2] == "cognito"
calls = int(sys.argv[3])
class Context:
    aws_request_id = "bench"
def event(i):
    body = {"text": "What is the capital of France?"}
    return {"body": body, "caller": {"sub": f"bench-user-{i % 50}", "groups": "", "exp": "9999999999"}} if signed_in else body
for i in range(20):
    f.lambda_handler(event(i), Context())
times = []
for i in range(calls):
    t = time.perf_counter()
    f.lambda_handler(event(i), Context())
    times.append((time.perf_counter() - t) * 1000)
extra = {}
if signed_in:
    import stream_function as s
    mint, consume = [], []
    for i in range(50):
        t = time.perf_counter()
        ticket = f.lambda_handler({"action": "ticket", "caller": {"sub": "bench-user", "groups": "", "exp": "9999999999"}}, Context())["ticket"]
        mint.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        assert s.TICKETS.consume(ticket) is not None
        consume.append((time.perf_counter() - t) * 1000)
    extra = {"mint": mint, "consume": consume}
out.write(json.dumps({"answer": times, **extra}) + "\\n")
"""


def median_p90(xs):
    xs = sorted(xs)
    return statistics.median(xs), xs[int(0.9 * (len(xs) - 1))]


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=4)
    args = parser.parse_args(argv)
    with FakeSageMaker(endpoint_state="in-service", first_token_ms=0, tokens_per_second=0) as model:
        db = LocalDynamoDb().start()
        tables = db.create_tables("bench")
        base = {**os.environ, "endpoint": "bench-endpoint", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": model.url,
                "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "ap-northeast-2",
                "AWS_REGION": "ap-northeast-2", "AWS_EC2_METADATA_DISABLED": "true", "PYTHONDONTWRITEBYTECODE": "1"}
        signed = {"AUTH": "cognito", "USAGE_TABLE": tables["daily-usage"], "TICKETS_TABLE": tables["tickets"],
                  "DAILY_ANSWERS_PER_USER": "0", "AWS_ENDPOINT_URL_DYNAMODB": db.url,
                  "CONNECTIONS_ENDPOINT": "http://127.0.0.1:9/stream", "ALLOWED_ORIGINS": '["https://bench.example"]'}
        results = {"none": {"answer": []}, "cognito": {"answer": [], "mint": [], "consume": []}}
        for block in range(args.blocks):
            for mode in ("none", "cognito") if block % 2 == 0 else ("cognito", "none"):
                env = {**base, **(signed if mode == "cognito" else {})}
                out = subprocess.run([sys.executable, "-c", WORKER, str(ROOT / "lambda-chat"), mode, str(args.calls)],
                                     env=env, capture_output=True, text=True, check=True).stdout
                for key, values in json.loads(out).items():
                    results[mode][key] += values
        db.stop()
    none_m, none_p = median_p90(results["none"]["answer"])
    auth_m, auth_p = median_p90(results["cognito"]["answer"])
    print(f"warm answer through the REST handler, {args.blocks * args.calls} calls each (ms)   median    p90")
    print(f"  auth: none                                                     {none_m:7.2f} {none_p:6.2f}")
    print(f"  auth: cognito (caller from claims + allowance UpdateItem)      {auth_m:7.2f} {auth_p:6.2f}")
    print(f"  added by sign-in and the allowance                             {auth_m - none_m:7.2f} {auth_p - none_p:6.2f}")
    for key, label in (("mint", "POST /chat/ticket (PutItem)"), ("consume", "$connect ticket consume (DeleteItem)")):
        m, p = median_p90(results["cognito"][key])
        print(f"  {label:<62} {m:7.2f} {p:6.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
