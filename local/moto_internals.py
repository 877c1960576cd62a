"""The moto this embedded AWS was written for, and every moto internal it patches, checked at start.

The behaviour modules replace or wrap moto's own methods (``local/patching.py``). A moto release may
rename one or change its parameters (moto 5.2.6 made ``DynamoDBBackend.tag_resource`` take a dict),
and a patch written for the old one then fails in the middle of a request, as an HTTP 500. So:

- ``MOTO_VERSION`` is the one ``pyproject.toml`` pins (``moto[server]==MOTO_VERSION``);
- ``PATCH_POINTS`` names every attribute a patch replaces, with moto's signature of it in that
  version; ``patching.patch`` refuses an attribute that is not listed here;
- ``patching.check()`` runs before the emulator installs anything: on another moto it compares
  every point and raises ``IncompatibleMoto`` (one line: installed, needed, the pip line that fixes
  it) unless all of them still match.

Refreshing moto: install the new one, run ``tests/unit/test_moto_internals.py``; it names each
point that moved. Read moto's change, adapt the patch, then update its signature here.
"""

from __future__ import annotations

MOTO_VERSION = "5.2.6"
FIX = f'python -m pip install "moto[server]=={MOTO_VERSION}"'

# Not a signature: the attribute is set on each instance by the class's __init__ (a property replaces it).
INSTANCE_ATTRIBUTE = "<set by __init__>"
# Not a signature: moto defines nothing of that name on the class (the patch adds it).
ABSENT = "<absent>"

# (owner, attribute) -> moto's signature of it. An owner is "module:Class" or a module.
PATCH_POINTS: dict[tuple[str, str], str] = {
    ('moto.core.responses:BaseResponse', 'get_current_account'):
        "(self) -> 'str'",
    ('moto.sts.models:STSBackend', 'get_caller_identity'):
        '(self, access_key_id: str, region: str) -> tuple[str, str, str]',
    ('moto.sts.models:AssumedRole', '__init__'):
        '(self, account_id: str, region_name: str, access_key: moto.iam.models.AccessKey, role_session_name: str, role_arn: str, policy: str, duration: int, external_id: str)',
    ('moto.dynamodb.models.table:Table', 'describe'):
        "(self, base_key: str = 'TableDescription') -> dict[str, typing.Any]",
    ('moto.dynamodb.models:DynamoDBBackend', 'create_table'):
        '(self, name: str, schema: list[dict[str, str]], throughput: dict[str, int] | None, attr: list[dict[str, str]], global_indexes: list[dict[str, typing.Any]] | None, indexes: list[dict[str, typing.Any]] | None, streams: dict[str, typing.Any] | None, billing_mode: str, sse_specification: dict[str, typing.Any] | None, tags: list[dict[str, str]], deletion_protection_enabled: bool | None, warm_throughput: dict[str, typing.Any] | None) -> moto.dynamodb.models.table.Table',
    ('moto.dynamodb.models:DynamoDBBackend', 'update_table'):
        '(self, name: str, attr_definitions: list[dict[str, str]], global_index: list[dict[str, typing.Any]], throughput: dict[str, typing.Any], billing_mode: str, stream_spec: dict[str, typing.Any], deletion_protection_enabled: bool | None, warm_throughput: dict[str, typing.Any] | None) -> moto.dynamodb.models.table.Table',
    ('moto.dynamodb.models:DynamoDBBackend', 'delete_table'):
        '(self, name: str) -> moto.dynamodb.models.table.Table',
    ('moto.kms.models:KmsBackend', 'disable_key'):
        '(self, key_id: str) -> None',
    ('moto.kms.models:KmsBackend', 'enable_key'):
        '(self, key_id: str) -> None',
    ('moto.kms.models:KmsBackend', 'cancel_key_deletion'):
        '(self, key_id: str) -> None',
    ('moto.kms.models:KmsBackend', 'schedule_key_deletion'):
        '(self, key_id: str, pending_window_in_days: int) -> float',
    ('moto.dynamodb.models:DynamoDBBackend', 'put_item'):
        '(self, table_name: str, item_attrs: dict[str, typing.Any], expected: dict[str, typing.Any] | None = None, condition_expression: str | None = None, expression_attribute_names: dict[str, typing.Any] | None = None, expression_attribute_values: dict[str, typing.Any] | None = None, overwrite: bool = False, return_values_on_condition_check_failure: str | None = None) -> moto.dynamodb.models.dynamo_type.Item',
    ('moto.dynamodb.models:DynamoDBBackend', 'get_item'):
        '(self, table_name: str, keys: dict[str, typing.Any], projection_expressions: list[list[str]] | None = None) -> moto.dynamodb.models.dynamo_type.Item | None',
    ('moto.dynamodb.models:DynamoDBBackend', 'update_item'):
        '(self, table_name: str, key: dict[str, dict[str, typing.Any]], update_expression: str, expression_attribute_names: dict[str, typing.Any], expression_attribute_values: dict[str, typing.Any], attribute_updates: dict[str, typing.Any] | None = None, expected: dict[str, typing.Any] | None = None, condition_expression: str | None = None, return_values_on_condition_check_failure: str | None = None) -> moto.dynamodb.models.dynamo_type.Item',
    ('moto.dynamodb.models:DynamoDBBackend', 'delete_item'):
        '(self, table_name: str, key: dict[str, typing.Any], expression_attribute_names: dict[str, typing.Any] | None = None, expression_attribute_values: dict[str, typing.Any] | None = None, condition_expression: str | None = None, return_values_on_condition_check_failure: str | None = None) -> moto.dynamodb.models.dynamo_type.Item | None',
    ('moto.dynamodb.models:DynamoDBBackend', 'query'):
        '(self, table_name: str, hash_key_dict: dict[str, typing.Any] | None, range_comparison: str | None, range_value_dicts: list[dict[str, typing.Any]], limit: int, exclusive_start_key: dict[str, typing.Any], scan_index_forward: bool, projection_expressions: list[list[str]] | None, index_name: str | None = None, consistent_read: bool = False, expr_names: dict[str, str] | None = None, expr_values: dict[str, dict[str, str]] | None = None, filter_expression: str | None = None, hash_key_conditions: list[tuple[str, dict[str, typing.Any]]] | None = None, range_key_conditions: list[tuple[str, str, list[dict[str, typing.Any]]]] | None = None, **filter_kwargs: Any) -> tuple[list[moto.dynamodb.models.dynamo_type.Item], int, dict[str, typing.Any] | None]',
    ('moto.dynamodb.models:DynamoDBBackend', 'scan'):
        '(self, table_name: str, filters: dict[str, typing.Any], limit: int, exclusive_start_key: dict[str, typing.Any], filter_expression: str | None, expr_names: dict[str, typing.Any], expr_values: dict[str, typing.Any], index_name: str, consistent_read: bool, projection_expression: list[list[str]] | None, segments: tuple[None, None] | tuple[int, int]) -> tuple[list[moto.dynamodb.models.dynamo_type.Item], int, dict[str, typing.Any] | None]',
    ('moto.dynamodb.models:DynamoDBBackend', 'update_continuous_backups'):
        '(self, table_name: str, point_in_time_spec: dict[str, typing.Any]) -> dict[str, typing.Any]',
    ('moto.dynamodb.models:DynamoDBBackend', 'update_time_to_live'):
        '(self, table_name: str, ttl_spec: dict[str, typing.Any]) -> None',
    ('moto.dynamodb.models:DynamoDBBackend', 'describe_time_to_live'):
        '(self, table_name: str) -> dict[str, typing.Any]',
    ('moto.dynamodb.models.table:Backup', 'status'): INSTANCE_ATTRIBUTE,
    ('moto.dynamodb.models:DynamoDBBackend', 'create_backup'):
        '(self, table_name: str, backup_name: str) -> moto.dynamodb.models.table.Backup',
    ('moto.dynamodb.models:DynamoDBBackend', 'delete_backup'):
        '(self, backup_arn: str) -> moto.dynamodb.models.table.Backup',
    ('moto.dynamodb.models:DynamoDBBackend', 'restore_table_from_backup'):
        '(self, target_table_name: str, backup_arn: str) -> moto.dynamodb.models.table.RestoredTable',
    ('moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component:InlineIterationComponent', '_eval_body'):
        "(self, env: 'Environment') -> 'None'",
    ('moto.cloudformation.responses', 'get_stack_from_s3_url'):
        '(template_url: str, account_id: str, partition: str) -> str',
    ('moto.iam.models:Role', 'create_from_cloudformation_json'):
        "(resource_name: 'str', cloudformation_json: 'dict[str, Any]', account_id: 'str', region_name: 'str', **kwargs: 'Any') -> 'Role'",
    ('moto.awslambda.models:LambdaFunction', 'create_from_cloudformation_json'):
        "(resource_name: 'str', cloudformation_json: 'dict[str, Any]', account_id: 'str', region_name: 'str', **kwargs: 'Any') -> 'LambdaFunction'",
    ('moto.awslambda.models:LambdaFunction', '_set_function_code'):
        "(self, updated_spec: 'dict[str, Any]') -> 'None'",
    ('moto.awslambda.models:LambdaFunction', 'delete'):
        "(self, account_id: 'str', region: 'str') -> 'None'",
    ('moto.stepfunctions.models:StateMachine', 'create_from_cloudformation_json'):
        "(resource_name: 'str', cloudformation_json: 'Any', account_id: 'str', region_name: 'str', **kwargs: 'Any') -> 'StateMachine'",
    ('moto.stepfunctions.models:StateMachine', 'delete_from_cloudformation_json'):
        "(resource_name: 'str', cloudformation_json: 'Any', account_id: 'str', region_name: 'str') -> 'None'",
    ('moto.stepfunctions.models:StateMachine', 'update_from_cloudformation_json'):
        "(original_resource: 'Any', new_resource_name: 'str', cloudformation_json: 'Any', account_id: 'str', region_name: 'str') -> 'StateMachine'",
    ('moto.cloudformation.models:CloudFormationBackend', 'create_stack'):
        "(self, name: 'str', template: 'str', parameters: 'dict[str, Any]', notification_arns: 'list[str] | None' = None, tags: 'dict[str, str] | None' = None, role_arn: 'str | None' = None, enable_termination_protection: 'bool | None' = False, timeout_in_mins: 'int | None' = None, stack_policy_body: 'str | None' = None) -> 'Stack'",
    ('moto.cloudformation.models:CloudFormationBackend', 'execute_change_set'):
        "(self, change_set_name: 'str', stack_name: 'str | None' = None) -> 'None'",
    ('moto.cloudformation.responses:CloudFormationResponse', 'create_stack_set'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.cloudformation.responses:CloudFormationResponse', 'update_stack_set'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.cloudformation.responses:CloudFormationResponse', 'delete_stack_set'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.cloudformation.responses:CloudFormationResponse', 'describe_stack_set'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.cloudformation.responses:CloudFormationResponse', 'list_stack_sets'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.cloudformation.responses:CloudFormationResponse', 'create_stack_instances'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.cloudformation.responses:CloudFormationResponse', 'update_stack_instances'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.cloudformation.responses:CloudFormationResponse', 'delete_stack_instances'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.cloudformation.responses:CloudFormationResponse', 'describe_stack_instance'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.cloudformation.responses:CloudFormationResponse', 'list_stack_instances'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.cloudformation.responses:CloudFormationResponse', 'describe_stack_set_operation'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.cloudformation.responses:CloudFormationResponse', 'list_stack_set_operations'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.cloudformation.responses:CloudFormationResponse', 'list_stack_set_operation_results'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.cloudformation.responses:CloudFormationResponse', 'stop_stack_set_operation'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.cloudformation.parsing', 'resource_class_from_type'):
        '(resource_type: str) -> type[moto.core.common_models.CloudFormationModel]',
    ('moto.dynamodb.models:DynamoDBBackend', 'tag_resource'):
        '(self, arn: str, tags: dict[str, str]) -> None',
    ('moto.iam.models:IAMBackend', 'create_role'):
        "(self, role_name: 'str', assume_role_policy_document: 'str', path: 'str', permissions_boundary: 'str | None', description: 'str', tags: 'list[dict[str, str]]', max_session_duration: 'str | None', linked_service: 'str | None' = None) -> 'Role'",
    ('moto.iam.responses:IamResponse', 'simulate_principal_policy'): ABSENT,
    ('moto.iam.models:IAMBackend', 'tag_role'):
        "(self, role_name: 'str', tags: 'list[dict[str, str]]') -> 'None'",
    ('moto.stepfunctions.responses:StepFunctionResponse', 'get_execution_history'):
        '(self) -> moto.core.responses.ActionResult',
    ('moto.awslambda_simple.models:LambdaSimpleBackend', 'invoke'):
        '(self, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any) -> str | bytes | None',
    ('moto.awslambda.responses:LambdaResponse', 'invoke'):
        '(self) -> tuple[int, dict[str, str], str | bytes]',
    ('moto.awslambda.models:LambdaFunction', 'update_configuration'):
        "(self, config_updates: 'dict[str, Any]') -> 'dict[str, Any]'",
    ('moto.awslambda_simple.models:LambdaSimpleBackend', 'create_function'):
        "(self, spec: 'dict[str, Any]') -> 'LambdaFunction'",
    ('moto.awslambda_simple.models:LambdaSimpleBackend', 'update_function_code'):
        "(self, function_name: 'str', qualifier: 'str', body: 'dict[str, Any]') -> 'dict[str, Any] | None'",
    ('moto.awslambda_simple.models:LambdaSimpleBackend', 'update_function_configuration'):
        "(self, function_name: 'str', qualifier: 'str', body: 'dict[str, Any]') -> 'dict[str, Any] | None'",
    ('moto.stepfunctions.parser.models:StepFunctionsParserBackend', 'start_execution'):
        '(self, state_machine_arn: str, name: str = None, execution_input: str = None, trace_header: str = None) -> moto.stepfunctions.parser.backend.execution.Execution',
    ('moto.stepfunctions.models:StateMachineInstance', '__deepcopy__'): ABSENT,
    ('moto.stepfunctions.parser.backend.execution:Execution', 'stop'):
        "(self, stop_date: 'datetime.datetime', error: 'str | None', cause: 'str | None')",
    ('moto.stepfunctions.parser.backend.execution:Execution', 'get_start_execution_details'):
        "(self) -> 'ExecutionDetails'",
    ('moto.stepfunctions.parser.backend.execution:BaseExecutionWorkerCommunication', 'terminated'):
        "(self) -> 'None'",
    ('moto.stepfunctions.parser.asl.eval.event.event_manager:EventManager', 'add_event'):
        "(self, context: 'EventHistoryContext', event_type: 'HistoryEventType', event_details: 'EventDetails | None' = None, timestamp: 'Timestamp' = None, update_source_event_id: 'bool' = True) -> 'int'",
    ('moto.stepfunctions.parser.asl.utils.json_path', 'parse'):
        "(path: 'str', debug: 'bool | None' = None) -> 'JSONPath'",
    ('moto.stepfunctions.parser.asl.component.common.path.result_path', 'parse'):
        "(string: 'str') -> 'JSONPath'",
    ('moto.stepfunctions.parser.models:StepFunctionsParserBackend', '_validate_definition'):
        '(definition: str)',
    ('moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils', 'boto_client_for'):
        '(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient',
    ('moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3', 'boto_client_for'):
        '(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient',
    ('moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3', 'boto_client_for'):
        '(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient',
    ('moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported', 'boto_client_for'):
        '(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient',
    ('moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_glue', 'boto_client_for'):
        '(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient',
    ('moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_events', 'boto_client_for'):
        '(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient',
    ('moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs', 'boto_client_for'):
        '(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient',
    ('moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sqs', 'boto_client_for'):
        '(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient',
    ('moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn', 'boto_client_for'):
        '(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient',
    ('moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb', 'boto_client_for'):
        '(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient',
}
