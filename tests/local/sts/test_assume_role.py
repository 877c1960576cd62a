"""sts:AssumeRole as AWS decides it: the role must exist and its trust policy allow the caller; across accounts
the caller's own policy must allow too; the session is the role's account's and is evaluated against the role."""

import json

import pytest
from botocore.exceptions import ClientError

ACCOUNT_A, ACCOUNT_B = "111111111111", "222222222222"


def document(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trusting(principal, **condition):
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return document(statement)


def allow(actions, resources="*"):
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def refusal(call):
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def role_in(client_of, account, name, trust, *grants):
    iam = client_of(account)("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    if grants:
        iam.put_role_policy(RoleName=name, PolicyName="grants", PolicyDocument=document(*grants))
    return arn


def test_an_operator_assumes_a_role_of_another_account_that_trusts_its_account_and_acts_as_that_role(aws_as):
    deployer = role_in(aws_as, ACCOUNT_B, "deployer", trusting(f"arn:aws:iam::{ACCOUNT_A}:root"),
                       allow("dynamodb:ListTables"))

    assumed = aws_as(ACCOUNT_A)("sts").assume_role(RoleArn=deployer, RoleSessionName="fleet")
    session = aws_as(credentials=assumed["Credentials"])

    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_B}:assumed-role/deployer/fleet"
    assert session("sts").get_caller_identity()["Account"] == ACCOUNT_B
    assert session("dynamodb").list_tables()["TableNames"] == []  # B's tables, as the role may
    status, code, message = refusal(lambda: session("dynamodb").create_table(
        TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST"))
    assert (status, code) == (400, "AccessDeniedException")
    assert message.startswith(f"User: arn:aws:sts::{ACCOUNT_B}:assumed-role/deployer/fleet is not authorized to "
                              f"perform: dynamodb:CreateTable on resource: arn:aws:dynamodb:us-east-1:{ACCOUNT_B}:table/t")


@pytest.mark.parametrize("trust", [
    trusting(f"arn:aws:iam::{ACCOUNT_B}:root"),  # its own account only
    trusting(f"arn:aws:iam::{ACCOUNT_A}:role/someone-else"),  # one principal of the caller's account, not the caller
    document({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}),
    trusting(ACCOUNT_A, StringEquals={"sts:ExternalId": "expected"}),  # no ExternalId given
    None,  # no such role
], ids=["other-account", "other-principal", "service-only", "external-id-missing", "no-role"])
def test_an_operator_is_refused_a_role_whose_trust_policy_does_not_allow_it_with_stss_message(aws_as, trust):
    role_arn = f"arn:aws:iam::{ACCOUNT_B}:role/partner"
    if trust is not None:
        role_in(aws_as, ACCOUNT_B, "partner", trust)

    refused = refusal(lambda: aws_as(ACCOUNT_A)("sts").assume_role(RoleArn=role_arn, RoleSessionName="ops"))

    assert refused == (403, "AccessDenied", f"User: arn:aws:iam::{ACCOUNT_A}:root is not authorized to perform: "
                                            f"sts:AssumeRole on resource: {role_arn}")


def test_an_external_id_condition_is_honoured(aws_as):
    role_arn = role_in(aws_as, ACCOUNT_B, "partner", trusting(ACCOUNT_A, StringEquals={"sts:ExternalId": "expected"}))
    sts = aws_as(ACCOUNT_A)("sts")

    wrong = refusal(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="ops", ExternalId="wrong"))
    right = sts.assume_role(RoleArn=role_arn, RoleSessionName="ops", ExternalId="expected")

    assert wrong[:2] == (403, "AccessDenied")
    assert right["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_B}:assumed-role/partner/ops"


def test_the_testing_key_is_the_default_accounts_operator(aws, aws_as):
    role_arn = role_in(lambda _: aws, "123456789012", "local", trusting("arn:aws:iam::123456789012:root"))
    other = role_in(aws_as, ACCOUNT_B, "local", trusting(f"arn:aws:iam::{ACCOUNT_B}:root"))

    assert aws("sts").assume_role(RoleArn=role_arn, RoleSessionName="ops")["AssumedRoleUser"]["Arn"] == \
        "arn:aws:sts::123456789012:assumed-role/local/ops"
    assert refusal(lambda: aws("sts").assume_role(RoleArn=other, RoleSessionName="ops"))[:2] == (403, "AccessDenied")


def test_a_session_assumes_a_role_in_another_account_only_with_both_the_trust_and_its_own_grant(aws_as):
    """Across accounts the caller's identity policy must allow sts:AssumeRole even when the trust policy names the
    caller's role itself (IAM User Guide, cross-account policy evaluation); the target is B's role, not A's."""
    target = f"arn:aws:iam::{ACCOUNT_B}:role/execution"
    hopper = role_in(aws_as, ACCOUNT_A, "hopper", trusting(f"arn:aws:iam::{ACCOUNT_A}:root"), allow("sts:AssumeRole", target))
    stuck = role_in(aws_as, ACCOUNT_A, "stuck", trusting(f"arn:aws:iam::{ACCOUNT_A}:root"), allow("s3:GetObject"))
    role_in(aws_as, ACCOUNT_B, "execution", document({"Effect": "Allow", "Action": "sts:AssumeRole",
                                                       "Principal": {"AWS": [hopper, stuck]}}))
    role_in(aws_as, ACCOUNT_A, "execution", trusting(f"arn:aws:iam::{ACCOUNT_A}:root"))  # same name, the caller's account

    def session_of(role_arn):
        credentials = aws_as(ACCOUNT_A)("sts").assume_role(RoleArn=role_arn, RoleSessionName="hop")["Credentials"]
        return aws_as(credentials=credentials)("sts")

    assumed = session_of(hopper).assume_role(RoleArn=target, RoleSessionName="deploy")
    refused = refusal(lambda: session_of(stuck).assume_role(RoleArn=target, RoleSessionName="deploy"))

    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_B}:assumed-role/execution/deploy"
    assert refused == (403, "AccessDenied", f"User: arn:aws:sts::{ACCOUNT_A}:assumed-role/stuck/hop is not authorized "
                                            f"to perform: sts:AssumeRole on resource: {target}")
