"""What an AWS request asks IAM for: the action, the real resource ARN(s) and the condition keys.

AWS authorizes every request against the ARN of the resource it touches, as listed per operation
in the Service Authorization Reference ("Actions, resources, and condition keys for Amazon
DynamoDB / AWS Identity and Access Management / AWS Step Functions / AWS Lambda / Amazon CloudWatch
Logs / AWS KMS ...").  moto's access control passes "*" for most services; here the ARN is built
from the request's own parameters (read from the wire, before moto sees the request):

- DynamoDB: table/NAME, table/NAME/index/INDEX (Query/Scan with IndexName), the backup ARN
  (table/NAME/backup/ID), ResourceArn for tagging and resource policies, every table of a batch or
  transaction;
- IAM: role/PATH+NAME (the path of the stored role), user, group, instance profile, policy ARN, the
  PolicySourceArn of SimulatePrincipalPolicy;
- STS: the RoleArn of AssumeRole, with sts:ExternalId and sts:RoleSessionName;
- Step Functions: stateMachine:NAME, execution:MACHINE:NAME (by the ARN the request names);
- Lambda: function:NAME[:QUALIFIER] (from a name, a partial or a full ARN), action
  lambda:InvokeFunction for Invoke;
- CloudWatch Logs: log-group:NAME[:log-stream:STREAM]; CloudWatch: alarm:NAME, or "*" with
  cloudwatch:namespace for PutMetricData; EventBridge rules, Scheduler schedules, KMS keys;
- SQS: the queue's ARN, from its URL or its name;
- CloudFormation: stack/NAME/ID (`stack/NAME/*` for a stack not created yet), the stack of a change set,
  stackset/NAME:ID, and for the stack instance operations also stackset-target/NAME:ID/ACCOUNT of each
  target account and type/resource/AWS-X-Y of each resource type in the stack set's template; the
  condition keys cloudformation:RoleArn (RoleARN, AdministrationRoleARN), cloudformation:TemplateUrl,
  cloudformation:TargetRegion, cloudformation:ChangeSetName, cloudformation:ResourceTypes.

A call that hands a role to a service also asks for iam:PassRole on that role, with iam:PassedToService
naming the service (`passed_role_requests`): Lambda CreateFunction / UpdateFunctionConfiguration (Role),
Step Functions CreateStateMachine / UpdateStateMachine (roleArn), EventBridge PutTargets (each target's
RoleArn), Scheduler CreateSchedule / UpdateSchedule (Target.RoleArn), CloudFormation CreateStack /
UpdateStack / CreateChangeSet / ContinueUpdateRollback (RoleARN) and CreateStackSet / UpdateStackSet
(AdministrationRoleARN) (IAM User Guide, "Grant a user permissions to pass a role to an AWS service";
the Service Authorization Reference lists iam:PassRole with iam:PassedToService under each operation).

An operation with no resource type in the reference ("List*", PutMetricData, X-Ray) is
authorized against "*".  An operation this module cannot place is also authorized against "*",
which a policy scoped to ARNs does not match: unknown means denied, never allowed.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import threading
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import botocore.session

from local.aws_calls import AwsCall, buffer_body
from local.iam.policy import AuthRequest

# IAM's service prefix for each emulator service name (SigV4 signing names, see faults.py).
_PREFIX = {"states": "states", "cloudwatch": "cloudwatch", "monitoring": "cloudwatch"}

# Operations whose IAM action is not "prefix:Operation".
_ACTION_NAMES = {
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("lambda", "InvokeWithResponseStream"): "lambda:InvokeFunction",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "DeletePublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
}

# Operations IAM does not authorize at all (AWS: "No permissions are required").
UNAUTHORIZED_OPERATIONS = frozenset({("sts", "GetCallerIdentity")})


def action_name(service: str, operation: str) -> str:
    return _ACTION_NAMES.get((service, operation), f"{_PREFIX.get(service, service)}:{operation}")


def request_parameters(call: AwsCall, environ: dict[str, Any]) -> dict[str, Any]:
    """The request's parameters as the service model names them (JSON body, form, URI, query)."""
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    body = buffer_body(environ)
    if environ.get("HTTP_CONTENT_ENCODING", "") == "gzip" and body:
        body = gzip.decompress(body)
    if call.protocol == "json":
        return _json_object(body)
    if call.protocol == "query":
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True).items()}
        return {**query, **form}
    params: dict[str, Any] = {}
    if call.protocol == "rest-json":
        params.update(_json_object(body))
    params.update(_uri_parameters(call, environ.get("PATH_INFO", "/"), query))
    return params


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


_routes_lock = threading.Lock()


@functools.cache
def _uri_routes(service: str, operation: str) -> tuple[re.Pattern[str], dict[str, str]] | None:
    names = {"states": "stepfunctions"}
    with _routes_lock:
        try:
            model = botocore.session.get_session().get_service_model(names.get(service, service))
            operation_model = model.operation_model(operation)
        except Exception:
            return None
    path = operation_model.http["requestUri"].partition("?")[0]
    pattern = ""
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            name = piece[1:-1].rstrip("+")
            pattern += f"(?P<{_group(name)}>.+)" if piece.endswith("+}") else f"(?P<{_group(name)}>[^/]+)"
        else:
            pattern += re.escape(piece)
    # Map the URI/query locationName to the member name the operation's input uses.
    locations: dict[str, str] = {}
    if operation_model.input_shape is not None:
        for member, shape in operation_model.input_shape.members.items():
            where = shape.serialization.get("location")
            if where in ("uri", "querystring"):
                locations[f"{where}:{shape.serialization.get('name', member)}"] = member
    return re.compile(f"^{pattern.rstrip('/')}/?$"), locations


def _group(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _uri_parameters(call: AwsCall, path: str, query: dict[str, str]) -> dict[str, Any]:
    found = _uri_routes(call.service, call.operation)
    if found is None:
        return {}
    pattern, locations = found
    params: dict[str, Any] = {}
    match = pattern.match(path)
    if match:
        for location, member in locations.items():
            where, name = location.split(":", 1)
            if where == "uri" and match.groupdict().get(_group(name)) is not None:
                params[member] = unquote(match.group(_group(name)))
    for location, member in locations.items():
        where, name = location.split(":", 1)
        if where == "querystring" and name in query:
            params[member] = query[name]
    return params


# -- per service --------------------------------------------------------------------------------

class Scope:
    """Where the request runs: the partition, region and account its resources live in."""

    def __init__(self, partition: str, region: str, account: str):
        self.partition, self.region, self.account = partition, region, account

    def arn(self, service: str, resource: str, region: str | None = None) -> str:
        region = self.region if region is None else region
        return f"arn:{self.partition}:{service}:{region}:{self.account}:{resource}"


def authorization_requests(call: AwsCall, params: dict[str, Any], scope: Scope,
                           role_path: Any = None) -> list[AuthRequest]:
    """The requests IAM evaluates for this call (all must be allowed); [] if none is needed.

    `role_path(name)` returns the stored path of an IAM role ("/" when unknown).
    """
    if (call.service, call.operation) in UNAUTHORIZED_OPERATIONS:
        return []
    action = action_name(call.service, call.operation)
    derive = _DERIVATIONS.get(call.service)
    context: dict[str, Any] = {}
    resources = ["*"]
    if derive is not None:
        try:
            resources, context = derive(call.operation, params, scope, role_path or (lambda name: "/"))
        except (KeyError, TypeError, ValueError, AttributeError):
            resources, context = ["*"], {}
    return [AuthRequest(action, resource, context) for resource in resources or ["*"]]


def _table_arn(name_or_arn: str, scope: Scope) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return scope.arn("dynamodb", f"table/{name_or_arn}")


_DYNAMODB_UNSCOPED = {"ListTables", "ListBackups", "DescribeLimits", "DescribeEndpoints", "ListGlobalTables",
                      "ListExports", "ListImports", "ListContributorInsights", "ExecuteStatement",
                      "BatchExecuteStatement", "ExecuteTransaction"}


def _dynamodb(operation: str, params: dict[str, Any], scope: Scope, role_path: Any) -> tuple[list[str], dict]:
    if operation in _DYNAMODB_UNSCOPED:
        return ["*"], {}
    if operation in ("TagResource", "UntagResource", "ListTagsOfResource",
                     "GetResourcePolicy", "PutResourcePolicy", "DeleteResourcePolicy"):
        return [params["ResourceArn"]], {}
    if operation in ("DescribeBackup", "DeleteBackup"):
        return [params["BackupArn"]], {}
    if operation == "RestoreTableFromBackup":
        return [_table_arn(params["TargetTableName"], scope)], {}
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return sorted({_table_arn(name, scope) for name in params["RequestItems"]}), {}
    if operation in ("TransactGetItems", "TransactWriteItems"):
        tables = set()
        for item in params["TransactItems"]:
            for body in item.values():
                tables.add(_table_arn(body["TableName"], scope))
        return sorted(tables), {}
    if operation == "ExportTableToPointInTime":
        return [params["TableArn"]], {}
    table = _table_arn(params.get("TableName") or params["TableArn"], scope)
    if operation in ("Query", "Scan") and params.get("IndexName"):
        return [f"{table}/index/{params['IndexName']}"], {}
    return [table], {}


def _iam(operation: str, params: dict[str, Any], scope: Scope, role_path: Any) -> tuple[list[str], dict]:
    account = f"arn:{scope.partition}:iam::{scope.account}"
    context: dict[str, Any] = {}
    if params.get("PolicyArn") and operation in ("AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy",
                                                 "DetachUserPolicy", "AttachGroupPolicy", "DetachGroupPolicy",
                                                 "PutRolePermissionsBoundary", "PutUserPermissionsBoundary"):
        context["iam:PolicyARN"] = params["PolicyArn"]
    if operation == "SimulatePrincipalPolicy":
        # Its resource types are user, group and role: the entity whose policies are simulated.
        return [params["PolicySourceArn"]], context
    if params.get("RoleName"):
        path = params.get("Path") or "/" if operation == "CreateRole" else role_path(params["RoleName"])
        return [f"{account}:role{path}{params['RoleName']}"], context
    if params.get("UserName"):
        return [f"{account}:user{params.get('Path') or '/'}{params['UserName']}"], context
    if params.get("GroupName"):
        return [f"{account}:group{params.get('Path') or '/'}{params['GroupName']}"], context
    if params.get("InstanceProfileName"):
        return [f"{account}:instance-profile{params.get('Path') or '/'}{params['InstanceProfileName']}"], context
    if operation == "CreatePolicy":
        return [f"{account}:policy{params.get('Path') or '/'}{params['PolicyName']}"], context
    if params.get("PolicyArn"):
        return [params["PolicyArn"]], context
    return ["*"], context


def _sts(operation: str, params: dict[str, Any], scope: Scope, role_path: Any) -> tuple[list[str], dict]:
    if operation.startswith("AssumeRole"):
        context = {"sts:RoleSessionName": params.get("RoleSessionName")}
        if params.get("ExternalId") is not None:
            context["sts:ExternalId"] = params["ExternalId"]
        return [params["RoleArn"]], context
    return ["*"], {}


def _states(operation: str, params: dict[str, Any], scope: Scope, role_path: Any) -> tuple[list[str], dict]:
    for key in ("executionArn", "mapRunArn", "stateMachineArn", "resourceArn", "activityArn",
                "stateMachineVersionArn", "stateMachineAliasArn"):
        if params.get(key):
            return [params[key]], {}
    if operation == "CreateStateMachine":
        return [scope.arn("states", f"stateMachine:{params['name']}")], {}
    if operation == "CreateActivity":
        return [scope.arn("states", f"activity:{params['name']}")], {}
    return ["*"], {}


def _function_arn(name: str, qualifier: str | None, scope: Scope) -> str:
    """Lambda accepts a name, a partial ARN (ACCOUNT:function:NAME) or a full ARN, each with :QUALIFIER."""
    if name.startswith("arn:"):
        arn = name
    elif ":function:" in name:
        arn = f"arn:{scope.partition}:lambda:{scope.region}:{name}"
    else:
        base, _, inline = name.partition(":")
        arn = scope.arn("lambda", f"function:{base}") + (f":{inline}" if inline else "")
    if qualifier and arn.count(":") == 6:
        arn = f"{arn}:{qualifier}"
    return arn


def _lambda(operation: str, params: dict[str, Any], scope: Scope, role_path: Any) -> tuple[list[str], dict]:
    if params.get("FunctionName"):
        return [_function_arn(params["FunctionName"], params.get("Qualifier"), scope)], {}
    if params.get("Resource"):  # tagging
        return [params["Resource"]], {}
    if params.get("UUID"):
        return [scope.arn("lambda", f"event-source-mapping:{params['UUID']}")], {}
    return ["*"], {}


def _log_group_arn(name: str, scope: Scope) -> str:
    return name if name.startswith("arn:") else scope.arn("logs", f"log-group:{name}")


def _logs(operation: str, params: dict[str, Any], scope: Scope, role_path: Any) -> tuple[list[str], dict]:
    if operation == "DescribeLogGroups":
        return [scope.arn("logs", "log-group:*")], {}
    group = params.get("logGroupName") or params.get("logGroupIdentifier")
    if group:
        arn = _log_group_arn(group, scope)
        if params.get("logStreamName") and operation in ("PutLogEvents", "CreateLogStream", "DeleteLogStream",
                                                         "GetLogEvents"):
            arn = f"{arn}:log-stream:{params['logStreamName']}"
        return [arn], {}
    if params.get("resourceArn"):
        return [params["resourceArn"]], {}
    return ["*"], {}


def _cloudwatch(operation: str, params: dict[str, Any], scope: Scope, role_path: Any) -> tuple[list[str], dict]:
    if operation == "PutMetricData":
        return ["*"], {"cloudwatch:namespace": params.get("Namespace")}
    if params.get("AlarmName"):
        return [scope.arn("cloudwatch", f"alarm:{params['AlarmName']}")], {}
    names = params.get("AlarmNames")
    if isinstance(names, list) and names:
        return [scope.arn("cloudwatch", f"alarm:{name}") for name in names], {}
    names = [v for k, v in params.items() if re.fullmatch(r"AlarmNames\.member\.\d+", k)]
    if names:
        return [scope.arn("cloudwatch", f"alarm:{name}") for name in names], {}
    if params.get("ResourceARN"):
        return [params["ResourceARN"]], {}
    return ["*"], {}


def _events(operation: str, params: dict[str, Any], scope: Scope, role_path: Any) -> tuple[list[str], dict]:
    bus = params.get("EventBusName") or "default"
    bus = bus.rsplit("/", 1)[-1] if bus.startswith("arn:") else bus
    rule = params.get("Rule") or (params.get("Name") if "Rule" in operation else None)
    if rule:
        path = f"rule/{rule}" if bus == "default" else f"rule/{bus}/{rule}"
        return [scope.arn("events", path)], {}
    if operation == "PutEvents":
        return sorted({scope.arn("events", f"event-bus/{entry.get('EventBusName') or 'default'}")
                       if not str(entry.get("EventBusName", "")).startswith("arn:") else entry["EventBusName"]
                       for entry in params.get("Entries", [])}) or ["*"], {}
    if params.get("ResourceARN"):
        return [params["ResourceARN"]], {}
    return ["*"], {}


def _scheduler(operation: str, params: dict[str, Any], scope: Scope, role_path: Any) -> tuple[list[str], dict]:
    if operation.endswith("Schedule") and params.get("Name"):
        return [scope.arn("scheduler", f"schedule/{params.get('GroupName') or 'default'}/{params['Name']}")], {}
    if operation.endswith("ScheduleGroup") and params.get("Name"):
        return [scope.arn("scheduler", f"schedule-group/{params['Name']}")], {}
    if params.get("ResourceArn"):
        return [params["ResourceArn"]], {}
    return ["*"], {}


def kms_key_arn(key_id: str, scope: Scope) -> str:
    """The key ARN IAM authorizes; an alias is resolved to its key (IAM never authorizes an alias)."""
    if key_id.startswith("arn:") and ":key/" in key_id:
        return key_id
    alias = key_id.split(":", 5)[5] if key_id.startswith("arn:") else key_id
    if alias.startswith("alias/"):
        target = _alias_target(scope, alias)
        return scope.arn("kms", f"key/{target}") if target else scope.arn("kms", alias)
    return scope.arn("kms", f"key/{key_id}")


def _alias_target(scope: Scope, alias: str) -> str | None:
    from moto.kms.models import kms_backends

    try:
        return kms_backends[scope.account][scope.region].get_key_id_from_alias(alias)
    except Exception:
        return None


def kms_key_aliases(key_arn: str, scope: Scope) -> list[str]:
    from moto.kms.models import kms_backends

    try:
        key = kms_backends[scope.account][scope.region].keys[key_arn.rsplit("/", 1)[-1]]
        return sorted(key.aliases)
    except Exception:
        return []


def _kms(operation: str, params: dict[str, Any], scope: Scope, role_path: Any) -> tuple[list[str], dict]:
    context: dict[str, Any] = {"kms:CallerAccount": scope.account}
    if operation in ("CreateKey", "ListKeys", "ListAliases", "GenerateRandom", "ListRetirableGrants"):
        return ["*"], context
    if operation in ("CreateAlias", "UpdateAlias", "DeleteAlias"):
        alias_arn = scope.arn("kms", params["AliasName"])
        resources = [alias_arn]
        if params.get("TargetKeyId"):
            resources.append(kms_key_arn(params["TargetKeyId"], scope))
        return resources, context
    key = params.get("KeyId") or params.get("DestinationKeyId")
    if not key:
        return ["*"], context
    arn = kms_key_arn(key, scope)
    context["kms:ResourceAliases"] = kms_key_aliases(arn, scope)
    if operation == "CreateGrant":
        context["kms:GrantOperations"] = list(params.get("Operations") or [])
    return [arn], context


def _s3(operation: str, params: dict[str, Any], scope: Scope, role_path: Any) -> tuple[list[str], dict]:
    bucket, key = params.get("Bucket"), params.get("Key")
    if not bucket:
        return ["*"], {}
    return [f"arn:{scope.partition}:s3:::{bucket}" + (f"/{key}" if key else "")], {}


def _queue_arn(params: dict[str, Any], scope: Scope) -> str | None:
    """A queue's ARN from its URL (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`, or the emulator's
    `http://HOST/ACCOUNT/NAME`) or from QueueName (with QueueOwnerAWSAccountId)."""
    if params.get("QueueUrl"):
        url = urlparse(params["QueueUrl"])
        account, _, name = url.path.strip("/").partition("/")
        region = re.match(r"^sqs\.([a-z0-9-]+)\.", url.hostname or "")
        return f"arn:{scope.partition}:sqs:{region.group(1) if region else scope.region}:{account or scope.account}:{name}"
    if params.get("QueueName"):
        owner = params.get("QueueOwnerAWSAccountId") or scope.account
        return f"arn:{scope.partition}:sqs:{scope.region}:{owner}:{params['QueueName']}"
    return None


def _sqs(operation: str, params: dict[str, Any], scope: Scope, role_path: Any) -> tuple[list[str], dict]:
    if operation in ("ListQueues",):
        return ["*"], {}
    arn = _queue_arn(params, scope)
    return ([arn] if arn else ["*"]), {}


def _members(params: dict[str, Any], name: str) -> list[str]:
    """A list parameter, as JSON gives it or as the query protocol spells it (`NAME.member.N`)."""
    value = params.get(name)
    if isinstance(value, list):
        return [str(item) for item in value]
    found = [(int(key.rsplit(".", 1)[1]), item) for key, item in params.items()
             if re.fullmatch(rf"{re.escape(name)}\.member\.\d+", key)]
    return [item for _, item in sorted(found)]


def _cloudformation_backend(scope: Scope) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[scope.account][scope.region]


def _stack_arn(name_or_id: str, scope: Scope) -> str:
    """stack/NAME/ID: the stack's id if it exists, `stack/NAME/*` before it does (as AWS names it then)."""
    if name_or_id.startswith("arn:"):
        return name_or_id
    try:
        for stack in _cloudformation_backend(scope).stacks.values():
            if stack.name == name_or_id and stack.status != "DELETE_COMPLETE":
                return stack.stack_id
    except Exception:
        pass
    return scope.arn("cloudformation", f"stack/{name_or_id}/*")


def _stack_set(name_or_id: str, scope: Scope) -> Any:
    try:
        return _cloudformation_backend(scope).describe_stack_set(name_or_id)
    except Exception:
        return None


def template_resource_types(template: str | None) -> list[str]:
    """The resource types a template declares (`AWS::IAM::Role`), JSON or YAML (with CloudFormation's tags)."""
    if not template:
        return []
    try:
        body = json.loads(template)
    except ValueError:
        import yaml

        class _Loader(yaml.SafeLoader):
            pass

        _Loader.add_multi_constructor("!", lambda loader, tag, node: None)
        try:
            body = yaml.load(template, Loader=_Loader)  # noqa: S506 (a SafeLoader that drops CloudFormation's tags)
        except yaml.YAMLError:
            return []
    resources = body.get("Resources") if isinstance(body, dict) else None
    if not isinstance(resources, dict):
        return []
    return sorted({str(r["Type"]) for r in resources.values() if isinstance(r, dict) and r.get("Type")})


_STACK_INSTANCE_OPERATIONS = ("CreateStackInstances", "UpdateStackInstances", "DeleteStackInstances", "UpdateStackSet")


def _cloudformation(operation: str, params: dict[str, Any], scope: Scope, role_path: Any) -> tuple[list[str], dict]:
    context: dict[str, Any] = {}
    role = params.get("RoleARN") or params.get("AdministrationRoleARN")
    if role:
        context["cloudformation:RoleArn"] = role
    for key, parameter in (("cloudformation:TemplateUrl", "TemplateURL"), ("cloudformation:StackPolicyUrl", "StackPolicyURL")):
        if params.get(parameter):
            context[key] = params[parameter]
    if _members(params, "ResourceTypes"):
        context["cloudformation:ResourceTypes"] = _members(params, "ResourceTypes")
    if operation in _STACK_INSTANCE_OPERATIONS and _members(params, "Regions"):
        context["cloudformation:TargetRegion"] = _members(params, "Regions")
    if operation in ("CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DeleteChangeSet") and \
            params.get("ChangeSetName") and not str(params["ChangeSetName"]).startswith("arn:"):
        context["cloudformation:ChangeSetName"] = params["ChangeSetName"]
    if operation in ("CreateStackSet", "ListStackSets", "ListStacks", "ValidateTemplate", "DescribeAccountLimits"):
        return ["*"], context  # no resource type (Service Authorization Reference)
    if params.get("StackSetName"):
        stack_set = _stack_set(params["StackSetName"], scope)
        stack_set_id = stack_set.id if stack_set is not None else f"{params['StackSetName'].split(':')[0]}:*"
        resources = [scope.arn("cloudformation", f"stackset/{stack_set_id}")]
        if operation in _STACK_INSTANCE_OPERATIONS:
            accounts = _members(params, "Accounts") + [
                v for k, v in params.items() if re.fullmatch(r"DeploymentTargets\.Accounts\.member\.\d+", k)]
            resources += [scope.arn("cloudformation", f"stackset-target/{stack_set_id}/{account}")
                          for account in dict.fromkeys(accounts)]
            template = params.get("TemplateBody") or (stack_set.template if stack_set is not None else None)
            resources += [scope.arn("cloudformation", f"type/resource/{kind.replace('::', '-')}")
                          for kind in template_resource_types(template)]
        return resources, context
    change_set = params.get("ChangeSetName")
    if change_set and str(change_set).startswith("arn:") and not params.get("StackName"):
        try:
            return [_cloudformation_backend(scope).change_sets[change_set].stack_id], context
        except Exception:
            return ["*"], context
    if params.get("StackName"):
        return [_stack_arn(params["StackName"], scope)], context
    return ["*"], context


def _sns(operation: str, params: dict[str, Any], scope: Scope, role_path: Any) -> tuple[list[str], dict]:
    if params.get("TopicArn"):
        return [params["TopicArn"]], {}
    if operation == "CreateTopic":
        return [scope.arn("sns", params["Name"])], {}
    return ["*"], {}


_DERIVATIONS = {
    "dynamodb": _dynamodb,
    "iam": _iam,
    "sts": _sts,
    "states": _states,
    "lambda": _lambda,
    "logs": _logs,
    "cloudwatch": _cloudwatch,
    "events": _events,
    "scheduler": _scheduler,
    "kms": _kms,
    "s3": _s3,
    "sns": _sns,
    "sqs": _sqs,
    "cloudformation": _cloudformation,
}

# AWS KMS: "How Amazon DynamoDB uses AWS KMS" / "Authorizing use of your customer managed key": the
# principal that creates or updates a table under a customer managed key needs these on the key,
# which DynamoDB calls on its behalf (kms:ViaService = dynamodb.REGION.amazonaws.com).
DYNAMODB_KMS_ACTIONS = (
    "kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo",
)


@functools.cache
def dns_suffix(region: str) -> str:
    """The domain of a Region's endpoints in its partition (amazonaws.com.cn in China), from botocore's
    partition data: kms:ViaService is `SERVICE.REGION.` and that ("AWS KMS condition keys", kms:ViaService)."""
    session = botocore.session.get_session()
    partition = session.get_partition_for_region(region)
    data = session.get_component("data_loader").load_data("partitions")
    return next(p["outputs"]["dnsSuffix"] for p in data["partitions"] if p["id"] == partition)


def on_behalf_requests(call: AwsCall, params: dict[str, Any], scope: Scope) -> list[AuthRequest]:
    """Calls a service makes with the caller's permissions (forward access sessions)."""
    if call.service != "dynamodb" or call.operation not in ("CreateTable", "UpdateTable", "RestoreTableFromBackup",
                                                              "RestoreTableToPointInTime"):
        return []
    sse = params.get("SSESpecification") or params.get("SSESpecificationOverride") or {}
    if not isinstance(sse, dict) or not sse.get("KMSMasterKeyId") or sse.get("Enabled") is False:
        return []  # the AWS owned key (or the AWS managed aws/dynamodb key): nothing of the caller's
    key_arn = kms_key_arn(sse["KMSMasterKeyId"], scope)
    context = {
        "kms:ViaService": f"dynamodb.{scope.region}.{dns_suffix(scope.region)}",
        "kms:CallerAccount": scope.account,
        "kms:ResourceAliases": kms_key_aliases(key_arn, scope),
        "aws:ViaAWSService": True,
        "aws:CalledVia": ["dynamodb.amazonaws.com"],
    }
    table = params.get("TableName") or params.get("TargetTableName")
    if table:
        context["kms:EncryptionContext:aws:dynamodb:tableName"] = table
        context["kms:EncryptionContext:aws:dynamodb:subscriberId"] = scope.account
    return [
        AuthRequest(action, key_arn, dict(context, **({"kms:GrantIsForAWSResource": True} if action == "kms:CreateGrant" else {})))
        for action in DYNAMODB_KMS_ACTIONS
    ]


# Where a call hands a role to a service: (service, operation) -> (the parameters naming the role, the service).
_PASSED_ROLES: dict[tuple[str, str], tuple[str, str]] = {
    ("lambda", "CreateFunction"): ("Role", "lambda.amazonaws.com"),
    ("lambda", "UpdateFunctionConfiguration"): ("Role", "lambda.amazonaws.com"),
    ("states", "CreateStateMachine"): ("roleArn", "states.amazonaws.com"),
    ("states", "UpdateStateMachine"): ("roleArn", "states.amazonaws.com"),
    ("events", "PutTargets"): ("Targets[].RoleArn", "events.amazonaws.com"),
    ("scheduler", "CreateSchedule"): ("Target.RoleArn", "scheduler.amazonaws.com"),
    ("scheduler", "UpdateSchedule"): ("Target.RoleArn", "scheduler.amazonaws.com"),
    ("cloudformation", "CreateStack"): ("RoleARN", "cloudformation.amazonaws.com"),
    ("cloudformation", "UpdateStack"): ("RoleARN", "cloudformation.amazonaws.com"),
    ("cloudformation", "CreateChangeSet"): ("RoleARN", "cloudformation.amazonaws.com"),
    ("cloudformation", "ContinueUpdateRollback"): ("RoleARN", "cloudformation.amazonaws.com"),
    ("cloudformation", "CreateStackSet"): ("AdministrationRoleARN", "cloudformation.amazonaws.com"),
    ("cloudformation", "UpdateStackSet"): ("AdministrationRoleARN", "cloudformation.amazonaws.com"),
}


def _passed_role_arns(params: dict[str, Any], where: str) -> list[str]:
    if where == "Targets[].RoleArn":
        targets = params.get("Targets") if isinstance(params.get("Targets"), list) else []
        return [str(target["RoleArn"]) for target in targets if isinstance(target, dict) and target.get("RoleArn")]
    if where == "Target.RoleArn":
        target = params.get("Target") if isinstance(params.get("Target"), dict) else {}
        return [str(target["RoleArn"])] if target.get("RoleArn") else []
    return [str(params[where])] if params.get(where) else []


def passed_role_requests(call: AwsCall, params: dict[str, Any], scope: Scope) -> list[AuthRequest]:
    """iam:PassRole on each role the call hands to a service, with iam:PassedToService as AWS sets it.

    Evaluated after the call's own action (`authorization_requests`), so a caller missing both is told about
    the action first, as the services do; a denied PassRole answers with the service's AccessDenied error
    naming iam:PassRole on the role."""
    found = _PASSED_ROLES.get((call.service, call.operation))
    if found is None:
        return []
    where, service = found
    return [AuthRequest("iam:PassRole", role, {"iam:PassedToService": service})
            for role in dict.fromkeys(_passed_role_arns(params, where))]
