"""iam:SimulatePrincipalPolicy on the embedded AWS answers as the IAM API reference documents it."""

import json

import pytest
from botocore.exceptions import ClientError

from emulated_samples import ACCOUNT, trust_policy

ROLE = f"arn:aws:iam::{ACCOUNT}:role/simulated"
USER = f"arn:aws:iam::{ACCOUNT}:user/alejandro"
BUCKET_OBJECT = "arn:aws:s3:::fileferry-files/a.txt"
# Written out so that the statements' positions in the text are known (lines and columns from 1).
INLINE = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
    {"Effect": "Deny", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": "*"},
    {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
     "Condition": {"StringEquals": {"cloudwatch:namespace": "FileFerry"}}}
  ]
}"""


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resources="*", **extra):
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def error_of(call):
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response


@pytest.fixture
def iam(aws):
    client = aws("iam")
    client.create_role(RoleName="simulated", AssumeRolePolicyDocument=trust_policy("lambda.amazonaws.com"))
    client.put_role_policy(RoleName="simulated", PolicyName="inline", PolicyDocument=INLINE)
    return client


def by_action(response):
    return {result["EvalActionName"]: result for result in response["EvaluationResults"]}


def test_each_action_is_allowed_explicitly_denied_or_implicitly_denied_with_the_statements_that_decided(iam):
    managed_arn = iam.create_policy(PolicyName="tables", PolicyDocument=doc(allow("dynamodb:PutItem")))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="simulated", PolicyArn=managed_arn)

    results = by_action(iam.simulate_principal_policy(
        PolicySourceArn=ROLE, ActionNames=["s3:GetObject", "s3:PutObject", "dynamodb:PutItem", "dynamodb:DeleteTable"]))

    assert {action: r["EvalDecision"] for action, r in results.items()} == {
        "s3:GetObject": "allowed", "s3:PutObject": "explicitDeny",
        "dynamodb:PutItem": "allowed", "dynamodb:DeleteTable": "implicitDeny"}
    assert results["s3:GetObject"]["MatchedStatements"] == [{
        "SourcePolicyId": "inline", "SourcePolicyType": "role",
        "StartPosition": {"Line": 4, "Column": 6}, "EndPosition": {"Line": 4, "Column": 67}}]
    assert results["s3:PutObject"]["MatchedStatements"] == [{
        "SourcePolicyId": "inline", "SourcePolicyType": "role",
        "StartPosition": {"Line": 5, "Column": 6}, "EndPosition": {"Line": 5, "Column": 87}}]
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in results["dynamodb:PutItem"]["MatchedStatements"]] == [
        (managed_arn, "user-managed")]
    assert results["dynamodb:DeleteTable"]["MatchedStatements"] == []
    assert {r["EvalResourceName"] for r in results.values()} == {"*"}
    assert not any("ResourceSpecificResults" in r for r in results.values())


def test_a_policy_input_is_simulated_beside_the_entitys_own_policies(iam):
    one_line = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}}'

    result = iam.simulate_principal_policy(PolicySourceArn=ROLE, ActionNames=["dynamodb:CreateBackup"],
                                           PolicyInputList=[one_line])["EvaluationResults"][0]

    # The statement's `{` is column 37 and its `}` column 91: AWS reports the columns just past each.
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"] == [{
        "SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "none",
        "StartPosition": {"Line": 1, "Column": 38}, "EndPosition": {"Line": 1, "Column": 92}}]


def test_context_entries_decide_conditions_and_the_keys_not_given_are_missing(iam):
    def metrics(entries):
        return iam.simulate_principal_policy(PolicySourceArn=ROLE, ActionNames=["cloudwatch:PutMetricData"],
                                             ContextEntries=entries)["EvaluationResults"][0]

    fileferry = metrics([{"ContextKeyName": "cloudwatch:namespace", "ContextKeyValues": ["FileFerry"],
                          "ContextKeyType": "string"}])
    billing = metrics([{"ContextKeyName": "CloudWatch:Namespace", "ContextKeyValues": ["Billing"],
                        "ContextKeyType": "string"}])
    without = metrics([])

    assert (fileferry["EvalDecision"], fileferry["MissingContextValues"]) == ("allowed", [])
    assert (billing["EvalDecision"], billing["MissingContextValues"]) == ("implicitDeny", [])
    assert (without["EvalDecision"], without["MissingContextValues"]) == ("implicitDeny", ["cloudwatch:namespace"])
    assert without["MatchedStatements"] == []


def test_context_values_are_read_as_their_type(iam):
    typed = doc(allow("dynamodb:Query", Condition={
        "NumericLessThan": {"dynamodb:Limit": "100"},
        "Bool": {"aws:SecureTransport": "true"},
        "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
        "DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
        "ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "status"]},
    }))

    def query(limit, ip, when, attributes):
        return iam.simulate_principal_policy(PolicySourceArn=ROLE, ActionNames=["dynamodb:Query"], PolicyInputList=[typed],
                                             ContextEntries=[
            {"ContextKeyName": "dynamodb:Limit", "ContextKeyValues": [limit], "ContextKeyType": "numeric"},
            {"ContextKeyName": "aws:SecureTransport", "ContextKeyValues": ["true"], "ContextKeyType": "boolean"},
            {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": [ip], "ContextKeyType": "ip"},
            {"ContextKeyName": "aws:CurrentTime", "ContextKeyValues": [when], "ContextKeyType": "date"},
            {"ContextKeyName": "dynamodb:Attributes", "ContextKeyValues": attributes, "ContextKeyType": "stringList"},
        ])["EvaluationResults"][0]["EvalDecision"]

    assert query("25", "10.1.2.3", "2026-03-01T00:00:00Z", ["pk"]) == "allowed"
    assert query("250", "10.1.2.3", "2026-03-01T00:00:00Z", ["pk"]) == "implicitDeny"
    assert query("25", "192.168.0.1", "2026-03-01T00:00:00Z", ["pk"]) == "implicitDeny"
    assert query("25", "10.1.2.3", "2025-03-01T00:00:00Z", ["pk"]) == "implicitDeny"
    assert query("25", "10.1.2.3", "2026-03-01T00:00:00Z", ["pk", "secret"]) == "implicitDeny"
    not_a_number = error_of(lambda: query("many", "10.1.2.3", "2026-03-01T00:00:00Z", ["pk"]))
    assert (not_a_number["Error"]["Code"], not_a_number["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidInput", 400)


def test_a_permissions_boundary_caps_what_the_policies_allow(iam):
    boundary_arn = iam.create_policy(PolicyName="boundary", PolicyDocument=doc(allow("s3:*")))["Policy"]["Arn"]
    iam.put_role_policy(RoleName="simulated", PolicyName="tables", PolicyDocument=doc(allow("dynamodb:PutItem")))
    iam.put_role_permissions_boundary(RoleName="simulated", PermissionsBoundary=boundary_arn)

    own = by_action(iam.simulate_principal_policy(PolicySourceArn=ROLE, ActionNames=["s3:GetObject", "dynamodb:PutItem"]))
    given = by_action(iam.simulate_principal_policy(PolicySourceArn=ROLE, ActionNames=["s3:GetObject", "dynamodb:PutItem"],
                                                    PermissionsBoundaryPolicyInputList=[doc(allow("dynamodb:*"))]))

    assert own["s3:GetObject"]["EvalDecision"] == "allowed"
    assert own["s3:GetObject"]["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}
    assert own["dynamodb:PutItem"]["EvalDecision"] == "implicitDeny"
    assert own["dynamodb:PutItem"]["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    assert own["dynamodb:PutItem"]["MatchedStatements"] == []
    # The boundary given in the request replaces the role's own.
    assert given["s3:GetObject"]["EvalDecision"] == "implicitDeny"
    assert given["dynamodb:PutItem"]["EvalDecision"] == "allowed"


def test_a_list_of_resources_gets_one_result_per_action_with_each_resources_decision(iam):
    scoped = doc(allow("s3:GetObject", "arn:aws:s3:::fileferry-files/*"),
                 {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::secrets/*"})
    iam.put_role_policy(RoleName="simulated", PolicyName="inline", PolicyDocument=scoped)
    resources = [BUCKET_OBJECT, "arn:aws:s3:::other/b.txt", "arn:aws:s3:::secrets/c.txt"]

    results = iam.simulate_principal_policy(PolicySourceArn=ROLE, ActionNames=["s3:GetObject"],
                                            ResourceArns=resources)["EvaluationResults"]

    assert len(results) == 1
    assert results[0]["EvalDecision"] == "explicitDeny"  # the most restrictive of the three
    assert [(r["EvalResourceName"], r["EvalResourceDecision"]) for r in results[0]["ResourceSpecificResults"]] == [
        (BUCKET_OBJECT, "allowed"), ("arn:aws:s3:::other/b.txt", "implicitDeny"),
        ("arn:aws:s3:::secrets/c.txt", "explicitDeny")]
    assert [m["StartPosition"] for m in results[0]["MatchedStatements"]] == \
        [m["StartPosition"] for m in results[0]["ResourceSpecificResults"][2]["MatchedStatements"]]


def test_results_come_in_pages_of_max_items_with_a_marker(iam):
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "dynamodb:PutItem", "dynamodb:GetItem"]

    pages = [iam.simulate_principal_policy(PolicySourceArn=ROLE, ActionNames=actions, MaxItems=2)]
    while pages[-1]["IsTruncated"]:
        pages.append(iam.simulate_principal_policy(PolicySourceArn=ROLE, ActionNames=actions, MaxItems=2,
                                                   Marker=pages[-1]["Marker"]))
    bad_marker = error_of(lambda: iam.simulate_principal_policy(PolicySourceArn=ROLE, ActionNames=actions,
                                                                Marker="not-issued"))

    assert [[r["EvalActionName"] for r in page["EvaluationResults"]] for page in pages] == [
        actions[0:2], actions[2:4], actions[4:5]]
    assert [page["IsTruncated"] for page in pages] == [True, True, False]
    assert "Marker" not in pages[-1]
    assert bad_marker["Error"]["Code"] == "InvalidInput"


def test_a_resource_policy_is_simulated_only_with_an_iam_user_as_the_caller(iam):
    iam.create_user(UserName="alejandro")
    bucket_policy = doc({"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "s3:ListBucket",
                         "Resource": "arn:aws:s3:::fileferry-files"})

    def simulate(**extra):
        return iam.simulate_principal_policy(PolicySourceArn=ROLE, ActionNames=["s3:ListBucket"],
                                             ResourceArns=["arn:aws:s3:::fileferry-files"], ResourcePolicy=bucket_policy,
                                             **extra)

    no_caller = error_of(simulate)
    assumed_role = error_of(lambda: simulate(CallerArn=f"arn:aws:sts::{ACCOUNT}:assumed-role/simulated/session"))
    a_role = error_of(lambda: simulate(CallerArn=ROLE))
    as_user = simulate(CallerArn=USER)["EvaluationResults"][0]

    for refused in (no_caller, assumed_role, a_role):
        assert (refused["Error"]["Code"], refused["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidInput", 400)
    assert "IAM user" in no_caller["Error"]["Message"]
    assert "assumed role" in assumed_role["Error"]["Message"]
    assert as_user["EvalDecision"] == "allowed"  # the bucket's policy grants it; the role's own do not
    assert as_user["MatchedStatements"][0]["SourcePolicyId"] == "ResourcePolicy"
    assert as_user["MatchedStatements"][0]["SourcePolicyType"] == "resource"


def test_a_resource_policy_must_apply_to_every_simulated_resource(iam):
    iam.create_user(UserName="alejandro")
    bucket_policy = doc({"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "s3:GetObject",
                         "Resource": "arn:aws:s3:::fileferry-files/*"})

    refused = error_of(lambda: iam.simulate_principal_policy(
        PolicySourceArn=USER, ActionNames=["s3:GetObject"], ResourcePolicy=bucket_policy,
        ResourceArns=[BUCKET_OBJECT, "arn:aws:s3:::other/b.txt"]))
    accepted = iam.simulate_principal_policy(PolicySourceArn=USER, ActionNames=["s3:GetObject"],
                                             ResourcePolicy=bucket_policy, ResourceArns=[BUCKET_OBJECT])

    assert refused["Error"]["Code"] == "InvalidInput"
    assert "arn:aws:s3:::other/b.txt" in refused["Error"]["Message"]
    assert accepted["EvaluationResults"][0]["EvalDecision"] == "allowed"


def test_a_users_simulation_includes_its_groups_policies(iam):
    iam.create_user(UserName="alejandro")
    iam.create_group(GroupName="readers")
    iam.add_user_to_group(GroupName="readers", UserName="alejandro")
    iam.put_group_policy(GroupName="readers", PolicyName="read", PolicyDocument=doc(allow("s3:GetObject")))

    result = iam.simulate_principal_policy(PolicySourceArn=USER, ActionNames=["s3:GetObject"])["EvaluationResults"][0]

    assert result["EvalDecision"] == "allowed"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in result["MatchedStatements"]] == [("read", "group")]


def test_an_unknown_policy_source_is_no_such_entity(iam):
    missing = error_of(lambda: iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/absent", ActionNames=["s3:GetObject"]))

    assert (missing["Error"]["Code"], missing["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchEntity", 404)
    assert "absent" in missing["Error"]["Message"]


def test_a_role_session_may_simulate_only_the_entities_its_policies_name(iam, role_session):
    auditor = role_session("auditor", {"Version": "2012-10-17", "Statement": [
        allow("iam:SimulatePrincipalPolicy", ROLE)]})("iam")
    bystander = role_session("bystander", {"Version": "2012-10-17", "Statement": [allow("iam:GetRole")]})("iam")

    allowed = auditor.simulate_principal_policy(PolicySourceArn=ROLE, ActionNames=["s3:GetObject"])
    other_role = error_of(lambda: auditor.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/auditor", ActionNames=["s3:GetObject"]))
    no_grant = error_of(lambda: bystander.simulate_principal_policy(PolicySourceArn=ROLE, ActionNames=["s3:GetObject"]))

    assert allowed["EvaluationResults"][0]["EvalDecision"] == "allowed"
    for refused in (other_role, no_grant):
        assert (refused["Error"]["Code"], refused["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert f"iam:SimulatePrincipalPolicy on resource: arn:aws:iam::{ACCOUNT}:role/auditor" in other_role["Error"]["Message"]
