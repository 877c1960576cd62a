"""IAM is enforced on role sessions: deployed functions, the interpreter, rule targets, assumed roles."""

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT, REGION = "123456789012", "us-east-1"


def trust_policy(service):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def allow_policy(actions, resources="*"):
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]})

TABLE_KEY = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, resources="*", **extra):
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def table_arn(name):
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def error_of(call):
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response


def test_a_role_lacking_one_action_is_denied_exactly_that_call(aws, role_session):
    aws("dynamodb").create_table(TableName="sessions", **TABLE_KEY)
    dynamodb = role_session("reader", policy(allow(["dynamodb:DescribeTable", "dynamodb:ListTables"],
                                                   [table_arn("sessions"), "*"])))("dynamodb")

    assert dynamodb.describe_table(TableName="sessions")["Table"]["TableName"] == "sessions"
    assert dynamodb.list_tables()["TableNames"] == ["sessions"]
    error = error_of(lambda: dynamodb.delete_table(TableName="sessions"))

    assert error["Error"]["Code"] == "AccessDeniedException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/reader/test-session is not authorized to perform: "
        f"dynamodb:DeleteTable on resource: {table_arn('sessions')} "
        "because no identity-based policy allows the dynamodb:DeleteTable action"
    )
    assert aws("dynamodb").list_tables()["TableNames"] == ["sessions"]  # nothing was deleted


def test_the_resource_is_the_real_arn_of_the_request(aws, role_session):
    for name in ("ours", "theirs"):
        aws("dynamodb").create_table(TableName=name, **TABLE_KEY)
    dynamodb = role_session("scoped", policy(allow("dynamodb:Describe*", table_arn("ours"))))("dynamodb")

    assert dynamodb.describe_table(TableName="ours")["Table"]["TableStatus"]
    error = error_of(lambda: dynamodb.describe_table(TableName="theirs"))
    assert table_arn("theirs") in error["Error"]["Message"]


def test_index_and_backup_arns_are_their_own_resources(aws, role_session):
    dynamodb_admin = aws("dynamodb")
    dynamodb_admin.create_table(
        TableName="transfers",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "user", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "ByUser", "KeySchema": [{"AttributeName": "user", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
        BillingMode="PAY_PER_REQUEST",
    )
    backup_arn = dynamodb_admin.create_backup(TableName="transfers", BackupName="before-teardown")["BackupDetails"]["BackupArn"]
    dynamodb = role_session("indexer", policy(
        allow("dynamodb:Query", f"{table_arn('transfers')}/index/*"),
        allow("dynamodb:DescribeBackup", f"{table_arn('transfers')}/backup/*"),
    ))("dynamodb")

    by_user = dynamodb.query(TableName="transfers", IndexName="ByUser", KeyConditionExpression="#u = :u",
                             ExpressionAttributeNames={"#u": "user"}, ExpressionAttributeValues={":u": {"S": "x"}})
    assert by_user["Items"] == []
    assert dynamodb.describe_backup(BackupArn=backup_arn)["BackupDescription"]
    error = error_of(lambda: dynamodb.query(TableName="transfers", KeyConditionExpression="pk = :p",
                                            ExpressionAttributeValues={":p": {"S": "x"}}))
    assert error["Error"]["Code"] == "AccessDeniedException"


def test_explicit_deny_wins_and_says_so(aws, role_session):
    iam = role_session("almost-admin", policy(
        allow("iam:*"), {"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "*"},
    ))("iam")

    assert iam.get_role(RoleName="almost-admin")["Role"]["RoleName"] == "almost-admin"
    error = error_of(lambda: iam.delete_role(RoleName="almost-admin"))

    assert error["Error"]["Code"] == "AccessDenied"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Message"].endswith("with an explicit deny in an identity-based policy")
    assert aws("iam").get_role(RoleName="almost-admin")  # still there


def test_conditions_are_evaluated_with_the_request_values(aws, role_session):
    cloudwatch = role_session("metrics", policy(allow(
        "cloudwatch:PutMetricData", "*", Condition={"StringEquals": {"cloudwatch:namespace": "FileFerry"}},
    )))("cloudwatch")

    cloudwatch.put_metric_data(Namespace="FileFerry", MetricData=[{"MetricName": "m", "Value": 1}])
    error = error_of(lambda: cloudwatch.put_metric_data(Namespace="Other", MetricData=[{"MetricName": "m", "Value": 1}]))

    assert error["Error"]["Code"] == "AccessDeniedException"
    names = {m["Namespace"] for m in aws("cloudwatch").list_metrics()["Metrics"]}
    assert names == {"FileFerry"}


def test_lambda_and_step_functions_denials_have_their_services_shapes(aws, role_session, deploy_function):
    deploy_function("echo", "echo")
    clients = role_session("nothing", policy(allow("s3:GetObject", "arn:aws:s3:::none/*")))

    lambda_error = error_of(lambda: clients("lambda").invoke(FunctionName="echo"))
    states_error = error_of(lambda: clients("stepfunctions").list_state_machines())

    assert (lambda_error["Error"]["Code"], lambda_error["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDeniedException", 403)
    assert f"lambda:InvokeFunction on resource: arn:aws:lambda:{REGION}:{ACCOUNT}:function:echo" in lambda_error["Error"]["Message"]
    assert states_error["Error"]["Code"] == "AccessDeniedException"


def test_operator_keys_keep_full_access(aws):
    aws("dynamodb").create_table(TableName="anything", **TABLE_KEY)
    aws("iam").create_role(RoleName="any", AssumeRolePolicyDocument=trust_policy("lambda.amazonaws.com"))
    assert aws("dynamodb").delete_table(TableName="anything")
    assert aws("iam").delete_role(RoleName="any")


def test_a_deployed_function_runs_as_its_role(emulator, aws, deploy_function):
    """The sample role allows ListTables and CreateTable only; DeleteTable from the function is denied."""
    deploy_function("lister", "list_tables")
    deploy_function("deleter", "delete_table")
    aws("dynamodb").create_table(TableName="kept", **TABLE_KEY)

    listed = aws("lambda").invoke(FunctionName="lister")
    deleted = aws("lambda").invoke(FunctionName="deleter", Payload=json.dumps({"table": "kept"}))

    assert json.loads(listed["Payload"].read()) == ["kept"]
    assert deleted["FunctionError"] == "Unhandled"
    payload = json.loads(deleted["Payload"].read())
    assert "AccessDeniedException" in payload["errorMessage"]
    assert "assumed-role/sample-lambda-role/deleter" in payload["errorMessage"]
    assert aws("dynamodb").list_tables()["TableNames"] == ["kept"]


def test_the_interpreter_invokes_as_the_state_machine_role(aws, deploy_function, create_state_machine,
                                                           finished_execution):
    function_arn = deploy_function("echo", "echo")
    aws("iam").create_role(RoleName="cannot-invoke", AssumeRolePolicyDocument=trust_policy("states.amazonaws.com"))
    aws("iam").put_role_policy(RoleName="cannot-invoke", PolicyName="p",
                               PolicyDocument=allow_policy("lambda:GetFunction"))
    definition = json.dumps({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": function_arn, "End": True}}})
    sfn = aws("stepfunctions")
    denied_arn = sfn.create_state_machine(name="denied", definition=definition,
                                          roleArn=f"arn:aws:iam::{ACCOUNT}:role/cannot-invoke")["stateMachineArn"]
    allowed_arn = create_state_machine("allowed", json.loads(definition))

    denied = finished_execution(sfn.start_execution(stateMachineArn=denied_arn)["executionArn"])
    allowed = finished_execution(sfn.start_execution(stateMachineArn=allowed_arn)["executionArn"])

    assert allowed["status"] == "SUCCEEDED"
    assert denied["status"] == "FAILED"
    assert "is not authorized to perform: lambda:InvokeFunction" in denied["cause"]
    assert "assumed-role/cannot-invoke/" in denied["cause"]


def test_a_rule_target_starts_only_as_a_role_allowed_to(aws, create_state_machine, poll):
    sfn, events = aws("stepfunctions"), aws("events")
    watched = create_state_machine("watched", {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    refused = create_state_machine("refused", {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    started = create_state_machine("started", {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    aws("iam").create_role(RoleName="events-other", AssumeRolePolicyDocument=trust_policy("events.amazonaws.com"))
    aws("iam").put_role_policy(RoleName="events-other", PolicyName="p",
                               PolicyDocument=allow_policy("states:StartExecution", started))
    events.put_rule(Name="on-success", EventPattern=json.dumps({
        "source": ["aws.states"], "detail": {"status": ["SUCCEEDED"], "stateMachineArn": [watched]}}))
    # Targets are delivered in order: the refused one has been tried once the second one has started.
    events.put_targets(Rule="on-success", Targets=[
        {"Id": "refused", "Arn": refused, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/events-other"},
        {"Id": "started", "Arn": started, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/events-other"},
    ])

    sfn.start_execution(stateMachineArn=watched)
    poll(lambda: sfn.list_executions(stateMachineArn=started)["executions"])

    assert sfn.list_executions(stateMachineArn=refused)["executions"] == []


def test_a_table_under_a_customer_managed_key_needs_the_callers_kms_permissions(aws, role_session):
    kms = aws("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/fileferry", TargetKeyId=key_id)
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    via_dynamodb = {"StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}}
    sse = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": "alias/fileferry"}
    create = allow("dynamodb:CreateTable", table_arn("*"))
    four_actions = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt"]
    short = role_session("four-kms-actions", policy(create, allow(four_actions, key_arn, Condition=via_dynamodb)))
    enough = role_session("documented-kms-actions", policy(create, allow(
        four_actions + ["kms:GenerateDataKey*", "kms:ReEncrypt*"], key_arn, Condition=via_dynamodb)))
    direct = role_session("kms-but-not-via-dynamodb", policy(create, allow(
        four_actions + ["kms:GenerateDataKey*", "kms:ReEncrypt*"], key_arn,
        Condition={"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}})))

    refused = error_of(lambda: short("dynamodb").create_table(TableName="short", SSESpecification=sse, **TABLE_KEY))
    not_via = error_of(lambda: direct("dynamodb").create_table(TableName="direct", SSESpecification=sse, **TABLE_KEY))
    enough("dynamodb").create_table(TableName="encrypted", SSESpecification=sse, **TABLE_KEY)

    assert refused["Error"]["Code"] == "AccessDeniedException"
    assert f"kms:GenerateDataKey on resource: {key_arn}" in refused["Error"]["Message"]
    assert not_via["Error"]["Code"] == "AccessDeniedException"
    assert aws("dynamodb").list_tables()["TableNames"] == ["encrypted"]
    with pytest.raises(ClientError):  # the session may not use the key itself, outside DynamoDB
        enough("kms").describe_key(KeyId=key_id)


def test_assume_role_needs_the_trust_policy_and_its_external_id(aws, role_session):
    """The read-only role's trust: this account, only with the ExternalId; the caller's own policy too."""
    partner = f"arn:aws:iam::{ACCOUNT}:role/partner"
    aws("iam").create_role(RoleName="partner", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "expected"}}}]}))
    sts = role_session("assumer", policy(allow("sts:AssumeRole", partner)))("sts")
    no_identity_grant = role_session("bystander", policy(allow("s3:GetObject", "arn:aws:s3:::none/*")))("sts")

    assert sts.get_caller_identity()["Account"] == ACCOUNT  # needs no permission
    wrong = error_of(lambda: sts.assume_role(RoleArn=partner, RoleSessionName="partner-session", ExternalId="wrong"))
    missing = error_of(lambda: sts.assume_role(RoleArn=partner, RoleSessionName="partner-session"))
    not_granted = error_of(lambda: no_identity_grant.assume_role(
        RoleArn=partner, RoleSessionName="partner-session", ExternalId="expected"))
    assumed = sts.assume_role(RoleArn=partner, RoleSessionName="partner-session", ExternalId="expected")

    assert (wrong["Error"]["Code"], wrong["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert missing["Error"]["Code"] == not_granted["Error"]["Code"] == "AccessDenied"
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/partner/partner-session"


def test_service_integrations_call_as_the_state_machine_role(aws, create_state_machine, finished_execution):
    """The sample states role may invoke functions only: a dynamodb:putItem task is denied."""
    aws("dynamodb").create_table(TableName="audit", **TABLE_KEY)
    machine = create_state_machine("writer", {"StartAt": "Put", "States": {"Put": {
        "Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": True,
        "Parameters": {"TableName": "audit", "Item": {"pk": {"S": "written"}}}}}})

    ended = finished_execution(aws("stepfunctions").start_execution(stateMachineArn=machine)["executionArn"])

    assert ended["status"] == "FAILED"
    assert "dynamodb:PutItem" in ended["cause"]
    assert aws("dynamodb").scan(TableName="audit")["Items"] == []


def test_a_permission_change_takes_effect_only_once_it_has_propagated(aws, emulator, role_session):
    # IAM User Guide, "Changes that I make are not always immediately visible": for the lag after a
    # grant or a revocation, the role's sessions still meet the permissions from before it.
    aws("dynamodb").create_table(TableName="sessions", **TABLE_KEY)
    emulator.set_consistency_lag(30)
    dynamodb = role_session("reader", policy(allow("dynamodb:DescribeTable")))("dynamodb")

    just_granted = error_of(lambda: dynamodb.describe_table(TableName="sessions"))
    emulator.clock.advance(30)
    assert dynamodb.describe_table(TableName="sessions")["Table"]["TableName"] == "sessions"

    aws("iam").put_role_policy(RoleName="reader", PolicyName="under-test",
                               PolicyDocument=json.dumps(policy(allow("dynamodb:ListTables"))))
    assert dynamodb.describe_table(TableName="sessions")["Table"]["TableName"] == "sessions"
    emulator.clock.advance(30)
    just_revoked_long_ago = error_of(lambda: dynamodb.describe_table(TableName="sessions"))

    assert just_granted["Error"]["Code"] == "AccessDeniedException"
    assert "because no identity-based policy allows the dynamodb:DescribeTable action" in just_granted["Error"]["Message"]
    assert just_revoked_long_ago["Error"]["Code"] == "AccessDeniedException"


def test_a_request_signed_with_an_ended_assume_role_session_is_refused_as_expired(aws, emulator):
    # STS: a session lasts DurationSeconds; a request signed with it afterwards is refused before anything
    # else, ExpiredTokenException from the JSON services, ExpiredToken from the query ones.
    aws("iam").create_role(RoleName="operator", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                                "Action": "sts:AssumeRole"}]}))
    aws("iam").put_role_policy(RoleName="operator", PolicyName="all", PolicyDocument=allow_policy("*"))
    emulator.clock.advance(5)  # the policy has propagated
    credentials = aws("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/operator", RoleSessionName="op",
                                         DurationSeconds=900)["Credentials"]

    def client(name):
        return boto3.client(name, endpoint_url=emulator.endpoint_url, region_name=REGION,
                            aws_access_key_id=credentials["AccessKeyId"],
                            aws_secret_access_key=credentials["SecretAccessKey"],
                            aws_session_token=credentials["SessionToken"],
                            config=Config(retries={"total_max_attempts": 1}))

    assert client("stepfunctions").list_state_machines()["stateMachines"] == []
    emulator.clock.advance(901)
    json_service = error_of(lambda: client("stepfunctions").list_state_machines())
    query_service = error_of(lambda: client("iam").list_roles())

    assert (json_service["Error"]["Code"], json_service["ResponseMetadata"]["HTTPStatusCode"]) == ("ExpiredTokenException", 400)
    assert query_service["Error"]["Code"] == "ExpiredToken"
    assert aws("stepfunctions").list_state_machines()["stateMachines"] == []  # the operator's own keys still work


def test_a_table_resource_policy_is_evaluated_with_the_roles_own_policies(aws, role_session):
    # IAM User Guide, "Policy evaluation logic", within one account: an explicit Deny in either policy
    # wins, and an Allow in either suffices. DynamoDB authorizes a write before it evaluates its condition.
    owner = aws("dynamodb")
    owner.create_table(TableName="records", **TABLE_KEY)
    owner.put_item(TableName="records", Item={"pk": {"S": "kept"}})
    items = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    writer = role_session("writer", policy(allow(items, table_arn("records"))))("dynamodb")
    reader = role_session("no-grants", policy(allow("dynamodb:ListTables")))("dynamodb")
    role = f"arn:aws:iam::{ACCOUNT}:role/writer"
    owner.put_resource_policy(ResourceArn=table_arn("records"), Policy=json.dumps(policy(
        {"Effect": "Deny", "Principal": {"AWS": role}, "Action": "dynamodb:PutItem", "Resource": table_arn("records")},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/no-grants"}, "Action": "dynamodb:GetItem",
         "Resource": table_arn("records")},
    )))

    denied = error_of(lambda: writer.put_item(TableName="records", Item={"pk": {"S": "new"}},
                                              ConditionExpression="attribute_exists(pk) AND attribute_not_exists(pk)"))
    assert denied["Error"]["Code"] == "AccessDeniedException"
    assert denied["Error"]["Message"].endswith("with an explicit deny in a resource-based policy")
    condition = error_of(lambda: writer.delete_item(TableName="records", Key={"pk": {"S": "kept"}},
                                                    ConditionExpression="attribute_not_exists(pk)"))
    assert condition["Error"]["Code"] == "ConditionalCheckFailedException"  # allowed: only the condition failed
    assert reader.get_item(TableName="records", Key={"pk": {"S": "kept"}})["Item"] == {"pk": {"S": "kept"}}

    owner.delete_resource_policy(ResourceArn=table_arn("records"))
    writer.put_item(TableName="records", Item={"pk": {"S": "new"}})
    assert error_of(lambda: reader.get_item(TableName="records", Key={"pk": {"S": "kept"}}))["Error"]["Code"] == "AccessDeniedException"
    assert sorted(item["pk"]["S"] for item in owner.scan(TableName="records")["Items"]) == ["kept", "new"]


ALWAYS_FALSE = {"ConditionExpression": "attribute_exists(#k) AND attribute_not_exists(#k)",
                "ExpressionAttributeNames": {"#k": "pk"}}


def test_a_conditional_write_is_authorized_before_its_condition_is_evaluated(aws, role_session):
    # DynamoDB authorizes the request first: a caller denied PutItem learns nothing from the condition.
    owner = aws("dynamodb")
    for name in ("by-identity", "by-table-policy"):
        owner.create_table(TableName=name, **TABLE_KEY)
    put_items = allow("dynamodb:PutItem", [table_arn("by-identity"), table_arn("by-table-policy")])
    no_grant = role_session("no-put", policy(allow("dynamodb:GetItem", table_arn("*"))))("dynamodb")
    table_denied = role_session("table-denied", policy(put_items))("dynamodb")
    allowed = role_session("may-put", policy(put_items))("dynamodb")
    owner.put_resource_policy(ResourceArn=table_arn("by-table-policy"), Policy=json.dumps(policy(
        {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/table-denied"},
         "Action": "dynamodb:PutItem", "Resource": table_arn("by-table-policy")})))
    item = {"pk": {"S": "never-written"}}

    by_identity = error_of(lambda: no_grant.put_item(TableName="by-identity", Item=item, **ALWAYS_FALSE))
    by_table_policy = error_of(lambda: table_denied.put_item(TableName="by-table-policy", Item=item, **ALWAYS_FALSE))
    failed_conditions = [error_of(lambda name=name: allowed.put_item(TableName=name, Item=item, **ALWAYS_FALSE))
                         for name in ("by-identity", "by-table-policy")]

    assert by_identity["Error"]["Code"] == "AccessDeniedException"
    assert by_identity["Error"]["Message"].endswith("because no identity-based policy allows the dynamodb:PutItem action")
    assert by_table_policy["Error"]["Code"] == "AccessDeniedException"
    assert by_table_policy["Error"]["Message"].endswith("with an explicit deny in a resource-based policy")
    assert [e["Error"]["Code"] for e in failed_conditions] == ["ConditionalCheckFailedException"] * 2
    assert owner.scan(TableName="by-identity")["Items"] == owner.scan(TableName="by-table-policy")["Items"] == []


def test_a_table_resource_policy_is_read_and_written_with_permission_on_that_table(aws, role_session):
    # DynamoDB's GetResourcePolicy, PutResourcePolicy and DeleteResourcePolicy act on the ResourceArn.
    owner = aws("dynamodb")
    for name in ("governed", "elsewhere"):
        owner.create_table(TableName=name, **TABLE_KEY)
    document = json.dumps(policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                  "Action": "dynamodb:GetItem", "Resource": table_arn("governed")}))
    owner.put_resource_policy(ResourceArn=table_arn("elsewhere"), Policy=document.replace("governed", "elsewhere"))
    actions = ["dynamodb:GetResourcePolicy", "dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy"]
    dynamodb = role_session("policy-admin", policy(allow(actions, table_arn("governed"))))("dynamodb")

    dynamodb.put_resource_policy(ResourceArn=table_arn("governed"), Policy=document)
    read = dynamodb.get_resource_policy(ResourceArn=table_arn("governed"))
    refused = [error_of(lambda: dynamodb.get_resource_policy(ResourceArn=table_arn("elsewhere"))),
               error_of(lambda: dynamodb.delete_resource_policy(ResourceArn=table_arn("elsewhere")))]
    dynamodb.delete_resource_policy(ResourceArn=table_arn("governed"))

    assert json.loads(read["Policy"]) == json.loads(document)
    assert [e["Error"]["Code"] for e in refused] == ["AccessDeniedException"] * 2
    assert f"on resource: {table_arn('elsewhere')}" in refused[0]["Error"]["Message"]
    assert owner.get_resource_policy(ResourceArn=table_arn("elsewhere"))["Policy"]  # still there
    assert error_of(lambda: owner.get_resource_policy(ResourceArn=table_arn("governed")))["Error"]["Code"] == \
        "PolicyNotFoundException"
