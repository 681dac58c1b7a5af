"""A hostile job on a live server (bwrap sandbox) tries every way to the server's secrets
named in issue 9 and gets none of them; its own token still works for its own run."""

from __future__ import annotations

import json
from pathlib import Path

from support.server import (
    API,
    WS,
    LiveServer,
    command_body,
    job_url,
    read_artifact,
    upload_code,
    wait_status,
    wait_terminal,
)

ATTACK = r"""
import glob, json, os, re, shutil, urllib.error, urllib.request

home = os.environ["PROBE_HOME"]
server_pid = os.environ["PROBE_SERVER_PID"]
found = {}


def attempt(name, fn):
    try:
        found[name] = fn()
    except Exception as exc:
        found[name] = "ERROR " + type(exc).__name__


def read(path, mode="r"):
    with open(path, mode) as f:
        data = f.read()
    return data.decode("latin-1") if isinstance(data, bytes) else data


attempt("listing", lambda: sorted(os.listdir(home)))
attempt("token", lambda: read(os.path.join(home, "token")))
attempt("db", lambda: read(os.path.join(home, "amlite.db"), "rb"))
attempt("wal", lambda: read(os.path.join(home, "amlite.db-wal"), "rb"))
attempt("plans", lambda: {p: read(p) for p in glob.glob(home + "/runs/*/*/*/*/plan.json")})
attempt("victim_plan", lambda: read(os.environ["PROBE_VICTIM_PLAN"]))
attempt("own_plan", lambda: read(os.environ["PROBE_OWN_PLAN"]))
attempt("pgpass", lambda: read(os.environ["PROBE_USER_HOME"] + "/.pgpass"))
attempt("server_environ", lambda: read("/proc/%s/environ" % server_pid, "rb"))
attempt("server_cmdline", lambda: read("/proc/%s/cmdline" % server_pid, "rb"))
attempt("via_proc_root", lambda: read("/proc/%s/root%s/token" % (server_pid, home)))
attempt("proc_pids", lambda: sorted(p for p in os.listdir("/proc") if p.isdigit()))
os.makedirs("outputs", exist_ok=True)
attempt("hardlink", lambda: os.link(os.path.join(home, "token"), "outputs/token_link"))
attempt("copy", lambda: shutil.copy(os.path.join(home, "token"), "outputs/token_copy"))
attempt("symlink", lambda: os.symlink(os.path.join(home, "token"), "outputs/token_symlink"))
found["env"] = dict(os.environ)

# every token-shaped string it saw, and its own, against the admin-only LIST of jobs
base = os.environ["AMLITE_URL"]
seen = set(re.findall(r"aml[aj]_[A-Za-z0-9_-]{20,}", json.dumps(found)))
seen.add(os.environ["AZUREML_RUN_TOKEN"])
tries = {}
for token in sorted(seen):
    req = urllib.request.Request(
        base + os.environ["PROBE_LIST"], headers={"Authorization": "Bearer " + token}
    )
    try:
        tries[token] = urllib.request.urlopen(req, timeout=30).status
    except urllib.error.HTTPError as exc:
        tries[token] = exc.code
found["list_jobs"] = tries

# its own token still logs into its own run, over loopback
body = json.dumps({"run_id": os.environ["MLFLOW_RUN_ID"], "key": "probe", "value": 1.0,
                   "timestamp": 0, "step": 0}).encode()
req = urllib.request.Request(
    os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow/runs/log-metric", data=body,
    headers={"Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"],
             "Content-Type": "application/json"},
)
found["own_metric"] = urllib.request.urlopen(req, timeout=30).status
with open("outputs/found.json", "w") as f:
    json.dump(found, f)
"""


def _plan_path(home: Path, name: str) -> Path:
    matches = list(home.glob(f"runs/*/*/*/{name}/plan.json"))
    assert len(matches) == 1, matches
    return matches[0]


def _job_token(home: Path, name: str) -> str:
    token: str = json.loads(_plan_path(home, name).read_text())["env"]["AZUREML_RUN_TOKEN"]
    return token


def test_a_job_reaches_none_of_the_servers_secrets(server: LiveServer) -> None:
    c = server.client()
    assert c.put(job_url("victim"), json=command_body("sleep 60")).status_code == 201
    wait_status(c, "victim", "Running")
    victim_token = _job_token(server.home, "victim")
    assert server.proc is not None
    code = upload_code(c, "attack", {"attack.py": ATTACK})
    env = {
        "PROBE_HOME": str(server.home),
        "PROBE_SERVER_PID": str(server.proc.pid),
        "PROBE_VICTIM_PLAN": str(_plan_path(server.home, "victim")),
        "PROBE_OWN_PLAN": str(_plan_path(server.home, "victim")).replace("victim", "attacker"),
        "PROBE_LIST": f"{WS}/jobs?{API}",
        "PROBE_USER_HOME": str(server.home.parent / "userhome"),
    }
    body = command_body("python attack.py", codeId=code, environmentVariables=env)
    assert c.put(job_url("attacker"), json=body).status_code == 201
    done = wait_terminal(c, "attacker", timeout=120)
    assert done["properties"]["status"] == "Completed", read_artifact(
        c, "attacker", "user_logs/std_log.txt"
    )
    found = json.loads(read_artifact(c, "attacker", "outputs/found.json"))
    text = json.dumps(found)
    db = (server.home / "amlite.db").read_bytes()

    # nothing secret was read: not the admin token, not the victim's, not the database
    assert server.token not in text and victim_token not in text
    assert "SQLite format" not in text and db[:100].decode("latin-1") not in text
    # the home is empty but for the paths to the job's own directories (run, user_logs)
    assert found["listing"] == ["datastores", "runs"], found["listing"]
    assert "pgpass-secret" not in text
    for key in ("token", "db", "wal", "victim_plan", "own_plan", "via_proc_root", "pgpass"):
        assert str(found[key]).startswith("ERROR"), (key, found[key])
    assert found["plans"] == {}
    assert str(found["server_environ"]).startswith("ERROR")
    assert str(server.proc.pid) not in found["proc_pids"] or len(found["proc_pids"]) < 5
    for key in ("hardlink", "copy"):
        assert str(found[key]).startswith("ERROR"), (key, found[key])

    # no server setting or secret in its environment; its own token is there
    env_seen = found["env"]
    assert not [k for k in env_seen if k.startswith("AMLITE_") and k != "AMLITE_URL"], env_seen
    assert env_seen["AZUREML_RUN_TOKEN"].startswith("amlj_")

    # the tokens it holds cannot list jobs; its own token logs into its own run
    assert found["list_jobs"] and set(found["list_jobs"].values()) <= {401, 403}
    assert found["own_metric"] == 200
    metrics = c.get(f"{WS}/jobs/attacker/metrics?{API}").json()
    assert "probe" in json.dumps(metrics)

    # and nothing of the token can be downloaded from its outputs (the symlink it could
    # make points to a path the server does not follow out of the datastore)
    mlflow_artifacts = (
        "/mlflow/api/2.0/mlflow-artifacts/artifacts/00000000-0000-0000-0000-000000000000"
        "/rg1/ws1/attacker"
    )
    for name in ("token_link", "token_copy", "token_symlink"):
        resp = c.get(
            f"{WS}/datastores/workspaceblobstore/files/ExperimentRun/dcid.attacker/outputs/"
            f"{name}?{API}"
        )
        assert resp.status_code >= 400 and server.token not in resp.text, resp.text
        resp = c.get(f"{mlflow_artifacts}/{name}")
        assert resp.status_code >= 400 and server.token not in resp.text, resp.text
    c.post(f"{WS}/jobs/victim/cancel?{API}")
    wait_terminal(c, "victim")


def test_read_only_mount_is_read_only_and_outputs_are_writable(server: LiveServer) -> None:
    c = server.client()
    data = server.home / "datastores"
    code = upload_code(c, "data1", {"input.txt": "hello"})
    data_path = "LocalUpload/data1"
    asset = {"properties": {"path": f"azureml://datastores/workspaceblobstore/paths/{data_path}"}}
    assert c.put(f"{WS}/data/d1/versions/1?{API}", json=asset).status_code in (200, 201)
    inputs = {
        "ro": {"dataId": "azureml:d1:1", "mode": "ReadOnlyMount"},
        "rw": {"dataId": "azureml:d1:1", "mode": "ReadWriteMount"},
    }
    outputs = {"out": {"mode": "ReadWriteMount"}}
    command = (
        "cat ${{inputs.ro}}/input.txt > /dev/null"
        " && ! (echo x > ${{inputs.ro}}/new.txt) && echo ro-refused"
        " && echo rw > ${{inputs.rw}}/written.txt"
        " && echo out > ${{outputs.out}}/result.txt && touch /tmp/private && echo done"
    )
    body = command_body(command, codeId=code, inputDataBindings=inputs, outputDataBindings=outputs)
    assert c.put(job_url("mounts"), json=body).status_code == 201
    done = wait_terminal(c, "mounts", timeout=60)
    log = read_artifact(c, "mounts", "user_logs/std_log.txt")
    assert done["properties"]["status"] == "Completed", log
    assert "ro-refused" in log and "done" in log
    blob = data / "00000000-0000-0000-0000-000000000000"
    assert list(blob.glob(f"*/*/workspaceblobstore/{data_path}/written.txt"))
    assert not list(blob.glob(f"*/*/workspaceblobstore/{data_path}/new.txt"))
    results = list(blob.glob("*/*/workspaceblobstore/azureml/mounts/out/result.txt"))
    assert results and results[0].read_text() == "out\n"
    assert not Path("/tmp/private").exists()
