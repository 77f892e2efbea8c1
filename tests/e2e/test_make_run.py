"""`make run` as a newcomer uses it: `jiban dev` starts everything, serves, and Ctrl-C stops it
all, leaving no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from jiban.local_infra import free_port
from shared.identity import DEV_JWT_SECRET, issue_dev_token
from shared.migrations import ALL_SERVICES, CONSOLE

pytestmark = pytest.mark.e2e


def test_dev_stack_serves_an_appeal_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path, dev_ports: None
) -> None:
    ports = {name: free_port() for name in ALL_SERVICES}
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    env.update({f"JIBAN_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env["JIBAN_DEV_MODE"] = "1"
    out = (tmp_path / "dev.log").open("wb")
    dev = subprocess.Popen(
        [sys.executable, "-m", "jiban.cli", "dev"],
        cwd=tmp_path,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log = tmp_path / "dev.log"
    try:
        deadline = time.monotonic() + 120
        while "all five services are ready" not in log.read_text(errors="replace"):
            assert dev.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        text = log.read_text(errors="replace")
        assert "fresh" in text  # it says the embedded stores start empty
        for name, port in ports.items():
            page = "/" if name == CONSOLE else "/docs"
            assert f"http://127.0.0.1:{port}{page}" in text
        children = psutil.Process(dev.pid).children(recursive=True)
        assert len(children) >= 7  # four services, the console, Postgres, the broker
        # The console's development sign-in lists the demo directory's people.
        sign_in = httpx.get(f"http://127.0.0.1:{ports[CONSOLE]}/sign-in")
        assert sign_in.status_code == 200
        assert sign_in.text.count('name="officer_id"') >= 10

        base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        # `jiban dev` runs in development mode: an ops token signed with the dev secret.
        token = issue_dev_token(DEV_JWT_SECRET, sub="ops", roles=["ops"])
        signed_in = {"Authorization": f"Bearer {token}"}
        enterprise = httpx.get(
            base["dispatch"] + "/v1/enterprises?limit=1", headers=signed_in
        ).json()["items"][0]
        accepted = httpx.post(
            base["intake"] + "/v1/appeals",
            json={
                "channel": "web",
                "external_id": "dev-smoke-1",
                "appellant": {
                    "name": "周女士",
                    "phone": "13600001111",
                    "enterprise_credit_code": enterprise["credit_code"],
                },
                "content": "新厂房用电报装进度咨询",
                "location": {"community": enterprise["community"]},
            },
        )
        assert accepted.status_code == 202
        appeal_id = accepted.json()["appeal_id"]
        deadline = time.monotonic() + 10
        while True:
            view = httpx.get(base["tracking"] + f"/v1/appeals/{appeal_id}", headers=signed_in)
            if view.status_code == 200 and view.json()["status"] == "assigned":
                break
            assert time.monotonic() < deadline, view.text
            time.sleep(0.1)
        assert view.json()["officer_id"] == enterprise["cso_officer_id"]
    finally:
        if dev.poll() is None:
            os.kill(dev.pid, signal.SIGINT)
        code = dev.wait(60)
    assert code == 0, log.read_text(errors="replace")[-3000:]
    assert "services stopped" in log.read_text(errors="replace")
    assert all(not c.is_running() or c.status() == psutil.STATUS_ZOMBIE for c in children)
