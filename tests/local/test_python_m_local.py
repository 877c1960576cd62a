"""`python -m local`: the emulator as a process of its own, as `deploy.py local` and AWS CLI users run it."""

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def start_cli(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "local", *args],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "FILEFERRY_FAULTS": ""},
    )


def test_serves_aws_until_interrupted():
    process = start_cli("--port", "0", "--fault", "iam:CreateRole=AccessDenied", "--create-latency", "5",
                        "--backup-latency", "60", "--ttl-latency", "30", "--consistency-lag", "2",
                        "--chaos", "0.1", "--seed", "9")
    try:
        banner = process.stdout.readline()
        assert banner.startswith("embedded AWS ready: http://127.0.0.1:"), banner
        endpoint = banner.split(": ", 1)[1].strip()
        ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="any", aws_secret_access_key="any")
        created = ddb.create_table(
            TableName="sessions",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        assert created["TableDescription"]["TableStatus"] == "CREATING"
        with urllib.request.urlopen(f"{endpoint}/_fileferry/config") as response:
            assert json.load(response) == {"create_latency": 5.0, "backup_latency": 60.0, "ttl_latency": 30.0,
                                           "stack_instance_latency": 0.0, "consistency_lag": 2.0, "chaos": 0.1, "seed": 9}
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0


def test_a_bad_fault_spec_exits_2_naming_it():
    process = start_cli("--port", "0", "--fault", "dynamodb:CreateTable")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "bad fault spec 'dynamodb:CreateTable'" in stderr


def test_a_bad_timing_setting_exits_2_naming_it():
    process = start_cli("--port", "0", "--backup-latency", "nan")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "backup latency must be a number of seconds from 0 to 3600, got nan" in stderr
