"""Reading `terraform plan` the way a reviewer does: which resources change, how, and which attributes."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from tfharness import run


def leaf_changes(before: Any, after: Any, path: str = "") -> list[str]:
    """Attribute paths (a.0.b) whose values differ between two plan values."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [c for k in sorted(set(before) | set(after)) for c in leaf_changes(before.get(k), after.get(k), f"{path}.{k}" if path else k)]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [c for i, (b, a) in enumerate(zip(before, after)) for c in leaf_changes(b, a, f"{path}.{i}")]
    # The provider reads an unset string back as "": not a change.
    empty = (None, [], {}, "")
    return [] if before == after or (before in empty and after in empty) else [path]


def value_at(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def plan_changes(stack_dir: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Runs terraform plan and returns {address: {actions, paths, type}} for every resource that would change."""
    plan_file = stack_dir / "rehearsal.tfplan"
    # capture: exit code 2 (changes present) is an answer here, not a failure.
    result = run(["terraform", "plan", "-detailed-exitcode", "-input=false", "-no-color", f"-out={plan_file}"],
                 cwd=stack_dir, env=env, capture=True)
    if result.returncode not in (0, 2):
        sys.stdout.write(result.stdout + result.stderr)
        raise SystemExit("terraform plan failed")
    if result.returncode == 0:
        # Terraform's own answer is "no changes" (exit 0 of -detailed-exitcode): nothing to
        # read, and `terraform show` would start the provider again for seconds of CPU.
        return {}
    shown = json.loads(run(["terraform", "show", "-json", str(plan_file)], cwd=stack_dir, env=env).stdout)
    changes = {}
    for rc in shown.get("resource_changes", []):
        actions = rc["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        # Attributes AWS computes again on update (version_id, tags_all) are "known after apply".
        unknown_paths = leaf_changes({}, rc["change"].get("after_unknown") or {})
        paths = sorted(set(leaf_changes(rc["change"]["before"] or {}, rc["change"]["after"] or {})) - set(unknown_paths))
        before, after = rc["change"]["before"] or {}, rc["change"]["after"] or {}
        values = {p: (value_at(before, p), value_at(after, p)) for p in paths}
        changes[rc["address"]] = {"actions": actions, "paths": paths, "computed": unknown_paths, "type": rc["type"],
                                  "values": values, "after": after,
                                  "replace_paths": [".".join(map(str, p)) for p in rc["change"].get("replace_paths") or []]}
    if (result.returncode == 2) != bool(changes):
        raise SystemExit(f"plan exit code {result.returncode} disagrees with the changes read from the plan: {changes}")
    return changes


def unexplained(changes: dict[str, dict[str, Any]], deviations: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    """Changes not covered by the emulator deviations: (resource type, attribute path regex, reason)."""
    left: dict[str, list[str]] = {}
    for address, change in changes.items():
        if change["actions"] != ["update"]:
            left[address] = [f"action {change['actions']}"] + change["paths"]
            continue
        rest = [p for p in change["paths"] if not any(t == change["type"] and re.search(rx, p) for t, rx, _ in deviations)]
        if not change["paths"]:
            rest = ["update of computed values only: " + ", ".join(change["computed"])]
        if rest:
            left[address] = rest
    return left


def apply_order(stack_dir: Path, env: dict[str, str], plan_file: str = "rehearsal.tfplan") -> dict[str, set[str]]:
    """Terraform's apply graph for a saved plan: node -> the nodes it waits for (directly).

    Nodes are named as `terraform graph` names them, without "[root] ", e.g.
    `aws_sagemaker_endpoint.x` (its create or update) or `aws_appautoscaling_target.y (destroy)`.
    """
    dot = run(["terraform", "graph", "-type=apply", f"-plan={plan_file}"], cwd=stack_dir, env=env).stdout
    waits: dict[str, set[str]] = {}
    for first, second in re.findall(r'"\[root\] ([^"]+)" -> "\[root\] ([^"]+)"', dot):
        waits.setdefault(first, set()).add(second)
    return waits


def waits_for(waits: dict[str, set[str]], node: str, other: str) -> bool:
    """Whether `node` runs only after `other` (a path of waits from one to the other)."""
    seen, todo = set(), [node]
    while todo:
        current = todo.pop()
        for nxt in waits.get(current, ()):
            if nxt == other:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False
