"""`terraform validate` on synthesized stacks with the real AWS provider.

Run: `npm run test:validate`. Validates the project's own stacks (cdktf.json as it is)
and the variants below, which switch on what the defaults leave off, so every resource
the code can produce meets the real provider's schema. All stacks are modules of one
root, validated by one `terraform validate`, with a deliberately broken canary beside
them that must fail. Offline on this project's machines (provider mirror, see
tfharness.py); with the public registry elsewhere. Exits non-zero when any stack is
invalid, printing Terraform's diagnostics.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from tfharness import log, prepare_stack, run, synth_many, terraform_env

# (label, CHATBOT_* settings) synthesized on top of cdktf.json; each becomes its own stacks.
VARIANTS: list[tuple[str, dict[str, str]]] = [
    ("project", {}),
    # The optional parts that do not exclude each other, in one stack (each stack adds
    # seconds of CPU to the validate).
    ("everything on: model, tracing, alarm e-mail, budget, allow-lists, a custom domain with its certificate requested, "
     "self sign-up limited to domains (trigger), MFA, saved conversations with a retention (TTL on), deletion protection", {
        "CHATBOT_ENVIRONMENTS": "dev", "CHATBOT_MODEL_DEPLOY": "true", "CHATBOT_TRACING": "true",
        "CHATBOT_ALARM_EMAIL": "ops@example.com", "CHATBOT_BUDGET_MONTHLY_USD": "1500",
        "CHATBOT_ALLOWED_IP_RANGES": "203.0.113.0/24,2001:db8::/32", "CHATBOT_ALLOWED_COUNTRIES": "KR,US",
        "CHATBOT_DOMAIN_NAME": "chat.example.com", "CHATBOT_HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ",
        "CHATBOT_SELF_SIGN_UP": "true", "CHATBOT_ALLOWED_EMAIL_DOMAINS": "example.com", "CHATBOT_MFA": "optional",
        "CHATBOT_USER_POOL_DELETION_PROTECTION": "true", "CHATBOT_DAILY_ANSWERS_PER_USER": "0",
        "CHATBOT_CONVERSATIONS": "true", "CHATBOT_CONVERSATION_RETENTION_DAYS": "30"}),
    ("Falcon3-10B from the user's S3 prefix, network isolation on", {
        "CHATBOT_ENVIRONMENTS": "dev", "CHATBOT_MODEL_DEPLOY": "true", "CHATBOT_MODEL_ID": "tiiuae/Falcon3-10B-Instruct",
        "CHATBOT_MODEL_DATA_S3_URI": "s3://my-models/falcon3-10b/", "CHATBOT_REGION": "af-south-1"}),
    ("Falcon 40B as JumpStart deploys it, on ml.g5.48xlarge", {
        "CHATBOT_ENVIRONMENTS": "dev", "CHATBOT_MODEL_DEPLOY": "true", "CHATBOT_MODEL_ID": "huggingface-llm-falcon-40b-instruct-bf16",
        "CHATBOT_MODEL_INSTANCE_TYPE": "ml.g5.48xlarge"}),
    ("open site (auth none)", {"CHATBOT_ENVIRONMENTS": "dev", "CHATBOT_AUTH": "none"}),
    ("existing certificate, no WAF, no API key, no streaming", {
        "CHATBOT_ENVIRONMENTS": "dev", "CHATBOT_WAF": "false", "CHATBOT_CLOUDFRONT_ONLY": "false", "CHATBOT_STREAMING": "false",
        "CHATBOT_DOMAIN_NAME": "chat.example.com",
        "CHATBOT_CERTIFICATE_ARN": "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"}),
]


# A copy of the smallest stack with one argument the provider does not have, validated
# beside the others: the run must report exactly that error, in that module, so a
# validation that stopped looking into the modules cannot pass unnoticed.
CANARY = "canary"
CANARY_ARGUMENT = "not_an_argument_of_this_resource"

# Each stack is a root module of its own (its backend block included) when it is deployed;
# here it is a module of one root, and Terraform says it ignores a backend there. Nothing
# is lost: a root's `terraform validate` after `init -backend=false` does not read the
# backend block either (a made-up backend argument passes it).
BACKEND_IGNORED = "Backend configuration ignored"


def module_name(index: int, stack: str) -> str:
    """The module block's name for a variant's stack (a name must start with a letter)."""
    return f"v{index}-{stack}"


def main() -> int:
    # A stack synthesized the same way by several variants (the account stack) is validated once.
    seen: dict[str, str] = {}
    # module name -> (printed name, its directory under the root)
    modules: dict[str, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="tf-validate-") as tmp:
        work = Path(tmp)
        root = work / "validate"
        env = terraform_env(work)
        outdirs = [work / f"cdktf.out-{index}" for index in range(len(VARIANTS))]
        synthesized = synth_many([(out, settings) for out, (_, settings) in zip(outdirs, VARIANTS)])
        for index, ((label, _), out, stacks) in enumerate(zip(VARIANTS, outdirs, synthesized)):
            for stack in stacks:
                name = f"{stack} ({label})"
                text = (out / "stacks" / stack / "cdk.tf.json").read_text()
                if text in seen:
                    log(f"same {name}: identical to {seen[text]}, validated there")
                    continue
                seen[text] = name
                prepare_stack(out / "stacks" / stack, root / str(index) / stack)
                modules[module_name(index, stack)] = (name, f"{index}/{stack}")
        smallest = min(modules, key=lambda m: len((root / modules[m][1] / "cdk.tf.json").read_text()))
        add_canary(root / modules[smallest][1], root / CANARY)
        modules[CANARY] = (f"{CANARY} (a copy of {modules[smallest][0]} with {CANARY_ARGUMENT})", CANARY)

        # One root that calls every stack as a module: the provider's schema, which each
        # terraform command builds anew (seconds of CPU), is built once for all of them.
        (root / "main.tf.json").write_text(json.dumps({"module": {m: {"source": f"./{d}"} for m, (_, d) in modules.items()}}, indent=2))
        run(["terraform", "init", "-backend=false", "-input=false", "-no-color"], cwd=root, env=env)
        result = run(["terraform", "validate", "-json", "-no-color"], cwd=root, env=env, capture=True)
        report = json.loads(result.stdout)
        return judge(root, modules, report["diagnostics"])


def add_canary(source: Path, canary: Path) -> None:
    """Copies a prepared stack and gives its first resource an argument no provider schema has."""
    shutil.copytree(source, canary)
    doc = json.loads((canary / "cdk.tf.json").read_text())
    first = next(iter(next(iter(doc["resource"].values())).values()))
    first[CANARY_ARGUMENT] = True
    (canary / "cdk.tf.json").write_text(json.dumps(doc, indent=2))


def judge(root: Path, modules: dict[str, tuple[str, str]], diagnostics: list[dict]) -> int:
    """Prints each stack's diagnostics and verdict; returns the exit status."""
    by_module: dict[str, list[dict]] = {m: [] for m in modules}
    failures = 0
    for d in diagnostics:
        if d["severity"] == "warning" and d["summary"] == BACKEND_IGNORED:
            continue
        where = d.get("range", {}).get("filename", "")
        owner = next((m for m, (_, directory) in modules.items() if where.startswith(f"{directory}/")), None)
        if owner is None:  # not in any stack's files: the root's own, or one without a place
            log(f"  validate root: {d['severity']}: {d['summary']} {where}\n    {d.get('detail', '')}")
            failures += d["severity"] == "error"
        else:
            by_module[owner].append(d)
    for module, (name, directory) in modules.items():
        found = by_module[module]
        for d in found:
            log(f"  {name}: {d['severity']}: {d['summary']} {d.get('range', {}).get('filename', '')}\n    {d.get('detail', '')}")
        errors = [d for d in found if d["severity"] == "error"]
        if module == CANARY:
            caught = len(errors) == 1 and CANARY_ARGUMENT in errors[0].get("detail", "") + errors[0]["summary"]
            log(f"{'ok  ' if caught else 'FAIL'} {name}: {'its one error reported' if caught else 'expected exactly its one error'}")
            failures += 0 if caught else 1
            continue
        resources = json.loads((root / directory / "cdk.tf.json").read_text()).get("resource", {})
        count = sum(len(r) for r in resources.values())
        if errors:
            failures += 1
            log(f"FAIL {name}: {len(errors)} errors")
        else:
            log(f"ok   {name}: valid ({len(found)} warnings, {count} resources of {len(resources)} types)")
    stacks = len(modules) - 1
    log(f"terraform validate: {stacks - failures} passed, {failures} failed ({stacks} stacks and the canary in one run)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
