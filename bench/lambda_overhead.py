"""How much time the chat handler itself adds to each request: ours against the seed's style.

    python3 bench/lambda_overhead.py [--calls 400] [--cold-runs 5]      (npm run bench:lambda)

Both handlers call the same fake SageMaker runtime (dev/fake_sagemaker.py, in this
process, on 127.0.0.1) through the real boto3 request/response path. The warm
overhead of one call is the handler's wall time minus the fake model's own time for
that request, which the fake measures server-side. Calls of the two handlers are
interleaved in blocks so machine noise hits both alike; their output goes to
/dev/null. The cold start (module import plus the first call) is measured in fresh
subprocesses. Prints figures only; it asserts nothing.
"""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambda-chat"), str(ROOT / "dev"), str(ROOT / "bench")]

from fake_sagemaker import FakeSageMaker  # noqa: E402

EVENT = {"text": "What is the capital of France?"}
HANDLERS = {"ours": "lambda_function", "seed style": "seed_style_handler"}  # label: module

COLD_START = """
import sys, time
out, sys.stdout = sys.stdout, open("/dev/null", "w")  # what the handler prints or logs
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[2])
module = __import__(sys.argv[1])
t1 = time.perf_counter()
class Context:
    aws_request_id = "cold-start"
module.lambda_handler({"text": "What is the capital of France?"}, Context())
t2 = time.perf_counter()
out.write(f"{(t1 - t0) * 1000:.1f} {(t2 - t0) * 1000:.1f}\\n")
"""


class Context:
    def __init__(self, n: int) -> None:
        self.aws_request_id = f"bench-{n}"


def bench_env(url: str) -> dict[str, str]:
    return {
        "endpoint": "bench-endpoint",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "ap-northeast-2",
        "AWS_REGION": "ap-northeast-2",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def bare_boto3_call() -> Callable[[Any, Any], Any]:
    """The floor: one reused client, invoke_endpoint and read the body, nothing else."""
    import boto3
    client = boto3.client("sagemaker-runtime")
    body = json.dumps({"inputs": EVENT["text"], "parameters": {}}).encode()

    def call(event: Any, context: Any) -> bytes:
        return client.invoke_endpoint(EndpointName="bench-endpoint", ContentType="application/json",
                                      Body=body)["Body"].read()
    return call


def overheads(handler: Callable[[Any, Any], Any], fake: FakeSageMaker, calls: int) -> list[float]:
    """Per-call handler time minus the fake's own time, in ms."""
    result = []
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        for n in range(calls):
            fake.clear()
            started = time.perf_counter()
            handler(EVENT, Context(n))
            elapsed = (time.perf_counter() - started) * 1000
            [request] = fake.requests
            result.append(elapsed - request.model_ms)
    return result


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cold_start(module: str, env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median (import ms, import + first call ms) over fresh interpreters."""
    imports, totals = [], []
    for _ in range(runs):
        directory = str(ROOT / ("lambda-chat" if module == "lambda_function" else "bench"))
        done = subprocess.run([sys.executable, "-c", COLD_START, module, directory],
                              env={**os.environ, **env, "PYTHONDONTWRITEBYTECODE": "1"},
                              capture_output=True, text=True, timeout=60, check=True)
        imported, total = map(float, done.stdout.split())
        imports.append(imported)
        totals.append(total)
    return statistics.median(imports), statistics.median(totals)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400, help="measured warm calls per handler")
    parser.add_argument("--block", type=int, default=50, help="calls per interleaved block")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh processes per handler")
    args = parser.parse_args()

    with FakeSageMaker() as fake:
        env = bench_env(fake.url)
        os.environ.update(env)
        for name in ("LOG_PROMPTS", "AWS_LAMBDA_LOG_FORMAT", "AWS_PROFILE"):
            os.environ.pop(name, None)
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            handlers = {label: __import__(module).lambda_handler for label, module in HANDLERS.items()}
        handlers["boto3 floor"] = bare_boto3_call()

        for handler in handlers.values():  # warm up: client, connection, caches
            overheads(handler, fake, 20)
        samples: dict[str, list[float]] = {label: [] for label in handlers}
        for _ in range(max(1, args.calls // args.block)):
            for label, handler in handlers.items():
                samples[label] += overheads(handler, fake, args.block)

        print(f"Warm overhead per call (handler time minus the fake model's own time), "
              f"{len(samples['ours'])} calls each, Python {sys.version.split()[0]}:")
        for label, values in samples.items():
            print(f"  {label:<11} mean {statistics.fmean(values):7.2f} ms   "
                  f"p50 {percentile(values, 50):7.2f} ms   p95 {percentile(values, 95):7.2f} ms")
        ratio = statistics.fmean(samples["seed style"]) / statistics.fmean(samples["ours"])
        print(f"  seed style / ours (mean): {ratio:.1f}x; ours minus the boto3 floor (mean): "
              f"{statistics.fmean(samples['ours']) - statistics.fmean(samples['boto3 floor']):.2f} ms")

        print(f"Cold start (fresh process: import, then import + first call), median of {args.cold_runs}:")
        for label, module in HANDLERS.items():
            imported, total = cold_start(module, env, args.cold_runs)
            print(f"  {label:<11} import {imported:7.1f} ms   import + first call {total:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
