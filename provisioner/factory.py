"""Builds what the CLI commands need from the resolved configuration (chalice's CLIFactory)."""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambdas.core.desired import DesiredState
from provisioner.aws_clients import Clients, is_embedded_aws
from provisioner.config import ConfigError, Resolved
from provisioner.blueprint.desired_state import desired_state
from provisioner.blueprint.iam_documents import Arns
from provisioner.runs.executions import Follower, View

if TYPE_CHECKING:
    from provisioner.deployer import Deployer


class CLIFactory:
    def __init__(self, resolved: Resolved, local: bool = False, sleep: Callable[[float], None] = time.sleep):
        self.resolved = resolved
        self.local = local
        self.sleep = sleep
        self._clients: Clients | None = None
        self._desired: DesiredState | None = None

    def with_endpoint(self, endpoint_url: str) -> CLIFactory:
        aws = dataclasses.replace(self.resolved.aws, endpoint_url=endpoint_url)
        return CLIFactory(dataclasses.replace(self.resolved, aws=aws), local=True, sleep=self.sleep)

    @property
    def settings(self) -> Any:
        return self.resolved.settings

    def desired(self) -> DesiredState:
        if self._desired is None:
            self._desired = desired_state(self.settings)
        return self._desired

    def clients(self, operator_of_a_fleet: bool = False) -> Clients:
        """The clients; `operator_of_a_fleet`: the credentials' account need not be sso.account_id (the fleet's
        operator works from their own account, the targets are others)."""
        if self._clients is None:
            self._clients = Clients(self.resolved.aws, local=self.local)
            if not self.local and self._embedded_aws_without_credentials(self._clients):
                self._clients = Clients(self.resolved.aws, local=True)
            if not self.local and not operator_of_a_fleet:
                self._check_account(self._clients)
        return self._clients

    def _embedded_aws_without_credentials(self, clients: Clients) -> bool:
        """No credentials configured and --endpoint-url is the embedded AWS: it takes the keys --local uses."""
        endpoint = self.resolved.aws.endpoint_url
        if endpoint is None or clients.has_credentials() or not is_embedded_aws(endpoint):
            return False
        print(f"No AWS credentials found; {endpoint} is the embedded AWS, so using its test keys (as --local does)",
              file=sys.stderr, flush=True)
        return True

    def _check_account(self, clients: Clients) -> None:
        expected = self.settings.sso.account_id
        actual = clients.account_id
        if self.resolved.aws.endpoint_url is None and actual != expected:
            raise ConfigError(
                f"{self.resolved.config_path}: sso.account_id is {expected} but the credentials are for account {actual}"
            )

    def deployer(self) -> Deployer:
        from provisioner.deployer import Deployer  # packaging, the orchestrator's description: deploy and destroy only

        # The embedded AWS has no X-Ray daemon to send traces to.
        return Deployer(
            self.clients(), self.settings, self.desired(), tracing=not self.local, sleep=self.sleep,
            progress=lambda message: print(message, file=sys.stderr, flush=True),
        )

    def state_machine_arn(self) -> str:
        clients = self.clients()
        return Arns.for_state(self.desired(), clients.account_id, clients.partition).state_machine()

    def stack_set_deployment(self, progress: Callable[[str], None]) -> Any:
        from provisioner.fleet.stack_set import StackSetDeployment  # packaging and the template: fleet deploy only

        return StackSetDeployment(self.clients(operator_of_a_fleet=True), self.settings, self.desired(),
                                  sleep=self.sleep, progress=progress)

    def _target_sessions(self) -> Any:
        from provisioner.fleet.runs import TargetSessions

        return TargetSessions(self.clients(operator_of_a_fleet=True), self.settings.fleet.execution_role_name)

    def fleet_run(self, max_concurrent: int, failure_tolerance: int, on_end: Callable[[Any], None]) -> Any:
        from provisioner.fleet.runs import FleetRun

        return FleetRun(self._target_sessions(), self.settings.provisioner.name, max_concurrent, failure_tolerance,
                        sleep=self.sleep, on_end=on_end)

    def fleet_last_runs(self, targets: list[Any]) -> list[Any]:
        from provisioner.fleet.runs import last_runs

        return last_runs(self._target_sessions(), self.settings.provisioner.name, targets)

    def follower(self, view: View | None = None) -> Follower:
        return Follower(self.clients().stepfunctions, view=view, sleep=self.sleep, role_name=self.desired().role.name)
