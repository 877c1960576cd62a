"""Configuration, resolved in one place: CLI flags, then the config file, then defaults.

Everything is validated before any AWS call; a problem becomes one `ConfigError` whose
message names the file, the key and what is wrong.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, ValidationError, field_validator

DEFAULT_CONFIG_PATH = Path("config/config.yaml")
# The same file, shipped with the package (in the repository a link to config/config.yaml), so an
# installed console command run outside the repository still has a config.
PACKAGED_CONFIG_PATH = Path(__file__).with_name("config.yaml")

TABLE_NAME = r"^[A-Za-z0-9_.-]{3,255}$"
# us-east-1, us-gov-west-1, us-isob-east-1, eu-isoe-west-1, eusc-de-east-1: the shape; known_regions() decides.
REGION = r"^[a-z]{2,4}(-[a-z]+){1,3}-[0-9]{1,2}$"
ACCOUNT_ID = r"^[0-9]{12}$"
EXTERNAL_ID = r"^[A-Za-z0-9_+=,.@:/-]+$"
ROLE_NAME = r"^[A-Za-z0-9_+=,.@-]{1,64}$"
# Function names are "<name>-<step>" and must stay within Lambda's 64 characters; role names
# "<name>-<region>-<step>-fn" within IAM's 64 as well, which depends on the Region (check_provisioner_name).
PROVISIONER_NAME = r"^[A-Za-z][A-Za-z0-9-]{0,39}$"
_KEY_ID = r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"  # mrk-: multi-Region key
KMS_KEY = rf"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{{12}}:(key/{_KEY_ID}|alias/[A-Za-z0-9/_-]+)|alias/[A-Za-z0-9/_-]+|{_KEY_ID})$"
SNS_TOPIC = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"
BUCKET = r"^(\*|[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$"
RATE = re.compile(r"^rate\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\)$")
CRON = re.compile(r"^cron\((\S+ ){5}\S+\)$")
LOG_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}


class ConfigError(Exception):
    """Invalid configuration or arguments; the CLI exits 2 with this message."""


def _text(pattern: str, min_length: int | None = None, max_length: int | None = None) -> Any:
    return Annotated[str, StringConstraints(pattern=pattern, min_length=min_length, max_length=max_length)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# The tables' config keys (the `dynamodb:` section), in the spec's order.
TABLE_KEYS = ("active_sessions_table", "user_context_table", "transfer_requests_table", "agent_learning_table",
              "s3_file_cache_table")
# Off unless the table's own `tables:` entry turns them on: ActiveSessions holds short-lived AWS credentials
# (35 days of restorable history of them is a liability, not a safeguard); S3FileCache is a cache the
# application rebuilds.
UNPROTECTED_BY_DEFAULT = ("active_sessions_table", "s3_file_cache_table")
RECOVERY_PERIOD_DAYS = (1, 35)  # what UpdateContinuousBackups accepts (RecoveryPeriodInDays)


class TableProtection(_Section):
    """One table's override of the section's protection settings (a key left out: the default)."""

    point_in_time_recovery: bool | None = None
    deletion_protection: bool | None = None
    recovery_period_days: Annotated[int, Field(ge=RECOVERY_PERIOD_DAYS[0], le=RECOVERY_PERIOD_DAYS[1])] | None = None


@dataclass(frozen=True)
class Protection:
    """What a table gets: point-in-time recovery (with its period) and deletion protection."""

    point_in_time_recovery: bool
    recovery_period_days: int
    deletion_protection: bool


class DynamoDBSettings(_Section):
    active_sessions_table: _text(TABLE_NAME) = "FileFerry-ActiveSessions"
    user_context_table: _text(TABLE_NAME) = "FileFerry-UserContext"
    transfer_requests_table: _text(TABLE_NAME) = "FileFerry-TransferRequests"
    agent_learning_table: _text(TABLE_NAME) = "FileFerry-AgentLearning"
    s3_file_cache_table: _text(TABLE_NAME) = "FileFerry-S3FileCache"
    region: _text(REGION) = "us-east-1"
    kms_key_id: str = ""
    # Every table's protection, unless its `tables:` entry says otherwise (ActiveSessions and S3FileCache
    # have neither unless theirs turns them on).
    point_in_time_recovery: bool = True
    deletion_protection: bool = True
    recovery_period_days: Annotated[int, Field(ge=RECOVERY_PERIOD_DAYS[0], le=RECOVERY_PERIOD_DAYS[1])] = 35
    tables: dict[str, TableProtection] = {}

    @field_validator("tables")
    @classmethod
    def _table_keys(cls, value: dict[str, TableProtection]) -> dict[str, TableProtection]:
        unknown = sorted(set(value) - set(TABLE_KEYS))
        if unknown:
            raise ValueError(f"unknown table {unknown[0]!r}; the tables are {', '.join(TABLE_KEYS)}")
        return value

    def protection(self, table_key: str) -> Protection:
        """The protection of the table the config key `table_key` names."""
        override = self.tables.get(table_key) or TableProtection()
        default_on = table_key not in UNPROTECTED_BY_DEFAULT

        def chosen(own: bool | None, section: bool) -> bool:
            return own if own is not None else (section and default_on)

        return Protection(
            point_in_time_recovery=chosen(override.point_in_time_recovery, self.point_in_time_recovery),
            recovery_period_days=override.recovery_period_days or self.recovery_period_days,
            deletion_protection=chosen(override.deletion_protection, self.deletion_protection),
        )

    @field_validator("kms_key_id")
    @classmethod
    def _kms_key(cls, value: str) -> str:
        if value and not re.match(KMS_KEY, value):
            raise ValueError("must be empty (AWS-managed key), a KMS key ARN, a key id or an alias/...")
        return value


class SSOSettings(_Section):
    start_url: str = "https://your-sso-portal.awsapps.com/start"
    region: _text(REGION) = "us-east-1"
    account_id: _text(ACCOUNT_ID)
    role_name: _text(ROLE_NAME) = "FileFerryReadOnlyRole"
    session_duration: Annotated[int, Field(gt=0, le=43200)] = 10
    external_id: _text(EXTERNAL_ID, min_length=2, max_length=1224)
    readable_buckets: Annotated[list[_text(BUCKET)], Field(min_length=1)] = ["*"]

    @field_validator("account_id", mode="before")
    @classmethod
    def _account_is_text(cls, value: Any) -> Any:
        if isinstance(value, int):
            raise ValueError("must be a quoted string of 12 digits (a number loses leading zeros)")
        return value


class AgentSettings(_Section):
    test_mode: bool = False
    model_id: str = "anthropic.claude-3-5-sonnet-20241022-v2:0"
    max_conversation_exchanges: Annotated[int, Field(gt=0)] = 10
    region: _text(REGION) = "us-east-1"


class ProvisionerSettings(_Section):
    name: _text(PROVISIONER_NAME) = "fileferry-provisioner"
    # A table that is not ACTIVE yet is looked at again after poll_interval_seconds, then after x1.5
    # longer each time (at most 30 s apart, or poll_interval_seconds apart if that is longer), up to
    # max_polls times; then the run fails with TableCreationTimeout and rolls back. The defaults give a
    # table about five minutes (304 s). Both become the state machine's poll Retry
    # (state_machine.asl.configure_polling), and the execution's TimeoutSeconds covers them
    # (state_machine.time_model).
    poll_interval_seconds: Annotated[int, Field(ge=1, le=300)] = 2
    max_polls: Annotated[int, Field(ge=1, le=1000)] = 15
    # Table operations in flight at once: the provisioning Map is an inline Map, and Step Functions runs
    # at most 40 iterations of an inline Map at once ("Using Map state in Inline mode"); DynamoDB itself
    # allows 500 simultaneous table operations per account, 250 for tables with indexes.
    max_concurrency: Annotated[int, Field(ge=1, le=40)] = 25
    # How long teardown waits for a table's backup to become AVAILABLE before it gives up on that table
    # (and keeps it): AWS says backups become available "within minutes" (CreateBackup API reference).
    backup_wait_seconds: Annotated[int, Field(ge=10, le=3600)] = 1800
    drift_schedule: str = "rate(1 day)"
    alarm_topic_arn: str = ""
    log_retention_days: int = 30

    @field_validator("drift_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if not (RATE.match(value) or CRON.match(value)):
            raise ValueError("must be rate(N minutes|hours|days) or cron(six fields)")
        return value

    @field_validator("alarm_topic_arn")
    @classmethod
    def _topic(cls, value: str) -> str:
        if value and not re.match(SNS_TOPIC, value):
            raise ValueError("must be empty or an SNS topic ARN")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of CloudWatch Logs' retention periods {sorted(LOG_RETENTION_DAYS)}")
        return value


class FleetSettings(_Section):
    """`deploy.py fleet`: the orchestrator in many accounts and Regions through one CloudFormation StackSet."""

    # "ACCOUNT/REGION", e.g. "111111111111/eu-west-1" (--target on the command line replaces the list).
    targets: list[str] = []
    # Self-managed StackSet permissions: the administration role in the operator's account, the execution
    # role in each target (docs/fleet.md says what each must allow).
    administration_role_name: _text(ROLE_NAME) = "AWSCloudFormationStackSetAdministrationRole"
    execution_role_name: _text(ROLE_NAME) = "AWSCloudFormationStackSetExecutionRole"
    # StackSets' MaxConcurrentCount and FailureToleranceCount; `fleet run` applies the same two bounds.
    max_concurrent: Annotated[int, Field(ge=1, le=100)] = 1
    failure_tolerance: Annotated[int, Field(ge=0, le=100)] = 0
    # The code buckets are "<prefix>-<region>" in the operator's account; empty: fileferry-code-<account>.
    code_bucket_prefix: _text(r"^([a-z0-9][a-z0-9.-]{1,46}[a-z0-9])?$") = ""

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        for target in value:
            fleet_target(target)  # ValueError names the problem
        return value


@dataclass(frozen=True, order=True)
class FleetTarget:
    """One account and Region of the fleet."""

    account_id: str
    region: str

    def __str__(self) -> str:
        return f"{self.account_id}/{self.region}"


def _shown(text: str, most: int = 40) -> str:
    """A value as an error line shows it: quoted, escaped, and cut short when long."""
    return repr(text) if len(text) <= most else f"{text[:most]!r}... ({len(text)} characters)"


def fleet_target(text: str) -> FleetTarget:
    """`ACCOUNT/REGION` as a target; ValueError naming what is wrong."""
    if not isinstance(text, str) or text.count("/") != 1:
        raise ValueError(f"target {_shown(str(text))} is not ACCOUNT/REGION (e.g. 111111111111/eu-west-1)")
    account, region = text.split("/")
    if not re.match(ACCOUNT_ID, account):
        raise ValueError(f"target {_shown(text)}: the account must be 12 digits (0-9)")
    if not re.match(REGION, region) or region not in known_regions():
        close = difflib.get_close_matches(region[:40], sorted(known_regions()), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ValueError(f"target {_shown(text)}: {_shown(region)} is not an AWS Region that offers DynamoDB{hint}")
    return FleetTarget(account, region)


def fleet_targets(given: list[str] | tuple[str, ...], source: str) -> list[FleetTarget]:
    """Targets, each checked, none twice, in the order given; ConfigError naming `source` and the problem."""
    targets: list[FleetTarget] = []
    for text in given:
        try:
            target = fleet_target(text)
        except ValueError as err:
            raise ConfigError(f"{source}: {err}") from None
        if target in targets:
            raise ConfigError(f"{source}: target {target} is listed twice")
        targets.append(target)
    if not targets:
        raise ConfigError(f"{source}: no targets; give --target ACCOUNT/REGION (repeatable) or list fleet.targets in the config")
    return targets


class Settings(_Section):
    dynamodb: DynamoDBSettings = DynamoDBSettings()
    sso: SSOSettings
    agent: AgentSettings = AgentSettings()
    provisioner: ProvisionerSettings = ProvisionerSettings()
    fleet: FleetSettings = FleetSettings()
    # The config file's dynamodb.region when `in_region` moved the settings to another one (--region).
    _configured_region: str | None = PrivateAttr(default=None)

    def in_region(self, region: str) -> Settings:
        """These settings with `region` as the one Region everything goes to (what --region does); the
        config file's own Region stays the home Region (`home_region`)."""
        moved = self.model_copy(update={"dynamodb": self.dynamodb.model_copy(update={"region": region})})
        moved._configured_region = self.home_region
        return moved

    @property
    def home_region(self) -> str:
        """The Region the config file names (dynamodb.region), whatever Region the settings were moved to:
        its inline policy of the read-only role keeps the spec's name (lambdas.core.role.read_only_policy_name)."""
        return self._configured_region or self.dynamodb.region

    def table_names(self) -> list[str]:
        d = self.dynamodb
        return [
            d.active_sessions_table,
            d.user_context_table,
            d.transfer_requests_table,
            d.agent_learning_table,
            d.s3_file_cache_table,
        ]


@dataclass(frozen=True)
class AwsTarget:
    """Where the AWS calls go."""

    region: str
    profile: str | None = None
    endpoint_url: str | None = None


@dataclass(frozen=True)
class Resolved:
    settings: Settings
    aws: AwsTarget
    config_path: Path
    output_json: bool = False


def default_config_path() -> Path:
    """./config/config.yaml where it exists (the repository), else the config shipped with the package."""
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else PACKAGED_CONFIG_PATH


def load_settings(path: Path) -> Settings:
    """Read and validate the config file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (at byte {err.start}); save it as UTF-8") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping of sections (dynamodb, sso, agent, provisioner, fleet)")
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"{path}: {_first_problem(err)}") from None
    names = settings.table_names()
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"{path}: dynamodb: table name {duplicates[0]!r} is used twice")
    p = settings.provisioner
    check_history_budget(len(names), p.poll_interval_seconds, p.max_polls, str(path))
    return settings


def check_history_budget(tables: int, poll_interval_seconds: int, max_polls: int, source: str) -> None:
    """Refuse polling that could take a provisioning run of `tables` tables past half of Step Functions'
    25,000-event history limit (the model: state_machine.history_model), naming the numbers."""
    from state_machine.history_model import HISTORY_EVENT_BUDGET, HISTORY_EVENT_LIMIT, worst_case_history

    per_table, per_run = worst_case_history(tables, poll_interval_seconds, max_polls)
    if per_run <= HISTORY_EVENT_BUDGET:
        return
    # Each poll more is one more retry of every table: 3 events (TaskScheduled, TaskStarted, TaskFailed).
    largest = max_polls - -(-(per_run - HISTORY_EVENT_BUDGET) // (3 * tables))
    allowed = f"at most {largest}" if largest >= 1 else "none: too many tables"
    raise ConfigError(
        f"{source}: provisioner.max_polls {max_polls} lets a provisioning run of {tables} tables write up to "
        f"{per_run} Step Functions history events ({per_table} per table), more than {HISTORY_EVENT_BUDGET} "
        f"(half the {HISTORY_EVENT_LIMIT}-event limit of an execution); with {tables} tables max_polls may be {allowed}"
    )


@functools.cache
def known_regions() -> frozenset[str]:
    """Every Region botocore knows DynamoDB in, across partitions (aws, aws-cn, aws-us-gov, ...)."""
    session = _botocore_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("dynamodb", partition_name=partition)
    )


def check_region(region: str, source: str) -> None:
    """Refuse a Region name AWS does not have (a typo), naming where it came from."""
    regions = known_regions()
    if region in regions:
        return
    close = difflib.get_close_matches(region, sorted(regions), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise ConfigError(f"{source}: {region!r} is not an AWS Region that offers DynamoDB{hint}")


@functools.cache
def partition_for(region: str) -> str:
    """The ARN partition of a Region: aws, aws-cn, aws-us-gov, ..."""
    return _botocore_session().get_partition_for_region(region)


@functools.cache
def dns_suffix_for(region: str) -> str:
    """The DNS suffix of a Region's partition (amazonaws.com, amazonaws.com.cn, c2s.ic.gov, ...), as
    botocore's partition data (partitions.json, the endpoint rules' `dnsSuffix`) has it."""
    partition = partition_for(region)
    data = _botocore_session().get_component("data_loader").load_data("partitions")
    return next(p["outputs"]["dnsSuffix"] for p in data["partitions"] if p["id"] == partition)


@functools.cache
def _botocore_session() -> Any:
    """One botocore session for the Region facts, so its endpoint data is read once per process."""
    import botocore.session  # only commands that resolve a configuration pay for it

    return botocore.session.get_session()


def check_provisioner_name(name: str, region: str, source: str) -> None:
    """Refuse a provisioner name whose orchestrator role names, `<name>-<region>-<suffix>`
    (provisioner.blueprint.iam_documents.role_name), would be longer than IAM's 64 characters in `region`."""
    from provisioner.blueprint.iam_documents import ROLE_NAME_LIMIT, role_suffixes

    longest = max(role_suffixes(), key=len)
    length = len(f"{name}-{region}-{longest}")
    if length <= ROLE_NAME_LIMIT:
        return
    room = ROLE_NAME_LIMIT - len(f"--{longest}")
    raise ConfigError(
        f"{source}: provisioner.name {name!r} is {len(name)} characters, too long for Region {region}: the "
        f"orchestrator's role {name}-{region}-{longest} would be {length} characters, over IAM's {ROLE_NAME_LIMIT}; "
        f"use at most {room - len(region)} characters in {region} "
        f"({room - max(len(known) for known in known_regions())} fit every Region)"
    )


def check_same_region(settings: Settings, path: Path) -> None:
    """Refuse a KMS key or SNS topic ARN of another Region (or partition) than the tables': DynamoDB
    encrypts a table only with a key of the table's Region, and a CloudWatch alarm notifies only a topic
    of the alarm's Region ("Using Amazon CloudWatch alarms": the topic must be in the same Region)."""
    region = settings.dynamodb.region
    partition = partition_for(region)
    for key, value in (("dynamodb.kms_key_id", settings.dynamodb.kms_key_id),
                       ("provisioner.alarm_topic_arn", settings.provisioner.alarm_topic_arn)):
        if not value.startswith("arn:"):
            continue  # a key id or alias names a key of the tables' Region
        _, arn_partition, _, arn_region, *_ = value.split(":")
        if (arn_partition, arn_region) != (partition, region):
            raise ConfigError(
                f"{path}: {key}: {value!r} is in {arn_region} ({arn_partition}), not in the tables' Region "
                f"{region} ({partition}); use one of {region}"
            )


def _first_problem(err: ValidationError) -> str:
    problem = err.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "(top level)"
    if problem["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    if problem["type"] == "missing":
        return f"{where}: required key is missing"
    message = problem["msg"].removeprefix("Value error, ")
    if problem["type"] == "string_pattern_mismatch":
        message = f"invalid value {problem['input']!r}"
    return f"{where}: {message}"


def resolve(
    config_path: str | Path | None = None,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    output_json: bool = False,
) -> Resolved:
    """CLI flags win over the config file, which wins over defaults and the environment."""
    path = Path(config_path) if config_path else default_config_path()
    settings = load_settings(path)
    if region is not None and not re.match(REGION, region):
        raise ConfigError(f"--region: invalid region {region!r}")
    check_region(settings.dynamodb.region, f"{path}: dynamodb.region")
    if region is not None:
        check_region(region, "--region")
        # One effective Region drives everything: the tables, every ARN in every policy, the orchestrator.
        settings = settings.in_region(region)
    check_provisioner_name(settings.provisioner.name, settings.dynamodb.region, str(path))
    check_same_region(settings, path)
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    if endpoint is not None and not re.match(r"^https?://[^\s/]+(/\S*)?$", endpoint):
        source = "--endpoint-url" if endpoint_url else "AWS_ENDPOINT_URL"
        raise ConfigError(f"{source}: not an http(s) URL: {endpoint!r}")
    aws = AwsTarget(region=settings.dynamodb.region, profile=profile, endpoint_url=endpoint)
    return Resolved(settings=settings, aws=aws, config_path=path, output_json=output_json)
