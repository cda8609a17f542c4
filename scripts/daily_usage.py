"""Today's answers per person: what an administrator reads from the daily-usage table.

    python3 scripts/daily_usage.py --table chatbot-dev-daily-usage [--day 2026-12-01]
        [--user-pool-id ap-northeast-2_AbCdEf] [--region ap-northeast-2] [--endpoint-url URL]

The table's name is the stack's `DailyUsageTable` output. With --user-pool-id each user id
(the ID token's `sub`) is shown with its e-mail address (cognito-idp ListUsers, one call
per person). Needs dynamodb:Scan on the table (and cognito-idp:ListUsers on the pool).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambda-chat"))

from identity.allowance import usage_on  # noqa: E402


def email_of(cognito: Any, pool_id: str, sub: str) -> str:
    users = cognito.list_users(UserPoolId=pool_id, Filter=f'sub = "{sub}"', Limit=1).get("Users", [])
    for attribute in users[0].get("Attributes", []) if users else []:
        if attribute["Name"] == "email":
            return attribute["Value"]
    return "(no longer in the pool)"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="the DailyUsageTable output")
    parser.add_argument("--day", default=time.strftime("%Y-%m-%d", time.gmtime()), help="UTC day, default today")
    parser.add_argument("--user-pool-id", help="show e-mail addresses from this pool (the UserPoolId output)")
    parser.add_argument("--region")
    parser.add_argument("--endpoint-url", help="an emulator (tests)")
    args = parser.parse_args(argv)

    import boto3
    dynamodb = boto3.client("dynamodb", region_name=args.region, endpoint_url=args.endpoint_url)
    rows = usage_on(args.table, args.day, dynamodb)
    cognito = boto3.client("cognito-idp", region_name=args.region, endpoint_url=args.endpoint_url) if args.user_pool_id else None
    print(f"answers on {args.day} (UTC): {sum(n for _, n in rows)} by {len(rows)} people")
    for user_id, answers in rows:
        who = f"  {email_of(cognito, args.user_pool_id, user_id)}" if cognito else ""
        print(f"{answers:6d}  {user_id}{who}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
