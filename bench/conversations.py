"""What saved conversations cost: saving on a warm POST /chat answer, and listing 500 conversations.

    python3 bench/conversations.py [--calls 200] [--blocks 4] [--list-runs 20]

The same REST handler (lambda-chat/lambda_function.py) answers from the same fake
SageMaker runtime, signed in, once without CONVERSATIONS_TABLE ("off") and once with it:
a new conversation per answer ("new": one TransactWriteItems), or the next question of one
of 20 conversations ("continued": GetItem + a Query of its messages for the history, then
the transaction). The store is dev/fake_dynamodb.py (moto on 127.0.0.1, one request at a
time). Each block runs in a fresh process, warmed with 20 calls first; the modes alternate
so machine noise hits all alike. Then 500 conversations are written for one person and
GET /conversations (conversations_function.py) is timed reading all of them, page after
page, at limit 100 and at the default 50. Against real DynamoDB in the same region expect a
few ms per call instead of moto's figure. Prints figures only.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambda-chat"), str(ROOT / "dev")]

from fake_dynamodb import LocalDynamoDb  # noqa: E402
from fake_sagemaker import FakeSageMaker  # noqa: E402
from signin_overhead import median_p90  # noqa: E402  (bench/ is the script's own directory)

ANSWER_WORKER = """
import json, sys, time
out, sys.stdout = sys.stdout, open("/dev/null", "w")
sys.path.insert(0, sys.argv[1])
import lambda_function as f
mode, calls = sys.argv[2], int(sys.argv[3])
class Context:
    aws_request_id = "bench"
caller = {"sub": "bench-user", "groups": "", "exp": "9999999999"}
ids = []
def event(i):
    body = {"text": "What is the capital of France?"}
    if mode == "continued" and len(ids) == 20:
        body["conversationId"] = ids[i % 20]
    return {"body": body, "caller": caller}
for i in range(20):
    answer = f.lambda_handler(event(i), Context())
    if mode == "continued":
        ids.append(answer["conversationId"])
times = []
for i in range(calls):
    t = time.perf_counter()
    f.lambda_handler(event(i), Context())
    times.append((time.perf_counter() - t) * 1000)
out.write(json.dumps(times) + "\\n")
"""

LIST_WORKER = """
import json, sys, time
out, sys.stdout = sys.stdout, open("/dev/null", "w")
sys.path.insert(0, sys.argv[1])
import conversations_function as c
from conversations.keys import keys_for, new_conversation_id, turn_key
from conversations.store import SavedTurn
from identity.claims import Caller
runs = int(sys.argv[2])
sub = "bench-lister"
keys = keys_for(Caller(sub, False, None))
start = 1_790_000_000_000
for i in range(500):
    at = start + i * 1000
    c.ROUTES.store.save(keys, SavedTurn(new_conversation_id(), True, f"Conversation number {i} about the weather",
                                        turn_key(at), "q", at, at + 1, "ok", "a"))
def event(limit, cursor):
    query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
    return {"httpMethod": "GET", "resource": "/conversations", "path": "/conversations",
            "queryStringParameters": query, "requestContext": {"authorizer": {"claims": {"sub": sub}}}}
result = {}
for limit in (100, 50):
    times = []
    for _ in range(runs):
        t, cursor, seen, requests = time.perf_counter(), None, 0, 0
        while True:
            body = json.loads(c.lambda_handler(event(limit, cursor), None)["body"])
            seen, cursor, requests = seen + len(body["conversations"]), body["next"], requests + 1
            if cursor is None:
                break
        assert seen == 500, seen
        times.append((time.perf_counter() - t) * 1000)
    result[str(limit)] = {"times": times, "requests": requests}
out.write(json.dumps(result) + "\\n")
"""


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--list-runs", type=int, default=20)
    args = parser.parse_args(argv)
    modes = ("off", "new", "continued")
    with FakeSageMaker(endpoint_state="in-service", first_token_ms=0, tokens_per_second=0) as model:
        db = LocalDynamoDb().start()
        base = {**os.environ, "endpoint": "bench-endpoint", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": model.url,
                "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "ap-northeast-2",
                "AWS_REGION": "ap-northeast-2", "AWS_EC2_METADATA_DISABLED": "true", "PYTHONDONTWRITEBYTECODE": "1",
                "AWS_ENDPOINT_URL_DYNAMODB": db.url, "AUTH": "cognito", "DAILY_ANSWERS_PER_USER": "0"}
        results = {mode: [] for mode in modes}
        for block in range(args.blocks):
            tables = db.create_tables(f"bench{block}")  # every block starts from empty tables
            env = {**base, "USAGE_TABLE": tables["daily-usage"]}
            for mode in modes if block % 2 == 0 else modes[::-1]:
                mode_env = env if mode == "off" else {**env, "CONVERSATIONS_TABLE": tables["conversations"]}
                out = subprocess.run([sys.executable, "-c", ANSWER_WORKER, str(ROOT / "lambda-chat"), mode,
                                      str(args.calls)], env=mode_env, capture_output=True, text=True, check=True)
                results[mode] += json.loads(out.stdout)
        tables = db.create_tables("bench-list")
        out = subprocess.run([sys.executable, "-c", LIST_WORKER, str(ROOT / "lambda-chat"), str(args.list_runs)],
                             env={**base, "CONVERSATIONS_TABLE": tables["conversations"]},
                             capture_output=True, text=True)
        if out.returncode:
            sys.exit(out.stderr)
        listing = json.loads(out.stdout)
        db.stop()
    off_m, off_p = median_p90(results["off"])
    print(f"warm POST /chat answer, signed in, {args.blocks * args.calls} calls each (ms)        median    p90")
    print(f"  conversations off                                             {off_m:7.2f} {off_p:6.2f}")
    for mode, label in (("new", "on, a new conversation each answer (save)"),
                        ("continued", "on, continuing one of 20 (load + save)")):
        m, p = median_p90(results[mode])
        print(f"  {label:<61} {m:7.2f} {p:6.2f}")
        print(f"    added by conversations                                      {m - off_m:7.2f} {p - off_p:6.2f}")
    print(f"GET /conversations, all 500 of one person, {args.list_runs} runs (ms)              median    p90")
    for limit, figures in listing.items():
        m, p = median_p90(figures["times"])
        label = f"limit {limit}: {figures['requests']} requests"
        print(f"  {label:<61} {m:7.2f} {p:6.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
