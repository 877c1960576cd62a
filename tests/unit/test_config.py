"""config/config.yaml: the shipped file loads; every mistake is one ConfigError naming the key."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner.config import PACKAGED_CONFIG_PATH, ConfigError, load_settings, resolve
from provisioner.blueprint.desired_state import desired_state

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "config" / "config.yaml"


def shipped() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))


def set_key(data: dict[str, Any], dotted: str, value: Any) -> None:
    *sections, key = dotted.split(".")
    for section in sections:
        data = data[section]
    data[key] = value


def delete_key(data: dict[str, Any], dotted: str) -> None:
    *sections, key = dotted.split(".")
    for section in sections:
        data = data[section]
    del data[key]


@pytest.fixture
def config_file(tmp_path: Path) -> Callable[[Callable[[dict[str, Any]], None]], Path]:
    """Factory: the shipped config with one change applied, written to a temporary file."""

    def write(change: Callable[[dict[str, Any]], None] = lambda data: None) -> Path:
        data = shipped()
        change(data)
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def shipped_copy(config_file: Callable[..., Path]) -> Path:
    return config_file()


@pytest.fixture
def no_endpoint_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


# -- the shipped file ---------------------------------------------------------------------


def test_shipped_config_loads_with_the_spec_table_names_and_account() -> None:
    settings = load_settings(SHIPPED_CONFIG)

    assert settings.table_names() == [
        "FileFerry-ActiveSessions",
        "FileFerry-UserContext",
        "FileFerry-TransferRequests",
        "FileFerry-AgentLearning",
        "FileFerry-S3FileCache",
    ]
    assert settings.dynamodb.region == "us-east-1"
    assert settings.sso.account_id == "123456789012"
    assert settings.sso.role_name == "FileFerryReadOnlyRole"
    assert settings.sso.external_id == "fileferry-sso-handler"


def test_a_copy_written_back_with_safe_dump_still_loads(shipped_copy: Path) -> None:
    assert load_settings(shipped_copy) == load_settings(SHIPPED_CONFIG)


# -- one wrong value: a ConfigError naming the file and the key ---------------------------


def _set(dotted: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: set_key(data, dotted, value)


def _delete(dotted: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: delete_key(data, dotted)


INVALID = {
    "table name too short": (_set("dynamodb.active_sessions_table", "a"), "dynamodb.active_sessions_table"),
    "table name with a space": (_set("dynamodb.s3_file_cache_table", "FileFerry Cache"), "dynamodb.s3_file_cache_table"),
    "11-digit account id": (_set("sso.account_id", "12345678901"), "sso.account_id"),
    "13-digit account id": (_set("sso.account_id", "1234567890123"), "sso.account_id"),
    "unquoted numeric account id": (_set("sso.account_id", 123456789012), "sso.account_id"),
    "missing sso.external_id": (_delete("sso.external_id"), "sso.external_id"),
    "external id of one character": (_set("sso.external_id", "x"), "sso.external_id"),
    "external id of 1225 characters": (_set("sso.external_id", "x" * 1225), "sso.external_id"),
    "external id with a space": (_set("sso.external_id", "fileferry sso"), "sso.external_id"),
    "unknown top-level key": (_set("dynamodbb", {"region": "us-east-1"}), "dynamodbb"),
    "unknown key inside a section": (_set("dynamodb.read_capacity", 5), "dynamodb.read_capacity"),
    "drift_schedule rate(0 days)": (_set("provisioner.drift_schedule", "rate(0 days)"), "provisioner.drift_schedule"),
    "drift_schedule every day": (_set("provisioner.drift_schedule", "every day"), "provisioner.drift_schedule"),
    "drift_schedule rate(1 days)": (_set("provisioner.drift_schedule", "rate(1 days)"), "provisioner.drift_schedule"),
    "bad kms_key_id": (_set("dynamodb.kms_key_id", "my-key"), "dynamodb.kms_key_id"),
    "bad alarm_topic_arn": (
        _set("provisioner.alarm_topic_arn", "arn:aws:sqs:us-east-1:123456789012:alerts"),
        "provisioner.alarm_topic_arn",
    ),
    "max_concurrency 0": (_set("provisioner.max_concurrency", 0), "provisioner.max_concurrency"),
    # An inline Map runs at most 40 iterations at once (Step Functions Developer Guide).
    "max_concurrency 41": (_set("provisioner.max_concurrency", 41), "provisioner.max_concurrency"),
    # Past half Step Functions' 25,000-event history limit (state_machine/history_model.py).
    "max_polls 1000": (_set("provisioner.max_polls", 1000), "provisioner.max_polls"),
    "backup_wait_seconds 0": (_set("provisioner.backup_wait_seconds", 0), "provisioner.backup_wait_seconds"),
    "backup_wait_seconds 2 hours": (_set("provisioner.backup_wait_seconds", 7200), "provisioner.backup_wait_seconds"),
    "log_retention_days 10": (_set("provisioner.log_retention_days", 10), "provisioner.log_retention_days"),
    "bad region": (_set("dynamodb.region", "us-east"), "dynamodb.region"),
    # Python's and pydantic's \d take any Unicode digit; AWS account IDs are ASCII.
    "account id of Arabic-Indic digits": (_set("sso.account_id", "\u0662" * 12), "sso.account_id"),
    "fleet target of Arabic-Indic digits": (_set("fleet.targets", ["\u0662" * 12 + "/us-east-1"]), "fleet.targets"),
    "fleet target without a Region": (_set("fleet.targets", ["222222222222"]), "fleet.targets"),
    "fleet target of 11 digits": (_set("fleet.targets", ["22222222222/us-east-1"]), "fleet.targets"),
    "fleet target in no Region": (_set("fleet.targets", ["222222222222/us-mars-1"]), "fleet.targets"),
    "fleet max_concurrent 0": (_set("fleet.max_concurrent", 0), "fleet.max_concurrent"),
    "fleet code bucket prefix with capitals": (_set("fleet.code_bucket_prefix", "Code"), "fleet.code_bucket_prefix"),
}


@pytest.mark.parametrize(("change", "key"), list(INVALID.values()), ids=list(INVALID))
def test_an_invalid_value_is_a_config_error_naming_the_file_and_key(
    config_file: Callable[..., Path], change: Callable[[dict[str, Any]], None], key: str
) -> None:
    path = config_file(change)

    with pytest.raises(ConfigError) as raised:
        load_settings(path)

    assert key in str(raised.value)
    assert str(path) in str(raised.value)


def test_an_unknown_key_is_called_unknown(config_file: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError, match=r"dynamodb\.read_capacity: unknown key"):
        load_settings(config_file(_set("dynamodb.read_capacity", 5)))


def test_a_missing_external_id_is_called_missing(config_file: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError, match=r"sso\.external_id: required key is missing"):
        load_settings(config_file(_delete("sso.external_id")))


def test_an_unquoted_account_id_asks_for_quotes(config_file: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError, match="quoted"):
        load_settings(config_file(_set("sso.account_id", 123456789012)))


def test_polling_that_could_outgrow_the_history_limit_is_refused_with_the_numbers(config_file: Callable[..., Path]) -> None:
    path = config_file(_set("provisioner.max_polls", 801))

    with pytest.raises(ConfigError) as raised:
        load_settings(path)

    message = str(raised.value)
    assert message.startswith(f"{path}: provisioner.max_polls 801 ")
    assert "5 tables write up to 12514 Step Functions history events (2418 per table), more than 12500" in message
    assert message.endswith("max_polls may be at most 800")
    assert load_settings(config_file(_set("provisioner.max_polls", 800))).provisioner.max_polls == 800


def test_a_table_name_used_twice_is_a_config_error_naming_section_and_name(config_file: Callable[..., Path]) -> None:
    path = config_file(_set("dynamodb.user_context_table", "FileFerry-ActiveSessions"))

    with pytest.raises(ConfigError) as raised:
        load_settings(path)

    message = str(raised.value)
    assert "dynamodb" in message
    assert "FileFerry-ActiveSessions" in message
    assert "twice" in message


VALID = {
    "account id with a leading zero": _set("sso.account_id", "012345678901"),
    "kms key arn": _set(
        "dynamodb.kms_key_id", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    ),
    "kms alias": _set("dynamodb.kms_key_id", "alias/fileferry"),
    "sns topic": _set("provisioner.alarm_topic_arn", "arn:aws:sns:us-east-1:123456789012:fileferry-drift"),
    "rate(5 minutes)": _set("provisioner.drift_schedule", "rate(5 minutes)"),
    "cron expression": _set("provisioner.drift_schedule", "cron(0 6 * * ? *)"),
    "a named bucket": _set("sso.readable_buckets", ["fileferry-uploads"]),
    "external id of 1224 characters": _set("sso.external_id", "x" * 1224),
    "external id with IAM punctuation": _set("sso.external_id", "ff+=,.@:/-_id"),
}


@pytest.mark.parametrize("change", list(VALID.values()), ids=list(VALID))
def test_a_valid_alternative_value_loads(config_file: Callable[..., Path], change: Callable[[dict[str, Any]], None]) -> None:
    load_settings(config_file(change))


@pytest.mark.parametrize(
    "key",
    ["arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab", "mrk-1234abcd12ab34cd56ef1234567890ab"],
    ids=["mrk arn", "mrk id"],
)
def test_a_multi_region_kms_key_is_accepted(config_file: Callable[..., Path], key: str) -> None:
    assert load_settings(config_file(_set("dynamodb.kms_key_id", key))).dynamodb.kms_key_id == key


# -- the file itself ----------------------------------------------------------------------


def test_yaml_that_is_not_a_mapping_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("- dynamodb\n- sso\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="mapping") as raised:
        load_settings(path)

    assert str(path) in str(raised.value)


def test_an_empty_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("", encoding="utf-8")

    with pytest.raises(ConfigError, match="mapping"):
        load_settings(path)


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("dynamodb: [unclosed\nsso: {\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="not valid YAML") as raised:
        load_settings(path)

    assert str(path) in str(raised.value)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(ConfigError, match="file not found") as raised:
        load_settings(path)

    assert str(path) in str(raised.value)


# -- resolve(): CLI flags, then the file, then the environment ----------------------------


def test_resolve_uses_the_config_region_without_a_flag(config_file: Callable[..., Path], no_endpoint_env: None) -> None:
    resolved = resolve(config_path=config_file(_set("dynamodb.region", "eu-central-1")))

    assert resolved.aws.region == "eu-central-1"
    assert resolved.aws.endpoint_url is None


def test_region_flag_beats_the_config(shipped_copy: Path, no_endpoint_env: None) -> None:
    assert resolve(config_path=shipped_copy, region="eu-west-1").aws.region == "eu-west-1"


def test_aws_endpoint_url_from_the_environment_is_honoured(shipped_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:5000")

    assert resolve(config_path=shipped_copy).aws.endpoint_url == "http://localhost:5000"


def test_endpoint_url_flag_beats_the_environment(shipped_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:5000")

    resolved = resolve(config_path=shipped_copy, endpoint_url="http://127.0.0.1:4566")

    assert resolved.aws.endpoint_url == "http://127.0.0.1:4566"


def test_profile_flag_is_kept(shipped_copy: Path, no_endpoint_env: None) -> None:
    assert resolve(config_path=shipped_copy, profile="fileferry-admin").aws.profile == "fileferry-admin"


@pytest.mark.parametrize("region", ["US-EAST-1", "mars", "us-east", ""], ids=["upper case", "word", "no number", "empty"])
def test_a_bad_region_flag_is_a_config_error(shipped_copy: Path, no_endpoint_env: None, region: str) -> None:
    with pytest.raises(ConfigError, match="--region"):
        resolve(config_path=shipped_copy, region=region)


@pytest.mark.parametrize(
    "endpoint", ["localhost:5000", "ftp://localhost:5000", "http://", "http://local host"], ids=["no scheme", "ftp", "no host", "space"]
)
def test_a_bad_endpoint_url_flag_is_a_config_error(shipped_copy: Path, no_endpoint_env: None, endpoint: str) -> None:
    with pytest.raises(ConfigError, match="--endpoint-url"):
        resolve(config_path=shipped_copy, endpoint_url=endpoint)


def test_a_bad_config_file_fails_resolve_before_the_flags_are_used(config_file: Callable[..., Path], no_endpoint_env: None) -> None:
    with pytest.raises(ConfigError, match="sso.account_id"):
        resolve(config_path=config_file(_set("sso.account_id", "1")), region="eu-west-1")


@pytest.mark.parametrize("region", ["us-east-7", "eu-wset-1", "cn-north-9"])
def test_a_region_flag_that_is_not_a_real_region_is_refused_with_a_hint(
    shipped_copy: Path, no_endpoint_env: None, region: str
) -> None:
    with pytest.raises(ConfigError, match=rf"--region: '{region}' is not an AWS Region"):
        resolve(config_path=shipped_copy, region=region)


def test_a_config_region_that_is_not_a_real_region_is_refused_naming_the_key(
    config_file: Callable[..., Path], no_endpoint_env: None
) -> None:
    with pytest.raises(ConfigError, match=r"dynamodb\.region: 'us-esat-1' is not an AWS Region.*did you mean"):
        resolve(config_path=config_file(_set("dynamodb.region", "us-esat-1")))


def test_the_region_flag_drives_every_arn_the_tool_writes(shipped_copy: Path, no_endpoint_env: None) -> None:
    from provisioner.blueprint.desired_state import desired_state

    resolved = resolve(config_path=shipped_copy, region="eu-west-1")
    state = desired_state(resolved.settings)

    assert state.region == "eu-west-1"
    documents = json.dumps([state.role.inline_policy, state.role.trust_policy])
    assert ":eu-west-1:" in documents and "us-east-1" not in documents


def test_a_china_region_names_the_aws_cn_partition_everywhere(shipped_copy: Path, no_endpoint_env: None) -> None:
    from provisioner.blueprint.desired_state import desired_state
    from state_machine.asl import load_definition, substitute
    from lambdas.core.steps import STEPS

    state = desired_state(resolve(config_path=shipped_copy, region="cn-north-1").settings)
    documents = json.dumps([state.role.inline_policy, state.role.trust_policy])
    definition = substitute(load_definition(), {s.name: f"arn:aws-cn:lambda:cn-north-1:1:function:{s.name}" for s in STEPS},
                            "aws-cn")

    assert "arn:aws:" not in documents and "arn:aws-cn:dynamodb:cn-north-1:" in documents
    assert "arn:aws-cn:iam::" in documents and "arn:aws-cn:s3:::" in documents
    assert "arn:aws:" not in definition and "arn:aws-cn:states:::lambda:invoke" in definition


def test_without_config_config_yaml_in_the_working_directory_the_packaged_config_is_read(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve().config_path == PACKAGED_CONFIG_PATH
    assert PACKAGED_CONFIG_PATH.read_bytes() == SHIPPED_CONFIG.read_bytes()


def test_config_config_yaml_in_the_working_directory_wins_over_the_packaged_one(tmp_path, monkeypatch) -> None:
    data = shipped()
    data["provisioner"]["name"] = "ff-here"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)
    assert resolve().settings.provisioner.name == "ff-here"


@pytest.mark.parametrize("content, problem", [
    (None, "is a directory, not a config file"),
    (b"sso:\n  account_id: '\xff'\n", "not UTF-8 text (at byte 20)"),
])
def test_a_config_that_is_not_a_readable_text_file_is_a_config_error(tmp_path, content, problem) -> None:
    path = tmp_path / "config.yaml"
    path.mkdir() if content is None else path.write_bytes(content)
    with pytest.raises(ConfigError, match="^" + re.escape(f"{path}: {problem}")):
        load_settings(path)


# -- table protection ---------------------------------------------------------------------


def test_tables_that_hold_records_are_protected_by_default_and_sessions_and_cache_are_not() -> None:
    desired = desired_state(load_settings(PACKAGED_CONFIG_PATH))
    protection = {t.name: (t.point_in_time_recovery, t.deletion_protection, t.recovery_period_days) for t in desired.tables}

    assert protection == {
        "FileFerry-ActiveSessions": (False, False, 35),
        "FileFerry-UserContext": (True, True, 35),
        "FileFerry-TransferRequests": (True, True, 35),
        "FileFerry-AgentLearning": (True, True, 35),
        "FileFerry-S3FileCache": (False, False, 35),
    }


def test_a_table_entry_overrides_the_section_for_that_table_only(config_file: Callable[..., Path]) -> None:
    def change(data: dict[str, Any]) -> None:
        data["dynamodb"]["recovery_period_days"] = 7
        data["dynamodb"]["tables"] = {"active_sessions_table": {"point_in_time_recovery": True},
                                      "agent_learning_table": {"deletion_protection": False, "recovery_period_days": 1}}

    tables = {t.name: t for t in desired_state(load_settings(config_file(change))).tables}

    assert (tables["FileFerry-ActiveSessions"].point_in_time_recovery, tables["FileFerry-ActiveSessions"].deletion_protection) == (True, False)
    assert tables["FileFerry-ActiveSessions"].recovery_period_days == 7
    assert (tables["FileFerry-AgentLearning"].deletion_protection, tables["FileFerry-AgentLearning"].recovery_period_days) == (False, 1)
    assert (tables["FileFerry-UserContext"].deletion_protection, tables["FileFerry-UserContext"].recovery_period_days) == (True, 7)


@pytest.mark.parametrize("key, value, named", [
    ("dynamodb.point_in_time_recovery", "yes", "dynamodb.point_in_time_recovery"),
    ("dynamodb.deletion_protection", 1, "dynamodb.deletion_protection"),
    ("dynamodb.recovery_period_days", 36, "dynamodb.recovery_period_days"),
    ("dynamodb.recovery_period_days", 0, "dynamodb.recovery_period_days"),
    ("dynamodb.tables", {"sessions": {"deletion_protection": True}}, "unknown table 'sessions'"),
    ("dynamodb.tables", {"user_context_table": {"backups": True}}, "dynamodb.tables.user_context_table.backups: unknown key"),
    ("dynamodb.tables", {"user_context_table": {"recovery_period_days": 40}}, "recovery_period_days"),
])
def test_a_bad_protection_setting_is_one_error_naming_the_key(config_file: Callable[..., Path], key: str, value: Any, named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(config_file(_set(key, value)))

    assert named in str(raised.value) and "\n" not in str(raised.value)


# -- the fleet's targets -------------------------------------------------------------------


def test_fleet_targets_are_refused_by_name_when_listed_twice_or_missing() -> None:
    from provisioner.config import FleetTarget, fleet_targets

    assert fleet_targets(["222222222222/eu-west-1", "222222222222/us-east-1"], "--target") == [
        FleetTarget("222222222222", "eu-west-1"), FleetTarget("222222222222", "us-east-1")]
    with pytest.raises(ConfigError, match="--target: target 222222222222/eu-west-1 is listed twice"):
        fleet_targets(["222222222222/eu-west-1", "222222222222/eu-west-1"], "--target")
    with pytest.raises(ConfigError, match="no targets"):
        fleet_targets([], "config.yaml: fleet.targets")
    with pytest.raises(ConfigError, match="did you mean eu-west-1"):
        fleet_targets(["222222222222/eu-wset-1"], "--target")


# -- names that carry the Region ----------------------------------------------------------


def test_a_name_that_fits_in_every_region_loads(config_file: Callable[..., Path], no_endpoint_env: None) -> None:
    name = "f" * 23  # <name>-us-isof-south-1-create-or-adopt-table-fn: 64 characters
    assert resolve(config_path=config_file(_set("provisioner.name", name)), region="us-isof-south-1").settings.provisioner.name == name


def test_a_name_too_long_for_the_regions_role_names_is_refused_naming_the_limit(
    config_file: Callable[..., Path], no_endpoint_env: None
) -> None:
    path = config_file(_set("provisioner.name", "f" * 30))

    with pytest.raises(ConfigError) as raised:
        resolve(config_path=path)

    assert str(raised.value) == (
        f"{path}: provisioner.name '{'f' * 30}' is 30 characters, too long for Region us-east-1: the orchestrator's "
        f"role {'f' * 30}-us-east-1-create-or-adopt-table-fn would be 65 characters, over IAM's 64; use at most 29 "
        "characters in us-east-1 (23 fit every Region)"
    )
    assert resolve(config_path=config_file(_set("provisioner.name", "f" * 29))).settings.provisioner.name == "f" * 29
    with pytest.raises(ConfigError, match="too long for Region ap-southeast-1"):
        resolve(config_path=config_file(_set("provisioner.name", "f" * 29)), region="ap-southeast-1")


def test_the_cli_refuses_a_name_too_long_with_exit_2_before_any_aws_call(
    config_file: Callable[..., Path], no_endpoint_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from provisioner.cli.commands import main

    code = main(["--config", str(config_file(_set("provisioner.name", "f" * 40))), "plan"])

    assert code == 2
    assert "over IAM's 64" in capsys.readouterr().err


def test_the_config_region_keeps_the_spec_policy_name_and_another_region_names_its_own(
    shipped_copy: Path, no_endpoint_env: None
) -> None:
    home = desired_state(resolve(config_path=shipped_copy).settings)
    moved = resolve(config_path=shipped_copy, region="eu-west-1").settings
    other = desired_state(moved)

    assert (home.region, home.home_region, home.role.inline_policy_name) == ("us-east-1", "us-east-1", "FileFerryReadOnlyPolicy")
    assert (other.region, other.home_region, other.role.inline_policy_name) == (
        "eu-west-1", "us-east-1", "FileFerryReadOnlyPolicy-eu-west-1")
    assert desired_state(moved.in_region("us-east-1")).role.inline_policy_name == "FileFerryReadOnlyPolicy"
    assert resolve(config_path=shipped_copy, region="us-east-1").settings.home_region == "us-east-1"
