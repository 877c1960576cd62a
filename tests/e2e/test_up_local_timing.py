"""`deploy.py up --local` hands its timing flags to the embedded AWS it provisions on."""

import json
import urllib.request


def test_up_local_on_a_running_embedded_aws_applies_the_timing_flags_to_it(aws, cli):
    lag = aws.consistency.seconds
    code, out = cli("up", "--local", "--port", str(aws.port), "--backup-latency", "90", "--ttl-latency", "7")

    assert code == 0, out
    with urllib.request.urlopen(f"{aws.endpoint_url}/_fileferry/config") as response:
        timing = json.load(response)
    assert (timing["backup_latency"], timing["ttl_latency"]) == (90.0, 7.0)
    assert timing["consistency_lag"] == lag  # a flag not given changes nothing


def test_up_local_on_a_running_embedded_aws_applies_the_lag_and_chaos_flags_to_it(aws, cli):
    code, out = cli("up", "--local", "--port", str(aws.port), "--consistency-lag", "0", "--chaos", "0.02", "--seed", "17")

    assert code == 0, out
    with urllib.request.urlopen(f"{aws.endpoint_url}/_fileferry/config") as response:
        settings = json.load(response)
    assert (settings["consistency_lag"], settings["chaos"], settings["seed"]) == (0.0, 0.02, 17)
    with urllib.request.urlopen(f"{aws.endpoint_url}/_fileferry/chaos") as response:
        assert json.load(response)["calls"] > 0  # the run's functions met the chaos
