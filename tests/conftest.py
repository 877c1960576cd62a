"""Fixtures shared by every suite that needs the embedded AWS."""

import pytest

from local.emulator import Emulator


@pytest.fixture(scope="session")
def running_emulator(tmp_path_factory):
    """One embedded AWS per test process: moto's state is process-global, so there can be only one."""
    # Its own Lambda cache, so the function log files hold this session's lines only
    # (the default cache and its logs are shared by every emulator on the machine).
    with Emulator(port=0, cache_dir=tmp_path_factory.mktemp("lambda-cache")) as started:
        yield started
