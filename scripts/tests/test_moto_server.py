"""scripts/moto_server.py, the deploy rehearsal's emulator: a call is answered once.

Through real boto3 against the real moto.server the rehearsal starts (scripts/emulator.py).
A call repeated with the same `amz-sdk-invocation-id` (what an AWS SDK sends when it retries
after losing the answer) gets moto's first answer again; a new call runs as usual.
"""

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator import Moto  # noqa: E402

ROLE_TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    server = Moto(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


def iam_client(moto: Moto, invocation_id: str | None = None):
    import boto3

    client = boto3.client("iam", endpoint_url=moto.url, region_name="us-east-1", verify=str(moto.cert),
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    if invocation_id:
        # As the SDK's retry does: the same id on every attempt of one call.
        def same_invocation(request, **_):
            request.headers["amz-sdk-invocation-id"] = invocation_id
        client.meta.events.register("before-send.iam.CreateRole", same_invocation)
    return client


def test_a_repeated_call_gets_the_first_answer_instead_of_already_exists(moto: Moto) -> None:
    client = iam_client(moto, "0f6b7d3e-0000-4000-8000-000000000001")
    first = client.create_role(RoleName="lost-answer", AssumeRolePolicyDocument=ROLE_TRUST)["Role"]
    again = client.create_role(RoleName="lost-answer", AssumeRolePolicyDocument=ROLE_TRUST)["Role"]
    assert again["Arn"] == first["Arn"] and again["RoleId"] == first["RoleId"]
    assert [r["RoleName"] for r in iam_client(moto).list_roles()["Roles"]].count("lost-answer") == 1


def test_a_new_call_for_the_same_name_still_finds_it_exists(moto: Moto) -> None:
    client = iam_client(moto)  # a fresh invocation id per call, as boto3 sends by default
    client.create_role(RoleName="created-twice", AssumeRolePolicyDocument=ROLE_TRUST)
    with pytest.raises(client.exceptions.EntityAlreadyExistsException):
        client.create_role(RoleName="created-twice", AssumeRolePolicyDocument=ROLE_TRUST)
