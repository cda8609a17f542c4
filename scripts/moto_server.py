"""moto.server for the deploy rehearsal, with one correction to its bucket-policy checks.

moto 5 evaluates a bucket policy without the request's context, and treats a Deny
statement whose condition does not hold as a denial anyway. A statement such as
`Deny s3:* if aws:SecureTransport is false` therefore denies every request, so
Terraform cannot even read back the objects it uploaded. AWS evaluates that condition
per request; the rehearsal talks to this server over HTTPS only, so here Deny
statements whose `Bool` conditions are false for a TLS request are left out before
moto evaluates the policy. Nothing else is changed.

Usage: python3 scripts/moto_server.py <moto.server arguments>
"""

from __future__ import annotations

import json
import sys
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.models import FakeBucket
from moto.server import main

REQUEST_CONTEXT = {"aws:securetransport": "true"}


def applies_to_tls_request(statement: dict[str, Any]) -> bool:
    """False for a Deny statement whose Bool condition a TLS request does not meet."""
    if statement.get("Effect") != "Deny":
        return True
    for key, expected in statement.get("Condition", {}).get("Bool", {}).items():
        actual = REQUEST_CONTEXT.get(key.lower())
        values = expected if isinstance(expected, list) else [expected]
        if actual is not None and all(str(v).lower() != actual for v in values):
            return False
    return True


def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(self.policy.decode())
    statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    policy["Statement"] = [s for s in statements if applies_to_tls_request(s)]
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)


FakeBucket.get_permission = get_permission  # type: ignore[method-assign]

if __name__ == "__main__":
    main(sys.argv[1:])
