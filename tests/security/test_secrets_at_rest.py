"""Secrets at rest: the home is 0700, its secret files and every plan 0600, an old home is
tightened at start; datastore secrets come back only from ``listSecrets`` (admin token)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from amlite.config import Settings
from amlite.services.home import secure_home
from support.server import API, WS, LiveServer, command_body, job_url, wait_status, wait_terminal


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_home_and_secret_files_are_owner_only(server: LiveServer) -> None:
    c = server.client()
    assert c.put(job_url("j1"), json=command_body("echo hi")).status_code == 201
    wait_terminal(c, "j1")
    home = server.home
    assert _mode(home) == 0o700
    for name in ("token", "amlite.db", "amlite.db-wal", "amlite.db-shm"):
        if (home / name).exists():
            assert _mode(home / name) == 0o600, name
    assert (home / "amlite.db").exists() and (home / "token").exists()
    plans = list(home.glob("runs/*/*/*/j1/plan.json"))
    assert plans and _mode(plans[0]) == 0o600


def test_an_existing_home_is_tightened(tmp_path: Path) -> None:
    home = tmp_path / "old"
    plan = home / "runs" / "s" / "rg" / "ws" / "job" / "plan.json"
    plan.parent.mkdir(parents=True)
    for path in (plan, home / "token", home / "amlite.db", home / "amlite.db-wal"):
        path.write_text("x")
        path.chmod(0o644)
    home.chmod(0o755)
    secure_home(Settings(home=home))
    assert _mode(home) == 0o700
    for path in (plan, home / "token", home / "amlite.db", home / "amlite.db-wal"):
        assert _mode(path) == 0o600, path


ACCOUNT_KEY = "c2VjcmV0LWFjY291bnQta2V5"
SAS = "sv=2020-08-04&ss=b&sig=abc"


def _blob_store(secrets: dict[str, str] | None, kind: str = "AccountKey") -> dict[str, object]:
    creds: dict[str, object] = {"credentialsType": kind}
    if secrets is not None:
        creds["secrets"] = secrets
    return {
        "properties": {
            "contents": {
                "contentsType": "AzureBlob",
                "accountName": "acct",
                "containerName": "data",
                "endpoint": "core.windows.net",
                "protocol": "https",
                "credentials": creds,
            }
        }
    }


def test_datastore_secrets_only_through_list_secrets(server: LiveServer) -> None:
    c = server.client()
    key_store = _blob_store({"secretsType": "AccountKey", "key": ACCOUNT_KEY})
    sas_store = _blob_store({"secretsType": "Sas", "sasToken": SAS}, "Sas")
    assert c.put(f"{WS}/datastores/keyed?{API}", json=key_store).status_code in (200, 201)
    assert c.put(f"{WS}/datastores/sas?{API}", json=sas_store).status_code in (200, 201)
    none_store = _blob_store(None, "None")
    assert c.put(f"{WS}/datastores/plain?{API}", json=none_store).status_code in (200, 201)
    for url in (
        f"{WS}/datastores/keyed?{API}",
        f"{WS}/datastores/sas?{API}",
        f"{WS}/datastores?{API}",
    ):
        resp = c.get(url)
        assert resp.status_code == 200
        assert ACCOUNT_KEY not in resp.text and SAS not in resp.text and "secrets" not in resp.text

    resp = c.post(f"{WS}/datastores/keyed/listSecrets?{API}")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"secretsType": "AccountKey", "key": ACCOUNT_KEY}
    assert c.post(f"{WS}/datastores/sas/listSecrets?{API}").json() == {
        "secretsType": "Sas",
        "sasToken": SAS,
    }
    assert c.post(f"{WS}/datastores/plain/listSecrets?{API}").json() == {"secretsType": "None"}
    missing = c.post(f"{WS}/datastores/nope/listSecrets?{API}")
    assert missing.status_code == 404 and missing.json()["error"]["code"]

    # a job's token cannot list them
    assert c.put(job_url("j2"), json=command_body("sleep 30")).status_code == 201
    wait_status(c, "j2", "Running")
    plans = list(server.home.glob("runs/*/*/*/j2/plan.json"))
    job_token = json.loads(plans[0].read_text())["env"]["AZUREML_RUN_TOKEN"]
    denied = server.client(job_token).post(f"{WS}/datastores/keyed/listSecrets?{API}")
    assert denied.status_code == 403 and ACCOUNT_KEY not in denied.text
    c.post(f"{WS}/jobs/j2/cancel?{API}")
    wait_terminal(c, "j2")
