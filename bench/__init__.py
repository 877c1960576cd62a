"""The benchmark: the provisioner against a plain sequential boto3 script, on the embedded AWS.

`python -m bench --help`; see docs/benchmark.md.
"""
