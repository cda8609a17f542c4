"""Cognito pre-sign-up trigger: with `allowedEmailDomains`, only those domains may sign up.

Only self sign-up (`PreSignUp_SignUp`) is checked; an administrator's invitation
(`PreSignUp_AdminCreateUser`) may name anyone. Cognito shows the raised message on the
sign-up page ("PreSignUp failed with error <message>."). Logs the domain, never the address.
"""

import json
import logging
import os
from typing import Any

log = logging.getLogger("pre_sign_up")
log.setLevel(logging.INFO)

ALLOWED = frozenset(d.lower() for d in json.loads(os.environ.get("ALLOWED_EMAIL_DOMAINS", "[]")))


class SignUpRefused(Exception):
    pass


def domain_of(email: Any) -> str | None:
    if not isinstance(email, str) or email.count("@") != 1:
        return None
    return email.rsplit("@", 1)[1].strip().lower() or None


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("triggerSource") != "PreSignUp_SignUp" or not ALLOWED:
        return event
    domain = domain_of((event.get("request") or {}).get("userAttributes", {}).get("email"))
    if domain not in ALLOWED:
        log.warning("sign-up refused", extra={"domain": domain})
        raise SignUpRefused(f"Sign-up is open to addresses of {', '.join(sorted(ALLOWED))} only.")
    log.info("sign-up allowed", extra={"domain": domain})
    return event
