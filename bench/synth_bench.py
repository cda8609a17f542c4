"""Synth speed: this project's way versus the cdktf template's default way, same stack, same run.

Run: `npm run bench:synth` (optionally `-- --runs 5`). Prints, for each variant, the
median wall time and the peak memory (max RSS of the largest process) of:
  - the app synth: `node --require tsx/cjs main.ts` (ours) vs `ts-node main.ts` with every provider
    class imported from the `@cdktf/provider-aws` package root (the template's way);
  - `npx cdktf synth`, each with its own cdktf.json "app" command.
The template variant is generated in a temporary copy of the project by rewriting the
per-resource imports (`@cdktf/provider-aws/lib/<resource>`) to package-root namespaces;
nothing else differs. No assertions: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from tfharness import copy_project  # noqa: E402
IMPORT = re.compile(r'^import \{ ([^}]+) \} from "@cdktf/provider-aws/lib/([a-z0-9-]+)";$', re.M)


def measure(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS in MB of cmd, measured in a fresh child so the max covers this run only."""
    probe = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.monotonic(); r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
        "w = time.monotonic() - t\n"
        "if r.returncode: sys.stderr.write(r.stderr.decode()); sys.exit(r.returncode)\n"
        "print(json.dumps([w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cmd], cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    wall, rss = json.loads(out.stdout)
    return wall, rss


def template_copy(dest: Path) -> None:
    """A copy of the project whose stacks import provider classes from the package root, run by ts-node."""
    copy_project(dest)
    for ts in (dest / "stacks").rglob("*.ts"):
        text = ts.read_text()
        for names, module in IMPORT.findall(text):
            namespace = re.sub(r"-([a-z0-9])", lambda m: m.group(1).upper(), module)
            text = text.replace(f'import {{ {names} }} from "@cdktf/provider-aws/lib/{module}";', f'import {{ {namespace} }} from "@cdktf/provider-aws";')
            for name in [n.strip() for n in names.split(",")]:
                text = re.sub(rf"(?<![\w.]){name}\b", f"{namespace}.{name}", text)
        ts.write_text(text)
    config = json.loads((dest / "cdktf.json").read_text())
    config["app"] = "npx ts-node main.ts"
    (dest / "cdktf.json").write_text(json.dumps(config, indent=2))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        template = Path(tmp) / "template"
        template.mkdir()
        template_copy(template)
        env = dict(os.environ, CHECKPOINT_DISABLE="1", CI="1")
        bin_dir = ROOT / "node_modules" / ".bin"
        variants = [
            ("app synth, ours: node --require tsx/cjs main.ts, per-resource imports", ["node", "--require", "tsx/cjs", "main.ts"], ROOT),
            ("app synth, template: ts-node main.ts, package-root imports", [str(bin_dir / "ts-node"), "main.ts"], template),
            ("app synth, ours, with the model deployed (modelDeploy)", ["node", "--require", "tsx/cjs", "main.ts"], ROOT, {"CHATBOT_MODEL_DEPLOY": "true"}),
            ("npx cdktf synth, ours", ["npx", "cdktf", "synth"], ROOT),
            ("npx cdktf synth, template", ["npx", "cdktf", "synth"], template),
        ]
        results = {}
        for label, cmd, cwd, *settings in variants:
            runs = []
            for i in range(args.runs):
                out = Path(tmp) / f"out-{len(results)}-{i}"
                runs.append(measure(cmd, cwd, dict(env, CDKTF_OUTDIR=str(out), **(settings[0] if settings else {}))))
            results[label] = (statistics.median(w for w, _ in runs), max(m for _, m in runs))
            print(f"{label:<62} {results[label][0]:6.2f} s  {results[label][1]:7.0f} MB  (median of {args.runs})", flush=True)
    ours, theirs = results[variants[0][0]], results[variants[1][0]]
    print(f"\napp synth: {theirs[0] / ours[0]:.1f}x faster, {theirs[1] / ours[1]:.1f}x less memory than the template's way")
    print(f"npx cdktf synth: {results[variants[3][0]][0]:.2f} s (ours) vs {results[variants[4][0]][0]:.2f} s (template)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
