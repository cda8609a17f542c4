"""`terraform validate` on every synthesized stack with the real AWS provider.

Run: `npm run test:validate`. Offline on this project's machines (provider mirror,
see tfharness.py); with the public registry elsewhere. Exits non-zero when any
stack is invalid, printing Terraform's diagnostics.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tfharness import log, prepare_stack, run, synth, terraform_env


def main() -> int:
    failures = 0
    with tempfile.TemporaryDirectory(prefix="tf-validate-") as tmp:
        work = Path(tmp)
        out = work / "cdktf.out"
        stacks = synth(out)
        env = terraform_env(work)
        for stack in stacks:
            stack_dir = prepare_stack(out / "stacks" / stack, work / "validate" / stack)
            run(["terraform", "init", "-backend=false", "-input=false", "-no-color"], cwd=stack_dir, env=env)
            result = run(["terraform", "validate", "-json", "-no-color"], cwd=stack_dir, env=env, capture=True)
            report = json.loads(result.stdout)
            for d in report.get("diagnostics", []):
                where = d.get("range", {}).get("filename", "")
                log(f"  {stack}: {d['severity']}: {d['summary']} {where}\n    {d.get('detail', '')}")
            resources = len(json.loads((stack_dir / "cdk.tf.json").read_text()).get("resource", {}))
            if report.get("valid"):
                log(f"ok   {stack}: valid ({report.get('warning_count', 0)} warnings, {resources} resource types)")
            else:
                failures += 1
                log(f"FAIL {stack}: {report.get('error_count')} errors")
    log(f"terraform validate: {len(stacks) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
