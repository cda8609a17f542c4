"""`terraform validate` on synthesized stacks with the real AWS provider.

Run: `npm run test:validate`. Validates the project's own stacks (cdktf.json as it is)
and the variants below, which switch on what the defaults leave off, so every resource
the code can produce meets the real provider's schema. Offline on this project's
machines (provider mirror, see tfharness.py); with the public registry elsewhere.
Exits non-zero when any stack is invalid, printing Terraform's diagnostics.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tfharness import log, prepare_stack, run, synth_many, terraform_env

# (label, CHATBOT_* settings) synthesized on top of cdktf.json; each becomes its own stacks.
VARIANTS: list[tuple[str, dict[str, str]]] = [
    ("project", {}),
    # The optional parts that do not exclude each other, in one stack (each validate costs
    # seconds of CPU: the provider builds its whole schema every time).
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


def main() -> int:
    failures = 0
    validated = 0
    # A stack synthesized the same way by several variants (the account stack) is validated once.
    seen: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="tf-validate-") as tmp:
        work = Path(tmp)
        # One provider copy for every stack: init links it instead of unpacking it again.
        (work / "plugin-cache").mkdir()
        env = terraform_env(work, {"TF_PLUGIN_CACHE_DIR": str(work / "plugin-cache")})
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
                stack_dir = prepare_stack(out / "stacks" / stack, work / "validate" / str(index) / stack)
                run(["terraform", "init", "-backend=false", "-input=false", "-no-color"], cwd=stack_dir, env=env)
                result = run(["terraform", "validate", "-json", "-no-color"], cwd=stack_dir, env=env, capture=True)
                report = json.loads(result.stdout)
                for d in report.get("diagnostics", []):
                    where = d.get("range", {}).get("filename", "")
                    log(f"  {name}: {d['severity']}: {d['summary']} {where}\n    {d.get('detail', '')}")
                resources = json.loads((stack_dir / "cdk.tf.json").read_text()).get("resource", {})
                count = sum(len(r) for r in resources.values())
                validated += 1
                if report.get("valid"):
                    log(f"ok   {name}: valid ({report.get('warning_count', 0)} warnings, {count} resources of {len(resources)} types)")
                else:
                    failures += 1
                    log(f"FAIL {name}: {report.get('error_count')} errors")
    log(f"terraform validate: {validated - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
