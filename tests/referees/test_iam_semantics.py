"""IAM semantics, not just lint: the table of claims in iam_claims.py, judged by iam-simulate over every
document `render` writes, for the shipped config and for one with named buckets and a customer-managed
key. Planted mistakes (a wildcard, a missing Deny, a trust without its ExternalId) must break claims.

One Node process judges each batch: the two configurations together, then all the plants together.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from iam_claims import Claim, Rendered, all_claims, broken_claims, documents_judged
from provisioner.config import Settings, resolve
from provisioner.blueprint.rendering import render_documents

REPO = Path(__file__).resolve().parents[2]
KEY = "arn:aws:kms:us-east-1:123456789012:key/12345678-1234-1234-1234-123456789012"


def _render(directory: Path, **overrides: Any) -> tuple[Rendered, Settings]:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for section, values in overrides.items():
        config[section].update(values)
    path = directory / "config.yaml"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    resolved = resolve(path, endpoint_url="http://127.0.0.1:1")
    render_documents(resolved, directory / "render")
    return Rendered(directory / "render"), resolved.settings


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Rendered, Settings]]:
    base = tmp_path_factory.mktemp("iam")
    return {
        "shipped config": _render(base / "shipped"),
        "named buckets, customer-managed key": _render(
            base / "named",
            sso={"readable_buckets": ["fileferry-uploads", "fileferry-reports"]},
            dynamodb={"kms_key_id": KEY},
        ),
    }


@pytest.fixture(scope="module")
def claims(variants: dict[str, tuple[Rendered, Settings]]) -> dict[str, list[Claim]]:
    return {name: all_claims(rendered, settings) for name, (rendered, settings) in variants.items()}


def test_every_claim_holds_for_every_document_render_writes(claims: dict[str, list[Claim]]) -> None:
    labelled = [Claim(f"[{name}] {c.what}", c.case, c.expected) for name, cs in claims.items() for c in cs]
    assert broken_claims(labelled) == []


def test_every_document_render_writes_is_judged(
    variants: dict[str, tuple[Rendered, Settings]], claims: dict[str, list[Claim]]
) -> None:
    for name, (rendered, _settings) in variants.items():
        assert rendered.stems() - documents_judged(claims[name], rendered) == set(), name


# -- planted mistakes break claims -----------------------------------------------------------------


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def _add_statement(statement: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda document: document["Statement"].append(statement)


def _drop_denies(document: dict[str, Any]) -> None:
    document["Statement"] = [s for s in document["Statement"] if s["Effect"] != "Deny"]


def _drop_conditions(document: dict[str, Any]) -> None:
    for statement in document["Statement"]:
        statement.pop("Condition", None)


def test_planted_mistakes_break_claims(variants: dict[str, tuple[Rendered, Settings]], tmp_path: Path) -> None:
    rendered, settings = variants["shipped config"]
    name, managed = f"{settings.provisioner.name}-{settings.dynamodb.region}", settings.sso.role_name  # <name>-<region>-<suffix>
    # (document stem, edit, a claim that must break)
    plants = {
        "wildcard dynamodb:* on * in a function role": (
            f"{name}-verify-fn.policy",
            _add_statement({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}),
            "reaches only its own resources",
        ),
        "iam:PassRole in the state machine's role": (
            f"{name}-states.policy",
            _add_statement({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}),
            "may not iam:PassRole",
        ),
        "the managed role without its Deny": (f"{managed}.policy", _drop_denies, "is explicitly denied s3:PutObject"),
        "wildcard dynamodb:* on * in the managed role": (
            f"{managed}.policy",
            _add_statement({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}),
            "on a sixth table",
        ),
        "the managed role's trust without its ExternalId": (f"{managed}.trust", _drop_conditions, "wrong sts:ExternalId"),
        "the operator's iam:PassRole without iam:PassedToService": (
            "operator.policy", _drop_conditions, "may not pass",
        ),
        "an execution role that may create any stack": (
            "fleet-execution.policy",
            _add_statement({"Effect": "Allow", "Action": "cloudformation:CreateStack", "Resource": "*"}),
            "may not create another stack",
        ),
        "a schedule role that starts any state machine": (
            f"{name}-scheduler.policy",
            _add_statement({"Effect": "Allow", "Action": "states:StartExecution", "Resource": "*"}),
            "reaches only its own resources",
        ),
    }
    batch: list[Claim] = []
    for plant, (stem, change, _expected) in plants.items():
        planted = tmp_path / plant.replace(" ", "-").replace("*", "star").replace(":", "")
        shutil.copytree(rendered.directory, planted)
        _edit(planted / "iam" / f"{stem}.json", change)
        role = stem.rsplit(".", 1)[0]
        batch += [Claim(f"[{plant}] {c.what}", c.case, c.expected)
                  for c in all_claims(Rendered(planted), settings) if c.what.startswith(f"{role} ")]
    broken = broken_claims(batch)
    for plant, (_stem, _change, expected) in plants.items():
        assert any(b.startswith(f"[{plant}]") and expected in b for b in broken), f"no claim caught: {plant}"
