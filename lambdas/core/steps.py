"""The Lambda functions behind the state machine's Task states.

One entry per step: its name (the function is deployed as `<provisioner name>-<step>`),
its handler, and the placeholder that stands for its ARN in the committed ASL. Deploy
replaces each placeholder with the deployed function's ARN.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    name: str
    handler: str
    timeout_seconds: int = 60

    @property
    def placeholder(self) -> str:
        words = "".join(part.capitalize() for part in self.name.split("-"))
        return "${" + words + "FunctionArn}"

    def function_name(self, provisioner_name: str) -> str:
        return f"{provisioner_name}-{self.name}"


STEPS: tuple[Step, ...] = (
    Step("validate-input", "lambdas.handlers.validate_input.handler"),
    Step("create-or-adopt-table", "lambdas.handlers.create_or_adopt_table.handler"),
    Step("await-table", "lambdas.handlers.await_table.handler"),
    Step("ensure-role", "lambdas.handlers.ensure_role.handler"),
    Step("prove-access", "lambdas.handlers.prove_access.handler"),
    Step("verify", "lambdas.handlers.verify.handler"),
    Step("rollback", "lambdas.handlers.rollback.handler", timeout_seconds=120),
    Step("drift-check", "lambdas.handlers.drift_check.handler", timeout_seconds=120),
    Step("teardown-table", "lambdas.handlers.teardown_table.handler"),
    Step("teardown-role", "lambdas.handlers.teardown_role.handler"),
)

STEPS_BY_NAME: dict[str, Step] = {step.name: step for step in STEPS}


def step(name: str) -> Step:
    return STEPS_BY_NAME[name]


# Steps of earlier versions: deploy removes their functions and roles (the poll and TTL steps
# became one, await-table, so a first run meets one cold function fewer).
RETIRED_STEP_NAMES: tuple[str, ...] = ("describe-table", "enable-ttl")
