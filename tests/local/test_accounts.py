"""Many accounts in one embedded AWS: a 12-digit access key acts as that account, and everything the emulator
runs on an account's behalf (functions, state machines, their roles' sessions) runs in that account."""

import json
import time

import pytest

from emulated_samples import trust_policy, zipped_handlers

ACCOUNT_A, ACCOUNT_B = "111111111111", "222222222222"
DEFAULT_ACCOUNT = "123456789012"
TABLE_KEY = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}
WHOAMI = '''
import boto3


def whoami(event, context):
    identity = boto3.client("sts").get_caller_identity()
    dynamodb = boto3.client("dynamodb")
    dynamodb.put_item(TableName=event["table"], Item={"pk": {"S": identity["Arn"]}})
    try:
        dynamodb.delete_table(TableName=event["table"])
        refused = None
    except Exception as error:
        refused = error.response["Error"]["Code"]
    return {"arn": identity["Arn"], "account": identity["Account"], "delete_table": refused}
'''


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resources):
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def test_a_twelve_digit_key_acts_as_that_account_and_the_testing_key_as_the_default_one(aws, aws_as):
    aws_as(ACCOUNT_A)("dynamodb").create_table(TableName="only-in-a", **TABLE_KEY)
    aws_as(ACCOUNT_B)("dynamodb").create_table(TableName="only-in-b", **TABLE_KEY)

    assert aws_as(ACCOUNT_A)("dynamodb").list_tables()["TableNames"] == ["only-in-a"]
    assert aws_as(ACCOUNT_B)("dynamodb").list_tables()["TableNames"] == ["only-in-b"]
    assert aws("dynamodb").list_tables()["TableNames"] == []
    described = aws_as(ACCOUNT_B)("dynamodb").describe_table(TableName="only-in-b")["Table"]
    assert described["TableArn"] == f"arn:aws:dynamodb:us-east-1:{ACCOUNT_B}:table/only-in-b"
    # The operator is the account principal (STS API reference, GetCallerIdentity of the root user).
    assert aws_as(ACCOUNT_A)("sts").get_caller_identity() | {"ResponseMetadata": None} == {
        "UserId": ACCOUNT_A, "Account": ACCOUNT_A, "Arn": f"arn:aws:iam::{ACCOUNT_A}:root", "ResponseMetadata": None}
    assert aws("sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{DEFAULT_ACCOUNT}:root"


def test_a_state_machine_in_another_account_runs_its_functions_there_as_their_roles(aws, aws_as):
    """Account B's state machine invokes B's function as B's states role; the function runs as B's function role,
    whose policy lets it write B's table and nothing else (IAM is enforced in B as anywhere)."""
    b = aws_as(ACCOUNT_B)
    for client in (b("dynamodb"), aws("dynamodb")):
        client.create_table(TableName="audit", **TABLE_KEY)
    iam = b("iam")
    function_role = iam.create_role(RoleName="whoami-fn", AssumeRolePolicyDocument=trust_policy("lambda.amazonaws.com"))
    iam.put_role_policy(RoleName="whoami-fn", PolicyName="write", PolicyDocument=policy(
        allow("dynamodb:PutItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT_B}:table/audit")))
    function_arn = b("lambda").create_function(
        FunctionName="whoami", Runtime="python3.12", Role=function_role["Role"]["Arn"], Handler="testpkg.handlers.whoami",
        Code={"ZipFile": zipped_handlers(WHOAMI, vendored=False)}, Timeout=10)["FunctionArn"]
    states_role = iam.create_role(RoleName="whoami-states", AssumeRolePolicyDocument=trust_policy("states.amazonaws.com"))
    iam.put_role_policy(RoleName="whoami-states", PolicyName="invoke", PolicyDocument=policy(
        allow("lambda:InvokeFunction", function_arn)))
    machine = b("stepfunctions").create_state_machine(name="whoami", roleArn=states_role["Role"]["Arn"], definition=json.dumps(
        {"StartAt": "Who", "States": {"Who": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                                               "OutputPath": "$.Payload",
                                               "Parameters": {"FunctionName": function_arn, "Payload": {"table": "audit"}}}}}))

    execution = b("stepfunctions").start_execution(stateMachineArn=machine["stateMachineArn"])
    ended = _finished(b("stepfunctions"), execution["executionArn"])

    assert machine["stateMachineArn"].split(":")[4] == ACCOUNT_B
    assert ended["status"] == "SUCCEEDED", ended
    output = json.loads(ended["output"])
    session = f"arn:aws:sts::{ACCOUNT_B}:assumed-role/whoami-fn/whoami"
    assert output == {"arn": session, "account": ACCOUNT_B, "delete_table": "AccessDeniedException"}
    assert b("dynamodb").scan(TableName="audit")["Items"] == [{"pk": {"S": session}}]
    assert aws("dynamodb").scan(TableName="audit")["Items"] == []  # the default account's table is untouched
    assert aws("stepfunctions").list_state_machines()["stateMachines"] == []


def _finished(sfn, execution_arn, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            pytest.fail(f"{execution_arn} still RUNNING after {timeout} s")
        time.sleep(0.1)


def test_iam_propagating_in_one_account_holds_up_nothing_in_another(emulator, aws_as, lambda_zip):
    """A StackSet creates the same role names in every account: a change propagating in account A (reads of
    it lag, services refuse it) says nothing about account B's role of that name."""
    b = aws_as(ACCOUNT_B)
    role = b("iam").create_role(RoleName="worker", AssumeRolePolicyDocument=trust_policy("lambda.amazonaws.com"))
    emulator.set_consistency_lag(30)
    aws_as(ACCOUNT_A)("iam").create_role(RoleName="worker", AssumeRolePolicyDocument=trust_policy("lambda.amazonaws.com"))

    assert b("iam").get_role(RoleName="worker")["Role"]["Arn"] == f"arn:aws:iam::{ACCOUNT_B}:role/worker"
    created = b("lambda").create_function(FunctionName="worker", Runtime="python3.12", Role=role["Role"]["Arn"],
                                          Handler="testpkg.handlers.echo", Code={"ZipFile": lambda_zip})
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT_B}:function:worker"
    with pytest.raises(Exception, match="NoSuchEntity"):  # A's own read still lags its write
        aws_as(ACCOUNT_A)("iam").get_role(RoleName="worker")


def test_a_function_session_minted_before_a_reset_still_acts_in_its_account_after_it(emulator, aws_as):
    """A warm worker keeps its role's credentials across a reset; moto forgot the key, which would make its
    calls the default account's."""
    b = aws_as(ACCOUNT_B)

    def deploy_and_invoke():
        b("dynamodb").create_table(TableName="audit", **TABLE_KEY)
        role = b("iam").create_role(RoleName="whoami-fn", AssumeRolePolicyDocument=trust_policy("lambda.amazonaws.com"))
        b("iam").put_role_policy(RoleName="whoami-fn", PolicyName="write", PolicyDocument=policy(
            allow("dynamodb:PutItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT_B}:table/audit")))
        b("lambda").create_function(FunctionName="whoami", Runtime="python3.12", Role=role["Role"]["Arn"],
                                    Handler="testpkg.handlers.whoami", Timeout=10,
                                    Code={"ZipFile": zipped_handlers(WHOAMI, vendored=False)})
        return json.loads(b("lambda").invoke(FunctionName="whoami", Payload=json.dumps({"table": "audit"}))["Payload"].read())

    first = deploy_and_invoke()
    emulator.reset()
    again = deploy_and_invoke()

    assert first["account"] == again["account"] == ACCOUNT_B
    assert again["arn"] == f"arn:aws:sts::{ACCOUNT_B}:assumed-role/whoami-fn/whoami"
    assert len(b("dynamodb").scan(TableName="audit")["Items"]) == 1


def test_an_accounts_execution_status_events_reach_its_own_rules_only(aws, aws_as):
    """A stopped execution in account B starts B's rollback through B's rule, as B's events role; the same rule in
    the default account starts nothing (EventBridge delivers on the account's own default bus)."""
    wait = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}}
    done = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}

    def machines(client_of, account):
        iam = client_of("iam")
        states = iam.create_role(RoleName="states", AssumeRolePolicyDocument=trust_policy("states.amazonaws.com"))
        events_role = iam.create_role(RoleName="events", AssumeRolePolicyDocument=trust_policy("events.amazonaws.com"))
        iam.put_role_policy(RoleName="events", PolicyName="start", PolicyDocument=policy(
            allow("states:StartExecution", f"arn:aws:states:us-east-1:{account}:stateMachine:rollback")))
        sfn = client_of("stepfunctions")
        watched = sfn.create_state_machine(name="provision", definition=json.dumps(wait), roleArn=states["Role"]["Arn"])
        rollback = sfn.create_state_machine(name="rollback", definition=json.dumps(done), roleArn=states["Role"]["Arn"])
        client_of("events").put_rule(Name="rollback", EventPattern=json.dumps(
            {"source": ["aws.states"], "detail": {"status": ["ABORTED"]}}))
        client_of("events").put_targets(Rule="rollback", Targets=[
            {"Id": "rollback", "Arn": rollback["stateMachineArn"], "RoleArn": events_role["Role"]["Arn"]}])
        return sfn, watched["stateMachineArn"], rollback["stateMachineArn"]

    sfn_b, watched_b, rollback_b = machines(aws_as(ACCOUNT_B), ACCOUNT_B)
    sfn_default, _, rollback_default = machines(aws, DEFAULT_ACCOUNT)
    execution = sfn_b.start_execution(stateMachineArn=watched_b)["executionArn"]
    sfn_b.stop_execution(executionArn=execution)

    deadline = time.monotonic() + 20
    while not sfn_b.list_executions(stateMachineArn=rollback_b)["executions"]:
        assert time.monotonic() < deadline, "B's rollback never started"
        time.sleep(0.1)
    assert sfn_default.list_executions(stateMachineArn=rollback_default)["executions"] == []
