"""Shared plumbing for running the real `terraform` on the synthesized stacks.

Used by `tf_validate.py` (terraform validate) and `deploy_rehearsal.py` (apply,
plan and destroy against the moto AWS emulator). Standard library only.

Provider source: when a filesystem mirror of the providers exists (env
`TF_PLUGIN_MIRROR`, or `/opt/tf-plugins` on this project's build machines), a
Terraform CLI config that installs only from it is written, so nothing is
downloaded; elsewhere Terraform uses the public registry as usual.

The `hashicorp/archive` provider is not in that mirror. For these checks only,
the `archive_file` data source is replaced by an equivalent zip this module
builds itself (same files, fixed timestamps, mode 0644, base64 SHA-256). Any
other provider the mirror lacks makes `terraform init` fail loudly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MIRROR = Path("/opt/tf-plugins")
# The only providers the stand-in below removes; everything else must come from the mirror or registry.
STANDIN_PROVIDERS = {"archive"}


def log(message: str) -> None:
    print(message, flush=True)


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (approximate when commands run in threads)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], cwd: Path, env: dict[str, str], capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Runs a command; on failure prints its output and raises SystemExit naming the command."""
    wall, cpu = time.monotonic(), _children_cpu()
    result = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    if os.environ.get("TFHARNESS_LOG"):  # every command's output and cost, for finding where the time goes
        with open(os.environ["TFHARNESS_LOG"], "a", encoding="utf-8") as out:
            out.write(f"$ {' '.join(cmd)}  (in {cwd}): {time.monotonic() - wall:.1f} s wall, "
                      f"{_children_cpu() - cpu:.1f} s CPU\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0 and not capture:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        raise SystemExit(f"FAILED ({result.returncode}): {' '.join(cmd)} in {cwd}")
    return result


def terraform_env(work: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for terraform: our CLI config (mirror if present), no telemetry, no prompts."""
    env = dict(os.environ)
    env.update({"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"})
    # Every terraform command starts the AWS provider (a Go program) two or three times, and
    # each start builds its whole schema: several CPU seconds, much of it garbage collection.
    # A GC target of 400 % (Go's default is 100) cut that CPU by about a sixth on this machine
    # (terraform validate of chatbot-dev: 8.1-9.0 s -> 6.9-7.3 s) for ~70 MB more memory each.
    env.setdefault("GOGC", "400")
    mirror = Path(os.environ.get("TF_PLUGIN_MIRROR", str(DEFAULT_MIRROR)))
    config = work / "terraformrc"
    if mirror.is_dir():
        config.write_text(
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n'
            "}\n"
        )
    else:
        config.write_text("")  # public registry, Terraform's default
    env["TF_CLI_CONFIG_FILE"] = str(config)
    if extra:
        env.update(extra)
    return env


def synth(outdir: Path, extra_env: dict[str, str] | None = None, project: Path = ROOT) -> list[str]:
    """Synthesizes the app of `project` into outdir (as `cdktf synth` does) and returns the stack names."""
    env = dict(os.environ)
    env.update({"CDKTF_OUTDIR": str(outdir), "CHECKPOINT_DISABLE": "1"})
    if extra_env:
        env.update(extra_env)
    run(["node", "--require", "tsx/cjs", "main.ts"], cwd=project, env=env)
    return stack_names(outdir)


def stack_names(outdir: Path) -> list[str]:
    """The stacks a synth wrote into outdir, from its manifest."""
    return sorted(json.loads((outdir / "manifest.json").read_text())["stacks"])


def synth_many(variants: list[tuple[Path, dict[str, str]]]) -> list[list[str]]:
    """Synthesizes this project's app once per (outdir, CHATBOT_* settings) in one Node.js
    process (scripts/synth-many.ts) and returns each one's stack names: the same output as
    synth() for each, without a Node.js start and tsx's and the provider bindings' loading
    each time. (Not for a copy of the project: synth-many.ts imports the stacks beside it,
    and copy_project does not copy scripts/.)"""
    env = dict(os.environ)
    env["CHECKPOINT_DISABLE"] = "1"
    spec = json.dumps([{"outdir": str(outdir), "env": settings} for outdir, settings in variants])
    run(["node", "--require", "tsx/cjs", "scripts/synth-many.ts", spec], cwd=ROOT, env=env)
    return [stack_names(outdir) for outdir, _ in variants]


# What the app needs to synthesize; a copy of these plus node_modules is a working project.
PROJECT_FILES = ["main.ts", "stacks", "contract", "cdktf.json", "site", "lambda-chat", "tsconfig.json", "package.json"]


def copy_project(dest: Path) -> Path:
    """A copy of the project in dest (node_modules linked, not copied), to edit without touching ours."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    (dest / "node_modules").symlink_to(ROOT / "node_modules")
    return dest


def deterministic_zip(source_dir: Path, output: Path) -> str:
    """Zips source_dir like archive_file does (sorted, fixed time, mode 0644); returns base64 SHA-256."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in source_dir.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(source_dir).as_posix(), date_time=(2049, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return base64.b64encode(hashlib.sha256(output.read_bytes()).digest()).decode()


def prepare_stack(stack_dir: Path, work_dir: Path, keep_init: bool = False) -> Path:
    """Copies a synthesized stack to work_dir with archive_file replaced by a zip built here.

    keep_init keeps the `.terraform` directory and lock file of an earlier `terraform init` there.
    """
    kept = {}
    if work_dir.exists():
        if keep_init:
            for name in (".terraform", ".terraform.lock.hcl"):
                if (work_dir / name).exists():
                    kept[name] = work_dir.parent / f".kept-{name}"
                    shutil.move(work_dir / name, kept[name])
        shutil.rmtree(work_dir)
    shutil.copytree(stack_dir, work_dir, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    for name, place in kept.items():
        shutil.move(place, work_dir / name)
    tf_json = work_dir / "cdk.tf.json"
    text = tf_json.read_text()

    archives = json.loads(text).get("data", {}).get("archive_file", {})
    for name, config in archives.items():
        if config.get("type") != "zip":
            raise SystemExit(f"archive_file.{name}: only type zip can be stood in for, got {config.get('type')}")
        sha = deterministic_zip(work_dir / config["source_dir"], work_dir / config["output_path"])
        text = text.replace(f"${{data.archive_file.{name}.output_path}}", config["output_path"])
        text = text.replace(f"${{data.archive_file.{name}.output_base64sha256}}", sha)
    doc = json.loads(text)
    doc.get("data", {}).pop("archive_file", None)
    if not doc.get("data"):
        doc.pop("data", None)
    for provider in STANDIN_PROVIDERS:
        doc.get("provider", {}).pop(provider, None)
        doc["terraform"]["required_providers"].pop(provider, None)
    leftover = re.findall(r"\$\{data\.archive_file\.[^}]+\}", json.dumps(doc))
    if leftover:
        raise SystemExit(f"archive_file references left after the stand-in: {leftover}")
    tf_json.write_text(json.dumps(doc, indent=2))
    return work_dir


class Timer:
    """Prints how long each named step took, and keeps the figures for a summary."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []

    def step(self, name: str) -> "_Step":
        return _Step(self, name)

    def summary(self) -> str:
        total = sum(s for _, s in self.steps)
        lines = [f"  {name:<52} {seconds:7.1f} s" for name, seconds in self.steps]
        return "\n".join(lines + [f"  {'total':<52} {total:7.1f} s"])


class _Step:
    def __init__(self, timer: Timer, name: str) -> None:
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        log(f"==> {self.name}")
        self.start = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        seconds = time.monotonic() - self.start
        self.timer.steps.append((self.name, seconds))
        log(f"    {self.name}: {seconds:.1f} s")
