"""IAM enforcement for everything the deployed orchestrator does on the embedded AWS.

AWS behaviour reproduced (IAM User Guide, "Policy evaluation logic"; Lambda Developer Guide,
"Lambda execution role"; Step Functions Developer Guide, "How Step Functions works with IAM"):

- A Lambda function runs with temporary credentials of its execution role (AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), obtained by Lambda assuming the role; the Step Functions
  interpreter calls Lambda as the state machine's role; an EventBridge rule starts a Step Functions
  target as the target's RoleArn.  `session_credentials` mints such credentials through moto's STS
  backend and remembers which role (and which service assumed it) each access key stands for.
- Every request signed with such a key is evaluated against the role's identity policies (inline
  and attached managed): explicit Deny, then Allow, otherwise implicit deny (`local/iam/policy.py`),
  on the real resource ARN(s) and condition keys of the request (`local/iam/requests.py`).  The
  role's trust policy must still let that service assume it (with aws:SourceAccount/aws:SourceArn).
  A CreateTable/UpdateTable under a customer managed KMS key also needs the caller's KMS permissions
  (kms:ViaService = dynamodb.REGION.amazonaws.com), which DynamoDB uses on its behalf; a call that hands a
  role to a service (a function's, a state machine's, a rule target's, a schedule's, a stack's) also needs
  iam:PassRole on it with iam:PassedToService.
- A denied request gets the service's own AccessDenied error and message.
- A change to a role's permissions takes a while to take effect (IAM User Guide, "Changes that I
  make are not always immediately visible"): while it propagates, the role's sessions are evaluated
  with the policies from before it (`permissions_before`, from local/faults/consistency.py).

- A role's permissions boundary caps its sessions: the boundary must allow the request too, and a Deny
  in it denies ("with an explicit deny in a permissions boundary").

Requests signed with any other key (deploy.py, the AWS CLI, tests: the account's operator; a 12-digit key is
that account's, local/iam/accounts.py) are not evaluated, except sts:AssumeRole: the role must exist in its own
account and its trust policy allow the operator's account principal (`operator_assume_role_denial`); across
accounts a session's AssumeRole needs both the trust policy and its own grant.  Not emulated: session policies, SCPs, resource-based policies
other than trust policies (KMS key policies are taken to be the default, which delegates to IAM),
aws:ResourceTag/aws:RequestTag condition keys.
"""

from __future__ import annotations

import datetime
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from local.aws_calls import AwsCall
from local.faults.injected import error_response
from local.iam.policy import (
    ALLOWED,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    AuthRequest,
    Decision,
    evaluate,
    evaluate_assume_role,
    evaluate_trust,
)
from local.iam.requests import (
    Scope,
    action_name,
    authorization_requests,
    on_behalf_requests,
    passed_role_requests,
    request_parameters,
)

LOG = logging.getLogger(__name__)

LAMBDA_SERVICE = "lambda.amazonaws.com"
STATES_SERVICE = "states.amazonaws.com"
EVENTS_SERVICE = "events.amazonaws.com"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account: the `testing` key's
SESSION_SECONDS = 43200  # long enough for any emulator session; AWS refreshes Lambda's itself

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]*/([^/]*)/")


@dataclass(frozen=True)
class Session:
    """Temporary credentials of a role, as assumed by a service on the principal's behalf."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    role_arn: str
    session_name: str
    assumed_by: str | None  # the service principal that assumed it (None: sts:AssumeRole by a caller)
    source_arn: str | None = None
    # When a caller's sts:AssumeRole session ends (seconds since the epoch); None: a service's session,
    # which the service renews before it ends (Lambda, Step Functions), so it never expires here.
    expires_at: float | None = None

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4]

    @property
    def partition(self) -> str:
        return self.role_arn.split(":")[1]

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]

    @property
    def arn(self) -> str:
        return f"arn:{self.partition}:sts::{self.account}:assumed-role/{self.role_name}/{self.session_name}"

    def environment(self) -> dict[str, str]:
        """The variables Lambda sets for the function's code."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


_sessions: dict[str, Session] = {}  # access key id -> session; outlives moto resets, like warm workers
_minted: dict[tuple[str, str, str | None], Session] = {}
_lock = threading.Lock()


def session_credentials(role_arn: str, session_name: str, assumed_by: str, source_arn: str | None = None,
                        account: str = DEFAULT_ACCOUNT_ID) -> Session:
    """Credentials of `role_arn` as `assumed_by` gets them; one set per (role, session, service).

    The session is the role's account's (moto issues the key there); `account` is the account of the resource
    the service acts for (a function's, a state machine's), for a role that is not an ARN.
    """
    key = (role_arn, session_name, assumed_by)
    with _lock:
        minted = _minted.get(key)
    if minted is not None:
        _keep_known_to_moto(minted)
        return minted
    from moto.sts.models import sts_backends

    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 and role_arn.split(":")[4] else account
    partition = role_arn.split(":")[1] if role_arn.startswith("arn:") else "aws"
    assumed = sts_backends[account][partition].assume_role(
        region_name="us-east-1", role_session_name=session_name[:64], role_arn=role_arn,
        policy="", duration=SESSION_SECONDS, external_id="",
    )
    session = Session(assumed.access_key_id, assumed.secret_access_key, assumed.session_token,
                      role_arn, session_name[:64], assumed_by, source_arn)
    with _lock:
        session = _minted.setdefault(key, session)
        _sessions[session.access_key_id] = session
    return session


def _keep_known_to_moto(session: Session) -> None:
    """Issue a minted session's key again after a reset emptied moto's backends.

    The session outlives a reset (a warm function worker keeps its credentials), but moto forgot the key: it
    would take requests signed with it for the default account's (moto decides the account by looking the key
    up) and GetCallerIdentity for an operator's. The key goes back to the role's account, as STS issued it.
    """
    from moto.iam.models import iam_backends
    from moto.sts.models import AssumedRole, sts_backends

    backend = iam_backends[session.account][session.partition]
    if session.access_key_id in backend.access_keys:
        return
    with _lock:
        if session.access_key_id in backend.access_keys:
            return
        key = backend.create_temp_access_key()
        del backend.access_keys[key.physical_resource_id]
        key.access_key_id, key.secret_access_key, key.role_arn = (session.access_key_id, session.secret_access_key,
                                                                  session.role_arn)
        backend.access_keys[key.physical_resource_id] = key
        assumed = AssumedRole(session.account, "us-east-1", key, session.session_name, session.role_arn, "",
                              SESSION_SECONDS, "")
        assumed.session_token = session.session_token
        sts_backends[session.account][session.partition].assumed_roles.append(assumed)


def principal_for(environ: Mapping[str, Any]) -> Session | None:
    """The role session a request is signed with; None for the operator (unknown or `testing` keys).

    Also recognises credentials a caller obtained with sts:AssumeRole from the emulator.
    """
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", "") or "")
    access_key = match.group(1) if match else _presigned_key(environ)
    if not access_key:
        return None
    session = _sessions.get(access_key)
    if session is not None or not access_key.startswith("ASIA"):
        return session
    return _assumed_by_caller(access_key)


def caller_arns(environ: Mapping[str, Any]) -> tuple[str, ...]:
    """Who signed the request, as a resource-based policy's Principal may name them: a session's ARN and its
    role's; an operator's account principal (`arn:aws:iam::ACCOUNT:root`)."""
    from local.iam.accounts import account_of_key, operator_arn

    session = principal_for(environ)
    if session is not None:
        return session.arn, session.role_arn
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", "") or "")
    access_key = match.group(1) if match else _presigned_key(environ)
    return (operator_arn(account_of_key(access_key)),)


def _presigned_key(environ: Mapping[str, Any]) -> str | None:
    found = re.search(r"X-Amz-Credential=([^/&%]+)", unquote(environ.get("QUERY_STRING", "") or ""))
    return found.group(1) if found else None


def _assumed_by_caller(access_key: str) -> Session | None:
    from moto.sts.models import sts_backends

    for account in list(sts_backends.values()):
        for backend in list(account.values()):
            assumed = backend.get_assumed_role_from_access_key(access_key)
            if assumed is not None:
                session = Session(access_key, assumed.secret_access_key, assumed.session_token,
                                  assumed.role_arn, assumed.session_name, None,
                                  expires_at=assumed.expiration.replace(tzinfo=datetime.UTC).timestamp())
                with _lock:
                    _sessions[access_key] = session
                return session
    return None


def _signing_region(environ: Mapping[str, Any]) -> str:
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", "") or "")
    region = match.group(2) if match else ""
    return region if region and region != "global" else "us-east-1"


# -- the role's documents -----------------------------------------------------------------------

def _role(session: Session) -> Any | None:
    from moto.iam.models import iam_backends

    try:
        return iam_backends[session.account][session.partition].get_role_by_arn(session.role_arn)
    except Exception:
        pass
    try:  # the role may have been re-created under another path; the name is what matters
        return iam_backends[session.account][session.partition].get_role(session.role_name)
    except Exception:
        return None


def identity_documents(role: Any) -> list[str]:
    """A role's identity policies: its inline policies and the default version of each attached one."""
    documents = [unquote(document) if isinstance(document, str) and document.startswith("%7B") else document
                 for document in role.policies.values()]
    for policy in role.managed_policies.values():
        for version in policy.versions:
            if version.is_default:
                documents.append(version.document)
    return documents


def _role_path(account: str, partition: str):
    def path(name: str) -> str:
        from moto.iam.models import iam_backends

        try:
            return iam_backends[account][partition].get_role(name).path
        except Exception:
            return "/"

    return path


def _global_context(session: Session, role: Any, region: str) -> dict[str, Any]:
    """The global condition keys AWS puts in every request of an assumed-role session."""
    now = datetime.datetime.now(datetime.UTC)
    context: dict[str, Any] = {
        "aws:PrincipalArn": session.role_arn,
        "aws:PrincipalAccount": session.account,
        "aws:PrincipalType": "AssumedRole",
        "aws:userid": f"{getattr(role, 'id', 'AROA')}:{session.session_name}",
        "aws:RequestedRegion": region,
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(time.time())),
        "aws:SecureTransport": True,  # AWS endpoints are HTTPS; the emulator's plain HTTP stands in
        "aws:ViaAWSService": False,
        "aws:MultiFactorAuthPresent": False,
    }
    tags = getattr(role, "tags", None) or {}
    for tag in tags.values() if isinstance(tags, dict) else tags:
        if isinstance(tag, dict) and "Key" in tag:
            context[f"aws:PrincipalTag/{tag['Key']}"] = tag.get("Value", "")
    return context


def trust_allows(role: Any, session: Session) -> bool:
    """Does the role's trust policy let the service that assumed it do so (now)?"""
    if session.assumed_by is None:
        return True  # sts:AssumeRole by a caller was evaluated when it was called
    context: dict[str, Any] = {"aws:SourceAccount": session.account, "aws:PrincipalServiceName": session.assumed_by}
    if session.source_arn:
        context["aws:SourceArn"] = session.source_arn
    trust = role.assume_role_policy_document
    decision = evaluate_trust(trust, {"Service": session.assumed_by},
                              AuthRequest("sts:AssumeRole", session.role_arn, context))
    return decision.allowed


# -- evaluation ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Denial:
    action: str
    resource: str
    message: str


PermissionsBefore = Callable[[str, str], "list[Any] | None"]  # (account, role name) -> documents, or None


def authorize(session: Session, call: AwsCall, environ: dict[str, Any],
              permissions_before: PermissionsBefore | None = None) -> Denial | None:
    """None if every request the call makes is allowed for the session's role; else the first denial.

    `permissions_before` gives the role's policies from before a change that is still propagating.
    """
    region = _signing_region(environ)
    scope = Scope(session.partition, region, session.account)
    params = request_parameters(call, environ)
    requests = authorization_requests(call, params, scope, _role_path(session.account, session.partition))
    requests += on_behalf_requests(call, params, scope)
    requests += passed_role_requests(call, params, scope)
    if not requests:
        return None
    role = _role(session)
    if role is None or not trust_allows(role, session):
        first = requests[0]
        return Denial(first.action, first.resource,
                      f"User: {session.arn} is not authorized to perform: {first.action} on resource: "
                      f"{first.resource} because the role {session.role_arn} does not exist or cannot be "
                      f"assumed by {session.assumed_by}")
    lagging = permissions_before(session.account, session.role_name) if permissions_before else None
    documents = identity_documents(role) if lagging is None else lagging
    context = _global_context(session, role, region)
    for request in requests:
        full = AuthRequest(request.action, request.resource, {**context, **request.context})
        if request.action == "sts:AssumeRole":
            decision = _assume_role_decision(documents, session, full)
            if decision.result != ALLOWED:
                return Denial(request.action, request.resource, assume_role_message(session.arn, request.resource))
        else:
            decision = _with_resource_policy(evaluate(documents, full), session, full)
        if decision.result != ALLOWED:
            return Denial(request.action, request.resource, _denial_message(session, request, decision))
        bounded = _within_boundary(role, full)
        if bounded is not None:
            return Denial(request.action, request.resource, _boundary_message(session, request, bounded))
    return None


def boundary_document(role: Any) -> Any | None:
    """The default version of the role's permissions boundary (a managed policy), if it has one."""
    arn = getattr(role, "permissions_boundary_arn", None)
    if not arn:
        return None
    from moto.iam.models import iam_backends

    try:
        policy = iam_backends[role.arn.split(":")[4]][arn.split(":")[1]].get_policy(arn)
    except Exception:
        return {"Version": "2012-10-17", "Statement": []}  # a boundary whose policy is gone allows nothing
    return next((version.document for version in policy.versions if version.is_default), {"Statement": []})


def _within_boundary(role: Any, request: AuthRequest) -> Decision | None:
    """None if the role's permissions boundary (if any) allows the request; else its decision (IAM User Guide,
    "Permissions boundaries for IAM entities": the effective permissions are where the identity policies and
    the boundary both allow; an explicit Deny in the boundary denies)."""
    document = boundary_document(role)
    if document is None:
        return None
    decision = evaluate([document], request)
    return None if decision.allowed else decision


def _boundary_message(session: Session, request: AuthRequest, decision: Decision) -> str:
    why = ("with an explicit deny in a permissions boundary" if decision.result == EXPLICIT_DENY
           else f"because no permissions boundary allows the {request.action} action")
    return (f"User: {session.arn} is not authorized to perform: {request.action} "
            f"on resource: {request.resource} {why}")


_TABLE_ARN = re.compile(r"^(arn:[^:]+:dynamodb:[^:]+:[0-9]{12}:table/[^/]+)(/index/[^/]+)?$")


def table_resource_policy(resource: str) -> str | None:
    """The resource-based policy (PutResourcePolicy) of the DynamoDB table `resource` names (a table or one
    of its indexes: the table's policy governs its indexes too); None when it has none."""
    match = _TABLE_ARN.match(resource)
    if match is None:
        return None
    from moto.dynamodb.models import dynamodb_backends

    table_arn = match.group(1)
    _, partition, _, region, account, _ = table_arn.split(":", 5)
    try:
        policy = dynamodb_backends[account][region].resource_policies.get(table_arn)
    except Exception:
        return None
    return getattr(policy, "policy_doc", None) if policy is not None else None


def _with_resource_policy(identity: Decision, session: Session, request: AuthRequest) -> Decision:
    """A same-account request on a resource with a resource-based policy (a DynamoDB table's): an explicit
    Deny in either policy denies, and an Allow in either suffices (IAM User Guide, "Policy evaluation logic":
    requests within a single account)."""
    document = table_resource_policy(request.resource)
    if document is None or identity.result == EXPLICIT_DENY:
        return identity
    resource = evaluate_trust(document, {"AWS": [session.arn, session.role_arn]}, request)
    if resource.result == EXPLICIT_DENY:
        return resource
    return identity if identity.allowed or not resource.allowed else resource


def target_role(role_arn: str) -> Any | None:
    """The role an sts:AssumeRole names, in its own account (None if there is none by that ARN)."""
    from moto.iam.models import iam_backends

    parts = role_arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not re.fullmatch(r"[0-9]{12}", parts[4]):
        return None
    try:
        return iam_backends[parts[4]][parts[1]].get_role_by_arn(role_arn)
    except Exception:
        return None


def _assume_role_decision(documents: list[str], session: Session, request: AuthRequest) -> Decision:
    """AssumeRole needs the target role's trust policy too (and the role must exist, in its own account)."""
    target = target_role(request.resource)
    if target is None:
        return Decision(IMPLICIT_DENY)
    return evaluate_assume_role(documents, target.assume_role_policy_document, [session.role_arn, session.arn],
                                request, cross_account=request.resource.split(":")[4] != session.account)


def assume_role_message(caller_arn: str, role_arn: str) -> str:
    """STS's AccessDenied text for a refused AssumeRole (it names no policy: the caller cannot tell whether
    the role is missing, its trust policy refuses, or the caller's own policy does)."""
    return f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"


def operator_assume_role_denial(call: AwsCall, environ: dict[str, Any]) -> Denial | None:
    """sts:AssumeRole by an operator key (the account principal, with full access in its own account): the
    role must exist and its trust policy allow the caller's account (`arn:PARTITION:iam::ACCOUNT:root`, a
    bare account ID or "*"), its conditions (sts:ExternalId, ...) holding (IAM User Guide, "Policy
    evaluation logic": a role's trust policy is a resource-based policy; across accounts both it and the
    caller's identity policy must allow, and the operator's allows everything)."""
    from local.iam.accounts import account_of_key, operator_arn

    params = request_parameters(call, environ)
    role_arn = str(params.get("RoleArn") or "")
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", "") or "")
    account = account_of_key(match.group(1) if match else None)
    partition = role_arn.split(":")[1] if role_arn.startswith("arn:") and role_arn.count(":") >= 5 else "aws"
    caller = operator_arn(account, partition)
    context: dict[str, Any] = {
        "aws:PrincipalArn": caller, "aws:PrincipalAccount": account, "aws:PrincipalType": "Account",
        "aws:userid": account, "aws:RequestedRegion": _signing_region(environ),
        "aws:CurrentTime": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(time.time())), "aws:SecureTransport": True, "aws:ViaAWSService": False,
        "aws:MultiFactorAuthPresent": False,
        "sts:RoleSessionName": params.get("RoleSessionName"),
    }
    if params.get("ExternalId") is not None:
        context["sts:ExternalId"] = params["ExternalId"]
    target = target_role(role_arn)
    allowed = target is not None and evaluate_trust(
        target.assume_role_policy_document, {"AWS": [caller]}, AuthRequest("sts:AssumeRole", role_arn, context)).allowed
    if allowed:
        return None
    return Denial("sts:AssumeRole", role_arn, assume_role_message(caller, role_arn))


def _denial_message(session: Session, request: AuthRequest, decision: Decision) -> str:
    # AWS's wording (IAM User Guide, "Troubleshoot access denied error messages").
    # Only a resource-based policy's statements name a Principal.
    kind = "a resource-based policy" if "Principal" in (decision.statement or {}) else "an identity-based policy"
    why = (f"with an explicit deny in {kind}" if decision.result == EXPLICIT_DENY
           else f"because no identity-based policy allows the {request.action} action")
    return (f"User: {session.arn} is not authorized to perform: {request.action} "
            f"on resource: {request.resource} {why}")


def role_may(role_arn: str, action: str, resource: str, assumed_by: str, source_arn: str | None = None) -> bool:
    """For the emulator's own service-to-service calls (an EventBridge target): may the role do it?"""
    if not role_arn.startswith("arn:") or ":role/" not in role_arn:
        return False
    session = session_credentials(role_arn, f"{assumed_by.split('.')[0]}-target", assumed_by, source_arn)
    role = _role(session)
    if role is None or not trust_allows(role, session):
        return False
    scope_region = resource.split(":")[3] if resource.count(":") >= 5 else "us-east-1"
    context = _global_context(session, role, scope_region)
    return evaluate(identity_documents(role), AuthRequest(action, resource, context)).allowed


# -- the wire -----------------------------------------------------------------------------------

# The error code and HTTP status each protocol's services use for an authorization failure
# (botocore service models' AccessDeniedException shapes; IAM/STS: "AccessDenied", 403).
def denial_error(call: AwsCall) -> tuple[str, int]:
    if call.protocol == "query":
        return ("AuthorizationError", 403) if call.service == "sns" else ("AccessDenied", 403)
    if call.protocol == "rest-xml":
        return "AccessDenied", 403
    if call.protocol == "rest-json":
        return "AccessDeniedException", 403
    return "AccessDeniedException", 400


def denial_response(call: AwsCall, denial: Denial) -> tuple[int, list[tuple[str, str]], bytes]:
    code, status = denial_error(call)
    return error_response(call.protocol, call.service, call.operation, code, message=denial.message, status=status)


def expired_session_response(call: AwsCall, environ: Mapping[str, Any], now: float,
                             ) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """An error response if the request is signed with a caller's sts:AssumeRole session that has ended.

    AWS refuses such a request before anything else: HTTP 400 `ExpiredTokenException` ("The security
    token included in the request is expired") from the JSON services, `ExpiredToken` from the query
    ones (IAM, STS) (STS API reference, Common Errors; AssumeRole: DurationSeconds). `now` is the
    emulator's clock, so a test ends a session by moving it forward.
    """
    session = principal_for(environ)
    if session is None or session.expires_at is None or now < session.expires_at:
        return None
    code = "ExpiredToken" if call.protocol == "query" else "ExpiredTokenException"
    return error_response(call.protocol, call.service, call.operation, code,
                          message="The security token included in the request is expired", status=400)


def check(call: AwsCall, environ: dict[str, Any], permissions_before: PermissionsBefore | None = None,
          ) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """The emulator's request-path hook: an error response if the caller may not make this call."""
    session = principal_for(environ)
    if session is None:
        if (call.service, call.operation) != ("sts", "AssumeRole"):
            return None  # the operator: full access in its account
        denial = operator_assume_role_denial(call, environ)
        if denial is not None:
            LOG.info("STS refused AssumeRole of %s: %s", denial.resource, denial.message)
        return None if denial is None else denial_response(call, denial)
    try:
        denial = authorize(session, call, environ, permissions_before)
    except Exception:  # a bug here must not let a call through silently, nor crash the server
        LOG.exception("IAM evaluation failed for %s; denying", call.name)
        action = action_name(call.service, call.operation)
        denial = Denial(action, "*", f"User: {session.arn} is not authorized to perform: {action}")
    if denial is None:
        return None
    LOG.info("IAM denied %s to %s on %s", denial.action, session.arn, denial.resource)
    return denial_response(call, denial)
