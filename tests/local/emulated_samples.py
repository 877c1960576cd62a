"""What the embedded AWS's tests deploy: the account, trust and allow policies, the sample functions' zip."""

import io
import json
import zipfile
from pathlib import Path

from provisioner.blueprint.packaging import vendored_entries

REGION = "us-east-1"
LAMBDA_CODE = Path(__file__).with_name("lambda_code") / "sample_handlers.py"
EAGER_CODE = Path(__file__).with_name("lambda_code") / "eager_handler.py"
ACCOUNT = "123456789012"


def trust_policy(service):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    })


def allow_policy(actions, resources="*"):
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]})


LAMBDA_TRUST_POLICY = trust_policy("lambda.amazonaws.com")
# IAM is enforced on deployed functions: the sample handlers' role allows what they call.
SAMPLE_HANDLER_ACTIONS = ["dynamodb:ListTables", "dynamodb:CreateTable"]
STATES_ROLE = f"arn:aws:iam::{ACCOUNT}:role/sample-states-role"
EVENTS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/events-start-rollback"


def zipped_handlers(handlers_source: str, *, vendored: bool = True) -> bytes:
    """A function zip: testpkg/handlers.py with this source, testpkg/eager.py and, like the provisioner's
    own package, powertools and the rest of what it vendors (the runtime provides only boto3)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("testpkg/__init__.py", "")
        archive.writestr("testpkg/handlers.py", handlers_source)
        archive.writestr("testpkg/eager.py", EAGER_CODE.read_text())
        for arcname, data in vendored_entries() if vendored else []:
            archive.writestr(arcname, data)
    return buffer.getvalue()
