"""The desired state resolved from config, the diff that judges AWS against it, and the run input contract.

Pure: no AWS. Observed state is built by hand.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lambdas.core.desired import DesiredState, IndexSpec, KeyAttribute, TableSpec
from lambdas.core.diff import (
    CREATE,
    REFUSE,
    UPDATE,
    WAIT,
    Difference,
    canonical_statements,
    diff_role,
    diff_table,
    plan_action,
)
from lambdas.core.errors import InvalidInput
from lambdas.core.observe import ObservedRole, ObservedTable
from lambdas.core.run_input import check_schema
from provisioner.config import load_settings
from provisioner.blueprint.desired_state import desired_state

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "config" / "config.yaml"
ACCOUNT = "123456789012"
REGION = "us-east-1"
TABLES = [
    "FileFerry-ActiveSessions",
    "FileFerry-UserContext",
    "FileFerry-TransferRequests",
    "FileFerry-AgentLearning",
    "FileFerry-S3FileCache",
]
TABLE_ARNS = {f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}" for name in TABLES}
EXECUTION_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:fileferry-provisioner:exec-1"


@pytest.fixture
def desired() -> DesiredState:
    return desired_state(load_settings(SHIPPED_CONFIG))


@pytest.fixture
def sessions(desired: DesiredState) -> TableSpec:
    return desired.table("FileFerry-ActiveSessions")


def observed_as_specified(spec: TableSpec) -> ObservedTable:
    """What DescribeTable/DescribeTimeToLive would report for a table exactly as `spec` says."""
    return ObservedTable(
        name=spec.name,
        exists=True,
        status="ACTIVE",
        arn=f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{spec.name}",
        hash_key=spec.hash_key,
        range_key=spec.range_key,
        indexes=tuple(sorted(spec.indexes, key=lambda index: index.name)),
        billing_mode="PAY_PER_REQUEST",
        sse_type="KMS",
        kms_key_arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555",
        ttl_status="ENABLED" if spec.ttl_attribute else "DISABLED",
        ttl_attribute=spec.ttl_attribute,
        deletion_protection=spec.deletion_protection,
        pitr_status="ENABLED" if spec.point_in_time_recovery else "DISABLED",
        recovery_period_days=spec.recovery_period_days if spec.point_in_time_recovery else None,
    )


@pytest.fixture
def matching_role(desired: DesiredState) -> ObservedRole:
    spec = desired.role
    return ObservedRole(
        name=spec.name,
        exists=True,
        arn=f"arn:aws:iam::{ACCOUNT}:role/{spec.name}",
        trust_policy=copy.deepcopy(spec.trust_policy),
        inline_policies={spec.inline_policy_name: copy.deepcopy(spec.inline_policy)},
        max_session_duration=spec.max_session_duration,
    )


def statements_granting(policy: dict[str, Any], prefix: str, effect: str = "Allow") -> list[dict[str, Any]]:
    return [
        statement
        for statement in policy["Statement"]
        if statement["Effect"] == effect
        and any(action.lower().startswith(prefix.lower()) for action in _as_list(statement["Action"]))
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- desired state from config: the spec's five tables ------------------------------------


def test_desired_state_has_the_spec_five_tables(desired: DesiredState) -> None:
    assert desired.table_names() == TABLES
    assert desired.region == REGION
    assert desired.account_id == ACCOUNT


@pytest.mark.parametrize(
    ("table", "hash_key"),
    [
        ("FileFerry-ActiveSessions", "session_token"),
        ("FileFerry-UserContext", "user_id"),
        ("FileFerry-TransferRequests", "transfer_id"),
        ("FileFerry-S3FileCache", "cache_key"),
    ],
)
def test_single_key_tables_have_the_spec_string_hash_key_and_no_range_key(
    desired: DesiredState, table: str, hash_key: str
) -> None:
    spec = desired.table(table)

    assert spec.hash_key == KeyAttribute(hash_key, "S")
    assert spec.range_key is None


def test_agent_learning_has_the_composite_key_and_no_ttl(desired: DesiredState) -> None:
    spec = desired.table("FileFerry-AgentLearning")

    assert spec.hash_key == KeyAttribute("transfer_type", "S")
    assert spec.range_key == KeyAttribute("size_category", "S")
    assert spec.ttl_attribute is None


@pytest.mark.parametrize(
    "table", ["FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests", "FileFerry-S3FileCache"]
)
def test_the_other_four_tables_expire_items_on_the_ttl_attribute(desired: DesiredState, table: str) -> None:
    assert desired.table(table).ttl_attribute == "ttl"


def test_transfer_requests_has_the_user_id_index_on_user_id_and_created_at(desired: DesiredState) -> None:
    spec = desired.table("FileFerry-TransferRequests")

    assert spec.indexes == (IndexSpec("UserIdIndex", KeyAttribute("user_id", "S"), KeyAttribute("created_at", "S"), "ALL"),)
    assert {"AttributeName": "created_at", "AttributeType": "S"} in spec.attribute_definitions()
    assert {"AttributeName": "user_id", "AttributeType": "S"} in spec.attribute_definitions()


def test_only_transfer_requests_has_an_index(desired: DesiredState) -> None:
    assert [spec.name for spec in desired.tables if spec.indexes] == ["FileFerry-TransferRequests"]


@pytest.mark.parametrize("table", TABLES)
def test_every_table_is_on_demand_and_kms_encrypted(desired: DesiredState, table: str) -> None:
    spec = desired.table(table)

    assert spec.billing_mode == "PAY_PER_REQUEST"
    assert spec.sse_type == "KMS"


def test_desired_state_survives_the_json_round_trip_of_the_lambda_package(desired: DesiredState) -> None:
    assert DesiredState.from_json(desired.to_json()) == desired


# -- desired state: the role --------------------------------------------------------------


def test_role_is_trusted_by_lambda_and_by_the_account_only_with_the_external_id(desired: DesiredState) -> None:
    statements = desired.role.trust_policy["Statement"]

    principals = [statement["Principal"] for statement in statements]
    assert {"Service": "lambda.amazonaws.com"} in principals
    account = [s for s in statements if s["Principal"].get("AWS") == f"arn:aws:iam::{ACCOUNT}:root"]
    assert len(account) == 1
    assert account[0]["Condition"] == {"StringEquals": {"sts:ExternalId": "fileferry-sso-handler"}}
    assert all(s["Action"] == "sts:AssumeRole" and s["Effect"] == "Allow" for s in statements)
    assert all("Condition" in s for s in statements if "AWS" in s["Principal"])


def test_role_policy_explicitly_denies_s3_writes(desired: DesiredState) -> None:
    policy = desired.role.inline_policy

    denied = {action for s in statements_granting(policy, "s3:", "Deny") for action in _as_list(s["Action"])}
    assert {"s3:PutObject", "s3:DeleteObject"} <= denied
    assert all(s["Resource"] == "*" for s in statements_granting(policy, "s3:", "Deny"))


def test_role_policy_allows_only_s3_reads(desired: DesiredState) -> None:
    allowed = {
        action for s in statements_granting(desired.role.inline_policy, "s3:") for action in _as_list(s["Action"])
    }

    assert allowed == {"s3:GetObject", "s3:ListBucket"}


def test_role_policy_allows_put_metric_data_only_in_the_fileferry_namespace(desired: DesiredState) -> None:
    metrics = statements_granting(desired.role.inline_policy, "cloudwatch:")

    assert metrics
    for statement in metrics:
        assert _as_list(statement["Action"]) == ["cloudwatch:PutMetricData"]
        assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "FileFerry"}}


def test_role_policy_grants_dynamodb_item_actions_only_on_the_five_tables_and_their_indexes(desired: DesiredState) -> None:
    tables = statements_granting(desired.role.inline_policy, "dynamodb:")

    resources = {resource for s in tables for resource in _as_list(s["Resource"])}
    actions = {action for s in tables for action in _as_list(s["Action"])}
    assert resources == TABLE_ARNS | {f"{arn}/index/*" for arn in TABLE_ARNS}
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"} <= actions
    assert not {a for a in actions if a.endswith("Table") or "*" in a}, "control-plane or wildcard DynamoDB actions"


def test_role_policy_grants_no_wildcard_action(desired: DesiredState) -> None:
    allowed = [a for s in desired.role.inline_policy["Statement"] if s["Effect"] == "Allow" for a in _as_list(s["Action"])]

    assert not [action for action in allowed if "*" in action]


def test_role_sessions_last_an_hour(desired: DesiredState) -> None:
    assert desired.role.max_session_duration == 3600
    assert desired.role.inline_policy_name == "FileFerryReadOnlyPolicy"


# -- canonical_statements -----------------------------------------------------------------


POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::a", "arn:aws:s3:::b"]},
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"},
    ],
}


def test_reordered_statements_actions_and_resources_are_the_same_policy() -> None:
    reordered = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Action": ["s3:PutObject"], "Resource": ["*"]},
            {"Resource": ["arn:aws:s3:::b", "arn:aws:s3:::a"], "Action": ["s3:ListBucket", "s3:GetObject"], "Effect": "Allow"},
        ],
    }

    assert canonical_statements(reordered) == canonical_statements(POLICY)


def test_a_single_statement_object_equals_a_one_element_list() -> None:
    statement = {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}

    assert canonical_statements({"Statement": statement}) == canonical_statements({"Statement": [statement]})


def test_a_bare_account_id_principal_equals_its_root_arn() -> None:
    bare = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]}
    arn = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]}, "Action": "sts:AssumeRole"}]}

    assert canonical_statements(bare) == canonical_statements(arn)


def test_a_changed_action_is_a_different_policy() -> None:
    changed = copy.deepcopy(POLICY)
    changed["Statement"][1]["Action"] = "s3:DeleteObject"

    assert canonical_statements(changed) != canonical_statements(POLICY)


def test_a_changed_effect_is_a_different_policy() -> None:
    changed = copy.deepcopy(POLICY)
    changed["Statement"][1]["Effect"] = "Allow"

    assert canonical_statements(changed) != canonical_statements(POLICY)


def test_a_changed_condition_value_is_a_different_policy(desired: DesiredState) -> None:
    changed = copy.deepcopy(desired.role.trust_policy)
    changed["Statement"][1]["Condition"]["StringEquals"]["sts:ExternalId"] = "someone-else"

    assert canonical_statements(changed) != canonical_statements(desired.role.trust_policy)


def test_no_policy_has_no_statements() -> None:
    assert canonical_statements(None) == []
    assert canonical_statements({}) == []


# -- diff_table ---------------------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
def test_a_table_as_specified_has_no_difference(desired: DesiredState, table: str) -> None:
    spec = desired.table(table)

    assert diff_table(spec, observed_as_specified(spec)) == []


def test_a_missing_table_is_one_create(sessions: TableSpec) -> None:
    differences = diff_table(sessions, ObservedTable(name=sessions.name, exists=False))

    assert differences == [Difference("table/FileFerry-ActiveSessions", "exists", True, False, CREATE)]
    assert plan_action(differences) == "create"


def test_a_changed_key_schema_is_refused(sessions: TableSpec) -> None:
    observed = replace(observed_as_specified(sessions), hash_key=KeyAttribute("token", "S"))

    differences = diff_table(sessions, observed)

    assert [(d.property, d.remedy) for d in differences] == [("key_schema", REFUSE)]
    assert plan_action(differences) == "refuse"


def test_a_changed_key_type_is_refused(sessions: TableSpec) -> None:
    observed = replace(observed_as_specified(sessions), hash_key=KeyAttribute("session_token", "N"))

    assert [(d.property, d.remedy) for d in diff_table(sessions, observed)] == [("key_schema", REFUSE)]


def test_a_missing_index_is_refused(desired: DesiredState) -> None:
    spec = desired.table("FileFerry-TransferRequests")
    observed = replace(observed_as_specified(spec), indexes=())

    assert [(d.property, d.remedy) for d in diff_table(spec, observed)] == [("indexes", REFUSE)]


def test_disabled_ttl_is_an_update(sessions: TableSpec) -> None:
    observed = replace(observed_as_specified(sessions), ttl_status="DISABLED", ttl_attribute=None)

    differences = diff_table(sessions, observed)

    assert [(d.property, d.remedy) for d in differences] == [("ttl", UPDATE)]
    assert plan_action(differences) == "update"


def test_ttl_still_enabling_counts_as_enabled(sessions: TableSpec) -> None:
    observed = replace(observed_as_specified(sessions), ttl_status="ENABLING")

    assert diff_table(sessions, observed) == []


def test_ttl_on_another_attribute_is_refused(sessions: TableSpec) -> None:
    observed = replace(observed_as_specified(sessions), ttl_attribute="expires_at")

    assert [(d.property, d.remedy) for d in diff_table(sessions, observed)] == [("ttl", REFUSE)]


def test_ttl_on_the_permanent_agent_learning_table_is_an_update(desired: DesiredState) -> None:
    spec = desired.table("FileFerry-AgentLearning")
    observed = replace(observed_as_specified(spec), ttl_status="ENABLED", ttl_attribute="ttl")

    assert [(d.property, d.remedy) for d in diff_table(spec, observed)] == [("ttl", UPDATE)]


def test_provisioned_billing_is_an_update(sessions: TableSpec) -> None:
    observed = replace(observed_as_specified(sessions), billing_mode="PROVISIONED")

    differences = diff_table(sessions, observed)

    assert [(d.property, d.expected, d.actual, d.remedy) for d in differences] == [
        ("billing_mode", "PAY_PER_REQUEST", "PROVISIONED", UPDATE)
    ]


def test_default_encryption_is_an_update(sessions: TableSpec) -> None:
    observed = replace(observed_as_specified(sessions), sse_type="DEFAULT", kms_key_arn=None)

    assert [(d.property, d.remedy) for d in diff_table(sessions, observed)] == [("sse_type", UPDATE)]


def test_a_different_customer_key_is_an_update_when_the_spec_names_a_key_arn(sessions: TableSpec) -> None:
    wanted = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    spec = replace(sessions, kms_key_id=wanted)

    assert [(d.property, d.remedy) for d in diff_table(spec, observed_as_specified(spec))] == [("kms_key", UPDATE)]


def test_a_creating_table_is_waited_for(sessions: TableSpec) -> None:
    observed = replace(observed_as_specified(sessions), status="CREATING")

    assert [(d.property, d.remedy) for d in diff_table(sessions, observed)] == [("status", WAIT)]


def test_refuse_outranks_update_in_the_plan(sessions: TableSpec) -> None:
    observed = replace(observed_as_specified(sessions), billing_mode="PROVISIONED", hash_key=KeyAttribute("x", "S"))

    assert plan_action(diff_table(sessions, observed)) == "refuse"


def test_no_difference_plans_an_adoption() -> None:
    assert plan_action([]) == "adopt"


# -- diff_role ----------------------------------------------------------------------------


def test_a_role_as_specified_has_no_difference(desired: DesiredState, matching_role: ObservedRole) -> None:
    assert diff_role(desired.role, matching_role) == []


def test_a_role_with_reordered_policy_statements_has_no_difference(desired: DesiredState, matching_role: ObservedRole) -> None:
    name = desired.role.inline_policy_name
    reordered = copy.deepcopy(desired.role.inline_policy)
    reordered["Statement"].reverse()
    trust = copy.deepcopy(desired.role.trust_policy)
    trust["Statement"].reverse()

    observed = replace(matching_role, inline_policies={name: reordered}, trust_policy=trust)

    assert diff_role(desired.role, observed) == []


def test_a_missing_role_is_one_create(desired: DesiredState) -> None:
    differences = diff_role(desired.role, ObservedRole(name=desired.role.name, exists=False))

    assert [(d.property, d.remedy) for d in differences] == [("exists", CREATE)]


def test_an_extra_inline_policy_is_a_difference(desired: DesiredState, matching_role: ObservedRole) -> None:
    extra = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    observed = replace(matching_role, inline_policies={**matching_role.inline_policies, "Legacy": extra})

    assert [(d.property, d.remedy) for d in diff_role(desired.role, observed)] == [("inline_policy:Legacy", UPDATE)]


def test_a_missing_inline_policy_is_a_difference(desired: DesiredState, matching_role: ObservedRole) -> None:
    observed = replace(matching_role, inline_policies={})

    assert [d.property for d in diff_role(desired.role, observed)] == ["inline_policy:FileFerryReadOnlyPolicy"]


def test_an_attached_managed_policy_is_a_difference(desired: DesiredState, matching_role: ObservedRole) -> None:
    arn = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
    observed = replace(matching_role, attached_policy_arns=(arn,))

    differences = diff_role(desired.role, observed)

    assert [(d.property, d.actual) for d in differences] == [("attached_policies", [arn])]


def test_a_trust_policy_without_the_external_id_condition_is_a_difference(
    desired: DesiredState, matching_role: ObservedRole
) -> None:
    trust = copy.deepcopy(desired.role.trust_policy)
    del trust["Statement"][1]["Condition"]
    observed = replace(matching_role, trust_policy=trust)

    differences = diff_role(desired.role, observed)

    assert [d.property for d in differences] == ["trust_policy"]
    assert plan_action(differences) == "update"


def test_a_longer_session_duration_is_a_difference(desired: DesiredState, matching_role: ObservedRole) -> None:
    observed = replace(matching_role, max_session_duration=43200)

    assert [(d.property, d.expected, d.actual) for d in diff_role(desired.role, observed)] == [
        ("max_session_duration", 3600, 43200)
    ]


# -- run input contract -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"action": "provision"},
        {"action": "drift-check"},
        {"action": "drift-check", "remediate": True},
        {"action": "rollback", "execution_arn": EXECUTION_ARN},
        {"action": "teardown", "confirm": "fileferry-provisioner"},
    ],
    ids=["empty", "provision", "drift-check", "drift-check remediate", "rollback", "teardown"],
)
def test_valid_execution_input_is_accepted(raw: dict[str, Any]) -> None:
    assert check_schema(raw) == raw


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"action": "destroy"}, "action"),
        ({"action": "provision", "dry_run": True}, "dry_run"),
        ({"action": 5}, "action"),
        ({"action": "drift-check", "remediate": "yes"}, "remediate"),
        ({"action": "rollback"}, "execution_arn"),
        ({"action": "rollback", "execution_arn": "arn:aws:states:us-east-1:1234:execution:sm:run"}, "execution_arn"),
        ({"action": "rollback", "execution_arn": "exec-1"}, "execution_arn"),
        ({"action": "teardown", "confirm": "x" * 81}, "confirm"),
        ({"action": "teardown"}, "confirm"),
    ],
    ids=[
        "unknown action",
        "unknown key",
        "action is a number",
        "remediate is a string",
        "rollback without execution_arn",
        "malformed execution arn",
        "execution name instead of arn",
        "oversize confirm",
        "teardown without confirm",
    ],
)
def test_invalid_execution_input_is_refused_naming_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_schema(raw)

    assert field in str(raised.value)


def test_an_oversize_confirm_is_not_echoed_back() -> None:
    with pytest.raises(InvalidInput) as raised:
        check_schema({"action": "teardown", "confirm": "secret-" + "x" * 80})

    assert "secret-" not in str(raised.value)


@pytest.mark.parametrize("raw", [[], ["provision"], "provision", None, 5], ids=["empty list", "list", "string", "null", "number"])
def test_execution_input_that_is_not_an_object_is_refused(raw: Any) -> None:
    with pytest.raises(InvalidInput, match="object"):
        check_schema(raw)


@pytest.mark.parametrize(
    "raw",
    [
        {"action": "provision", "remediate": True},
        {"remediate": True},
        {"action": "provision", "execution_arn": EXECUTION_ARN},
        {"action": "drift-check", "confirm": "fileferry-provisioner"},
    ],
    ids=["remediate with provision", "remediate without action", "execution_arn with provision", "confirm with drift-check"],
)
def test_a_field_that_belongs_to_another_action_is_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        check_schema(raw)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"action": "provision", "remediate": True}, "remediate"),
        ({"action": "provision", "execution_arn": EXECUTION_ARN}, "execution_arn"),
        ({"action": "drift-check", "confirm": "fileferry-provisioner"}, "confirm"),
    ],
    ids=["remediate with provision", "execution_arn with provision", "confirm with drift-check"],
)
def test_a_field_that_belongs_to_another_action_is_named_in_the_refusal(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_schema(raw)

    assert field in str(raised.value)


# -- one role, one inline policy per Region -----------------------------------------------


def test_the_home_region_keeps_the_spec_policy_name_and_every_other_names_its_own() -> None:
    from lambdas.core.role import read_only_policy_name

    assert read_only_policy_name("us-east-1", "us-east-1") == "FileFerryReadOnlyPolicy"
    assert read_only_policy_name("us-west-2", "us-east-1") == "FileFerryReadOnlyPolicy-us-west-2"
    assert read_only_policy_name("us-east-1", "eu-west-1") == "FileFerryReadOnlyPolicy-us-east-1"


@pytest.mark.parametrize(("name", "regional"), [
    ("FileFerryReadOnlyPolicy", True), ("FileFerryReadOnlyPolicy-us-west-2", True),
    ("FileFerryReadOnlyPolicy-us-gov-west-1", True), ("FileFerryReadOnlyPolicy-extra", False),
    ("FileFerryReadOnlyPolicyX", False), ("Legacy", False), ("least-privilege", False),
])
def test_a_regions_policy_is_known_by_its_name(name: str, regional: bool) -> None:
    from lambdas.core.diff import is_read_only_policy

    assert is_read_only_policy(name) is regional


def test_another_regions_policy_is_no_difference_but_an_unknown_policy_still_is(
    desired: DesiredState, matching_role: ObservedRole
) -> None:
    west = copy.deepcopy(desired.role.inline_policy)
    for statement in west["Statement"]:
        if statement["Sid"] == "FileFerryTables":
            statement["Resource"] = [arn.replace(":us-east-1:", ":us-west-2:") for arn in statement["Resource"]]
    extra = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    observed = replace(matching_role, inline_policies={**matching_role.inline_policies,
                                                       "FileFerryReadOnlyPolicy-us-west-2": west, "Legacy": extra})

    assert [d.property for d in diff_role(desired.role, observed)] == ["inline_policy:Legacy"]


def test_orchestrator_role_names_carry_the_region_and_never_pass_64_characters() -> None:
    from provisioner.blueprint.iam_documents import role_name, role_suffixes

    assert role_name("fileferry-provisioner", "us-east-1", "states") == "fileferry-provisioner-us-east-1-states"
    longest = max(role_suffixes(), key=len)
    assert len(role_name("f" * 23, "us-isof-south-1", longest)) == 64
    with pytest.raises(ValueError, match="over IAM's 64"):
        role_name("f" * 24, "us-isof-south-1", longest)
