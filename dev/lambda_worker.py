"""A warm local stand-in for the Lambda runtime, used by dev/server.ts.

One long-lived process imports the handler module once (so module-level set-up,
such as a boto3 client, is shared between invocations as in a warm Lambda) and
answers JSON-lines requests, one at a time:

    stdin : {"id": 1, "event": {...}}
    stdout: {"id": 1, "ok": true,  "result": {...}}
            {"id": 1, "ok": false, "errorMessage": "...", "errorType": "...", "stackTrace": [...]}

Before the first request it prints {"ready": true} or {"fatal": "..."}.
Anything the handler prints or logs goes to stderr (Lambda's CloudWatch log),
never into the protocol stream. Stops at end of input or on SIGTERM.

    python3 dev/lambda_worker.py [--handler lambda-chat/lambda_function.lambda_handler
        | lambda-chat/stream_failures.notice.lambda_handler]
        [--function-name lambda-chat-api] [--timeout-s 120] [--memory-mb 256]
"""

import argparse
import importlib.util
import json
import os
import signal
import sys
import time
import traceback
import uuid


class FakeContext:
    """The attributes and method of the Lambda context object a handler may use."""

    def __init__(self, function_name, timeout_s, memory_mb, region):
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = str(memory_mb)
        self.invoked_function_arn = f"arn:aws:lambda:{region}:000000000000:function:{function_name}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handler", default="lambda-chat/lambda_function.lambda_handler",
                        help="path/to/module.function, relative to the current directory")
    parser.add_argument("--function-name", default="lambda-chat-api")
    parser.add_argument("--timeout-s", type=float, default=120.0)
    parser.add_argument("--memory-mb", type=int, default=256)
    return parser.parse_args(argv)


def load_handler(spec):
    """Import module path/to/module.py once and return its handler function. As in the
    runtime, the module may be in a package of that root: root/package.module.function."""
    module_path, _, function = spec.rpartition(".")
    directory, module_name = os.path.split(module_path)
    # The Lambda's own directory is the root of its imports, as in the runtime.
    sys.path.insert(0, os.path.abspath(directory or "."))
    if "." in module_name:
        module = importlib.import_module(module_name)
    else:
        module_spec = importlib.util.spec_from_file_location(module_name, f"{module_path}.py")
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"No module file {module_path}.py")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)
    handler = getattr(module, function, None)
    if not callable(handler):
        raise AttributeError(f"Handler '{function}' missing on module '{module_name}'")
    return handler


def error_reply(request_id, error_message, error_type, stack=None):
    return {"id": request_id, "ok": False, "errorMessage": error_message,
            "errorType": error_type, "stackTrace": stack or []}


def invoke(handler, request_id, event, args, region):
    """Run the handler once; return the reply as one JSON line."""
    context = FakeContext(args.function_name, args.timeout_s, args.memory_mb, region)
    print(f"START RequestId: {context.aws_request_id} Version: $LATEST", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        result = handler(event, context)
        try:
            line = json.dumps({"id": request_id, "ok": True, "result": result,
                               "requestId": context.aws_request_id})
        except (TypeError, ValueError) as error:
            line = json.dumps({**error_reply(request_id, f"Unable to marshal response: {error}",
                                             "Runtime.MarshalError"),
                               "requestId": context.aws_request_id})
    except Exception as error:  # what the runtime reports as the function error
        reply = {**error_reply(request_id, str(error), type(error).__name__,
                               traceback.format_exception(error)),
                 "requestId": context.aws_request_id}
        # The runtime logs the error with its trace; the caller only ever sees errorMessage.
        print(f"[ERROR] {type(error).__name__}: {error}", file=sys.stderr)
        print("".join(reply["stackTrace"]), end="", file=sys.stderr, flush=True)
        line = json.dumps(reply)
    elapsed = (time.monotonic() - started) * 1000
    print(f"END RequestId: {context.aws_request_id}\nREPORT RequestId: {context.aws_request_id}\t"
          f"Duration: {elapsed:.2f} ms", file=sys.stderr, flush=True)
    return line


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Keep the protocol stream for ourselves; whatever else writes to fd 1 lands on stderr.
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(message):
        protocol.write((message if isinstance(message, str) else json.dumps(message)) + "\n")

    # Ctrl-C reaches the whole process group; the dev server decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    if importlib.util.find_spec("boto3") is None:  # the handler needs it; say so plainly
        send({"fatal": f"boto3 is not installed for {sys.executable} (pip install boto3)"})
        return 3

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    try:
        handler = load_handler(args.handler)
        import_error = None
    except Exception as error:
        # The real runtime fails every invocation with this; keep serving so the
        # developer can see it on each request (and fix the file, then restart).
        traceback.print_exc()
        handler = None
        import_error = error_reply(None, f"Unable to import module '{args.handler}': {error}",
                                   "Runtime.ImportModuleError")
    send({"ready": True})

    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            request_id, event = request["id"], request["event"]
        except (ValueError, KeyError, TypeError) as error:
            send(error_reply(None, f"bad worker request: {error}", "Worker.BadRequest"))
            continue
        if handler is None:
            send({**import_error, "id": request_id})
            continue
        send(invoke(handler, request_id, event, args, region))
    return 0


if __name__ == "__main__":
    sys.exit(main())
