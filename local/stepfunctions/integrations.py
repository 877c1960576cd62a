"""The state machine's service integrations call AWS as the state machine's role, through shared clients."""

from __future__ import annotations

import importlib
import threading
from typing import Any

import boto3
import botocore.config
from moto.core.models import botocore_stubber
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
    lambda_eval_utils as moto_lambda_eval,
)
from moto.stepfunctions.parser.asl.utils import boto_client as moto_boto_client

from local import patching
from local.iam import enforcement as iam_enforcement

# moto's interpreter modules that call AWS through their own `boto_client_for` (moto 5.2).
_SERVICE_INTEGRATIONS = (
    "state_map.result_writer.resource_eval.resource_eval_s3",
    "state_map.item_reader.eval.resource_eval_s3",
    "state_task.service.state_task_service_unsupported",
    "state_task.service.state_task_service_glue",
    "state_task.service.state_task_service_events",
    "state_task.service.state_task_service_ecs",
    "state_task.service.state_task_service_sqs",
    "state_task.service.state_task_service_sfn",
    "state_task.service.state_task_service_dynamodb",
)


def install() -> None:
    patching.patch(moto_lambda_eval, "boto_client_for", _shared_boto_client_for)
    # Every other service integration calls AWS as the state machine's role too (IAM enforcement).
    for name in _SERVICE_INTEGRATIONS:
        module = importlib.import_module(f"moto.stepfunctions.parser.asl.component.state.exec.{name}")
        if hasattr(module, "boto_client_for"):
            patching.patch(module, "boto_client_for", _shared_boto_client_for)

# moto's interpreter also builds a new boto3 Lambda client (service model loaded from disk,
# ~40 ms of CPU) for every Lambda task.  Clients are thread-safe: one per region and endpoint,
# as moto configures them, with a connection pool as large as a Map's concurrency may need.
_LAMBDA_CLIENT_POOL_CONNECTIONS = 100
_sfn_clients: dict[tuple[str, str, str, str | None], Any] = {}
_sfn_clients_lock = threading.Lock()


def _shared_boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    if botocore_stubber.enabled:  # in-process moto (mock_aws) intercepts the calls instead
        return moto_boto_client.boto_client_for(region, service, state_credentials)
    endpoint_url = f"http://localhost:{moto_server_port()}"
    # AWS: a task calls its service as the state machine's role (or the state's Credentials role).
    role_arn = getattr(state_credentials, "role_arn", None)
    credentials = (
        iam_enforcement.session_credentials(role_arn, "StepFunctions", iam_enforcement.STATES_SERVICE)
        if role_arn else None
    )
    key = (region, service, endpoint_url, role_arn)
    with _sfn_clients_lock:
        if key not in _sfn_clients:
            _sfn_clients[key] = boto3.session.Session().client(
                service,
                region_name=region,
                endpoint_url=endpoint_url,
                aws_access_key_id=credentials.access_key_id if credentials else "ak",
                aws_secret_access_key=credentials.secret_access_key if credentials else "sk",
                aws_session_token=credentials.session_token if credentials else None,
                config=botocore.config.Config(
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    connect_timeout=moto_boto_client.TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                    read_timeout=moto_boto_client.TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                    max_pool_connections=_LAMBDA_CLIENT_POOL_CONNECTIONS,
                ),
            )
        return _sfn_clients[key]
