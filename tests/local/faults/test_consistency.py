"""Reads that lag writes (--consistency-lag), read back with boto3; the clock ends each window."""

import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

LAG = 30.0  # longer than any of these tests takes, so a window ends only when the clock moves
TABLE = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/{}"
ROLE_ARN = "arn:aws:iam::123456789012:role/{}"
PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
ONE_SECOND_MACHINE = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 1, "End": True}}}
WAIT_MACHINE = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}


def trust(service):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "logs:*"], "Resource": "*"}]})


@pytest.fixture
def lagging(emulator):
    """The embedded AWS with reads lagging writes by LAG seconds; `end_lag()` moves its clock past it."""
    emulator.set_consistency_lag(LAG)

    class Lagging:
        @staticmethod
        def end_lag():
            emulator.clock.advance(LAG)

    return Lagging()


def error_code(call, *args, **kwargs):
    with pytest.raises(ClientError) as refused:
        call(*args, **kwargs)
    return refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]


def test_without_a_lag_every_read_sees_the_latest_write(emulator, aws):
    dynamodb, iam = aws("dynamodb"), aws("iam")
    dynamodb.create_table(TableName="fresh", Tags=[{"Key": "k", "Value": "v"}], **TABLE)
    iam.create_role(RoleName="fresh", AssumeRolePolicyDocument=trust("lambda.amazonaws.com"))

    assert dynamodb.describe_table(TableName="fresh")["Table"]["TableName"] == "fresh"
    assert dynamodb.list_tags_of_resource(ResourceArn=TABLE_ARN.format("fresh"))["Tags"] == [{"Key": "k", "Value": "v"}]
    assert iam.get_role(RoleName="fresh")["Role"]["RoleName"] == "fresh"


def test_describe_table_right_after_create_table_is_not_found_until_the_lag_ends(lagging, aws):
    # DynamoDB API reference, DescribeTable: "If you issue a DescribeTable request immediately after
    # a CreateTable request, DynamoDB might return a ResourceNotFoundException."
    dynamodb = aws("dynamodb")
    created = dynamodb.create_table(TableName="orders", **TABLE)["TableDescription"]
    assert created["TableStatus"] in ("CREATING", "ACTIVE")

    code, _ = error_code(dynamodb.describe_table, TableName="orders")
    assert code == "ResourceNotFoundException"
    code, _ = error_code(dynamodb.describe_table, TableName=TABLE_ARN.format("orders"))
    assert code == "ResourceNotFoundException"
    assert "orders" in dynamodb.list_tables()["TableNames"]  # only the lagged read lags

    lagging.end_lag()
    assert dynamodb.describe_table(TableName="orders")["Table"]["TableName"] == "orders"


def test_a_longer_lag_set_later_lags_only_the_writes_that_follow_and_a_zero_lag_ends_every_window(emulator, aws):
    dynamodb = aws("dynamodb")
    emulator.set_consistency_lag(5)
    dynamodb.create_table(TableName="early", **TABLE)
    emulator.clock.advance(6)  # its window has ended
    emulator.set_consistency_lag(600)
    dynamodb.create_table(TableName="late", **TABLE)

    assert dynamodb.describe_table(TableName="early")["Table"]["TableName"] == "early"
    code, _ = error_code(dynamodb.describe_table, TableName="late")
    assert code == "ResourceNotFoundException"
    emulator.set_consistency_lag(0)
    assert dynamodb.describe_table(TableName="late")["Table"]["TableName"] == "late"


def test_tags_read_back_empty_after_create_table_and_old_after_tag_resource(lagging, aws):
    dynamodb = aws("dynamodb")
    arn = TABLE_ARN.format("tagged")
    dynamodb.create_table(TableName="tagged", Tags=[{"Key": "created-by", "Value": "run-1"}], **TABLE)

    assert dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"] == []
    lagging.end_lag()
    assert dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "created-by", "Value": "run-1"}]

    dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "team"}])
    assert dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "created-by", "Value": "run-1"}]
    lagging.end_lag()
    assert sorted(t["Key"] for t in dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"]) == ["created-by", "owner"]

    dynamodb.untag_resource(ResourceArn=arn, TagKeys=["owner"])
    assert len(dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"]) == 2
    lagging.end_lag()
    assert dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "created-by", "Value": "run-1"}]


def test_iam_reads_show_the_role_as_it_was_before_each_change(lagging, aws):
    iam = aws("iam")
    iam.create_role(RoleName="worker", AssumeRolePolicyDocument=trust("lambda.amazonaws.com"))
    for read in (iam.get_role, iam.list_role_policies, iam.list_attached_role_policies):
        assert error_code(read, RoleName="worker")[0] == "NoSuchEntity"
    lagging.end_lag()
    assert iam.get_role(RoleName="worker")["Role"]["RoleName"] == "worker"

    iam.put_role_policy(RoleName="worker", PolicyName="inline", PolicyDocument=POLICY)
    assert error_code(iam.get_role_policy, RoleName="worker", PolicyName="inline")[0] == "NoSuchEntity"
    assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == []
    lagging.end_lag()
    assert iam.get_role_policy(RoleName="worker", PolicyName="inline")["PolicyName"] == "inline"
    assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == ["inline"]

    iam.delete_role_policy(RoleName="worker", PolicyName="inline")
    assert iam.get_role_policy(RoleName="worker", PolicyName="inline")["PolicyName"] == "inline"
    assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == ["inline"]
    lagging.end_lag()
    assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == []

    managed = iam.create_policy(PolicyName="managed", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="worker", PolicyArn=managed)
    assert iam.list_attached_role_policies(RoleName="worker")["AttachedPolicies"] == []
    lagging.end_lag()
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="worker")["AttachedPolicies"]] == [managed]
    iam.detach_role_policy(RoleName="worker", PolicyArn=managed)
    assert len(iam.list_attached_role_policies(RoleName="worker")["AttachedPolicies"]) == 1
    lagging.end_lag()
    assert iam.list_attached_role_policies(RoleName="worker")["AttachedPolicies"] == []

    iam.update_assume_role_policy(RoleName="worker", PolicyDocument=trust("states.amazonaws.com"))
    iam.update_role(RoleName="worker", Description="now for Step Functions")
    role = iam.get_role(RoleName="worker")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "lambda.amazonaws.com"
    assert "Description" not in role or role["Description"] != "now for Step Functions"
    lagging.end_lag()
    role = iam.get_role(RoleName="worker")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "states.amazonaws.com"
    assert role["Description"] == "now for Step Functions"


def test_an_execution_started_moments_ago_is_not_listed_yet(lagging, aws):
    sfn = aws("stepfunctions")
    machine = sfn.create_state_machine(name="waits", definition=json.dumps(WAIT_MACHINE),
                                       roleArn=ROLE_ARN.format("sample-states-role"))["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
    assert sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"] == []
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"  # only the listing lags
    lagging.end_lag()
    assert [e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]] == [execution]


def test_an_execution_that_just_ended_still_reads_running(emulator, aws, poll):
    sfn = aws("stepfunctions")
    machine = sfn.create_state_machine(name="quick", definition=json.dumps(ONE_SECOND_MACHINE),
                                       roleArn=ROLE_ARN.format("sample-states-role"))["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]  # listed at once: no lag yet
    emulator.set_consistency_lag(LAG)  # ...but its end, a second later, lags
    lagging = type("Lagging", (), {"end_lag": staticmethod(lambda: emulator.clock.advance(LAG))})

    def ended():  # the history is not one of the lagged reads
        events = sfn.get_execution_history(executionArn=execution)["events"]
        return any(event["type"] == "ExecutionSucceeded" for event in events)

    poll(ended)
    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "RUNNING" and "stopDate" not in described and "output" not in described
    running = sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]
    assert [e["executionArn"] for e in running] == [execution]
    assert sfn.list_executions(stateMachineArn=machine, statusFilter="SUCCEEDED")["executions"] == []
    assert sfn.list_executions(stateMachineArn=machine)["executions"][0]["status"] == "RUNNING"

    lagging.end_lag()
    assert sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"
    assert sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"] == []
    succeeded = sfn.list_executions(stateMachineArn=machine, statusFilter="SUCCEEDED")["executions"]
    assert [e["executionArn"] for e in succeeded] == [execution]


def test_services_refuse_a_role_whose_trust_policy_has_not_propagated(lagging, aws, lambda_zip):
    iam = aws("iam")
    for name, service in (("fn-role", "lambda.amazonaws.com"), ("sm-role", "states.amazonaws.com"),
                          ("sched-role", "scheduler.amazonaws.com")):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service))

    def create_function():
        return aws("lambda").create_function(
            FunctionName="fresh-fn", Runtime="python3.12", Role=ROLE_ARN.format("fn-role"),
            Handler="testpkg.handlers.echo", Code={"ZipFile": lambda_zip})

    def create_state_machine():
        return aws("stepfunctions").create_state_machine(
            name="fresh-sm", definition=json.dumps(PASS_MACHINE), roleArn=ROLE_ARN.format("sm-role"))

    def create_schedule():
        return aws("scheduler").create_schedule(
            Name="fresh-schedule", ScheduleExpression="rate(1 day)", FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:fresh-sm",
                    "RoleArn": ROLE_ARN.format("sched-role")})

    assert error_code(create_function) == (
        "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")
    assert error_code(create_state_machine) == (
        "AccessDeniedException", "Neither the global service principal states.amazonaws.com, nor the regional "
        "one is authorized to assume the provided role.")
    assert error_code(create_schedule) == (
        "ValidationException", "The execution role you provide must allow AWS EventBridge Scheduler to assume the role.")
    with pytest.raises(ClientError):
        aws("lambda").get_function(FunctionName="fresh-fn")  # nothing was created

    lagging.end_lag()
    assert create_function()["Role"] == ROLE_ARN.format("fn-role")
    assert create_state_machine()["stateMachineArn"].endswith(":fresh-sm")
    assert create_schedule()["ScheduleArn"].endswith("/fresh-schedule")

    iam.update_assume_role_policy(RoleName="fn-role", PolicyDocument=trust("lambda.amazonaws.com"))
    code, _ = error_code(aws("lambda").update_function_configuration,
                         FunctionName="fresh-fn", Role=ROLE_ARN.format("fn-role"))
    assert code == "InvalidParameterValueException"


def test_tracing_and_logging_are_refused_while_the_role_policy_propagates(lagging, aws, lambda_zip):
    iam, logs = aws("iam"), aws("logs")
    iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=trust("lambda.amazonaws.com"))
    iam.create_role(RoleName="sm-role", AssumeRolePolicyDocument=trust("states.amazonaws.com"))
    logs.create_log_group(logGroupName="/fileferry/sm")
    log_group = logs.describe_log_groups(logGroupNamePrefix="/fileferry/sm")["logGroups"][0]["arn"]
    lagging.end_lag()
    for role in ("fn-role", "sm-role"):
        iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=POLICY)

    function = {"FunctionName": "traced", "Runtime": "python3.12", "Role": ROLE_ARN.format("fn-role"),
                "Handler": "testpkg.handlers.echo", "Code": {"ZipFile": lambda_zip}}
    logging = {"level": "ERROR", "includeExecutionData": False,
               "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group}}]}
    machine = {"name": "logged", "definition": json.dumps(PASS_MACHINE), "roleArn": ROLE_ARN.format("sm-role")}

    assert error_code(aws("lambda").create_function, TracingConfig={"Mode": "Active"}, **function) == (
        "InvalidParameterValueException",
        "The provided execution role does not have permissions to call PutTraceSegments on XRAY")
    assert error_code(aws("stepfunctions").create_state_machine, loggingConfiguration=logging, **machine) == (
        "AccessDeniedException", "The state machine IAM Role is not authorized to access the Log Destination")
    # Without tracing or logging, the role's permissions are not checked when it is handed over.
    aws("lambda").create_function(**function)
    aws("stepfunctions").create_state_machine(**{**machine, "name": "unlogged"})

    lagging.end_lag()
    traced = aws("lambda").create_function(TracingConfig={"Mode": "Active"}, **{**function, "FunctionName": "traced-later"})
    assert traced["TracingConfig"]["Mode"] == "Active"
    assert aws("stepfunctions").create_state_machine(loggingConfiguration=logging, **machine)["stateMachineArn"]


def test_the_lag_is_set_over_http_and_a_bad_value_changes_nothing(emulator, aws):
    def post_config(payload):
        request = urllib.request.Request(f"{emulator.endpoint_url}/_fileferry/config",
                                         data=json.dumps(payload).encode(), method="POST")
        with urllib.request.urlopen(request) as response:
            return json.load(response)

    assert post_config({"consistency_lag": LAG})["consistency_lag"] == LAG
    aws("iam").create_role(RoleName="late", AssumeRolePolicyDocument=trust("lambda.amazonaws.com"))
    assert error_code(aws("iam").get_role, RoleName="late")[0] == "NoSuchEntity"

    for bad in (-1, "soon", 3601, None, True):
        with pytest.raises(urllib.error.HTTPError) as refused:
            post_config({"consistency_lag": bad})
        assert refused.value.code == 400
        assert "consistency lag" in json.load(refused.value)["error"]
    assert emulator.consistency.seconds == LAG


def test_a_read_made_while_a_write_lands_already_answers_with_the_state_from_before_it():
    # The window opens before the write lands: otherwise a read racing the write sees the new table, and
    # every read after it (once the window is recorded) the old one, a table that appears, then vanishes.
    from local.aws_calls import AwsCall
    from local.faults.consistency import ConsistencyLag, _read_environ

    lag = ConsistencyLag(seconds=5)
    signed = {"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261207/us-east-1/dynamodb/aws4_request"}
    describe = AwsCall("dynamodb", "DescribeTable", "json", "test")
    created, raced = [], []

    def read_during_write() -> str:
        answer = b"".join(lag.serve(describe, _read_environ(signed, "dynamodb", "DescribeTable", {"TableName": "orders"}),
                                    lambda *args: None, moto))
        return json.loads(answer).get("__type", "found")

    def moto(environ, start_response):
        operation = environ["HTTP_X_AMZ_TARGET"].split(".")[1]
        if operation == "CreateTable":
            created.append(True)  # moto has written the table...
            raced.append(read_during_write())  # ...and a read arrives before CreateTable answers
            start_response("200 OK", [])
            return [b'{"TableDescription": {"TableStatus": "CREATING"}}']
        if created:
            start_response("200 OK", [])
            return [b'{"Table": {"TableName": "orders"}}']
        start_response("400 Bad Request", [])
        return [b'{"__type": "ResourceNotFoundException"}']

    create = AwsCall("dynamodb", "CreateTable", "json", "test")
    b"".join(lag.serve(create, _read_environ(signed, "dynamodb", "CreateTable", {"TableName": "orders"}), lambda *args: None, moto))

    assert raced == ["ResourceNotFoundException"]
    assert read_during_write() == "ResourceNotFoundException"
