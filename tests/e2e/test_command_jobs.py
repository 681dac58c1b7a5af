"""Real command jobs through a real server: environment, placeholders, data bindings, logs,
timeouts, cancel, failures, and a server killed mid-job."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from amlite.executors.supervisor.procs import pid_alive
from support.server import (
    API,
    WS,
    LiveServer,
    command_body,
    history,
    job_url,
    read_artifact,
    wait_status,
    wait_terminal,
)

DS = f"{WS}/datastores/workspaceblobstore"


def upload(c: httpx.Client, files: dict[str, str], remote: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    resp = c.post(f"{DS}/upload?{API}&path={remote}", content=buf.getvalue())
    assert resp.status_code == 200, resp.text


def put_ok(c: httpx.Client, url: str, body: dict) -> dict:
    resp = c.put(url, json=body)
    assert resp.status_code in (200, 201), resp.text
    return resp.json()


def register_code_and_data(c: httpx.Client) -> None:
    upload(c, {"train.py": TRAIN, "lib/helper.py": "VALUE = 41\n"}, "LocalUpload/code1")
    put_ok(
        c,
        f"{WS}/codes/train/versions/1?{API}",
        {"properties": {"datastoreId": DS, "path": "LocalUpload/code1"}},
    )
    upload(c, {"iris.csv": "a,b\n1,2\n3,4\n"}, "data/iris")
    put_ok(
        c,
        f"{WS}/data/iris/versions/1?{API}",
        {"properties": {"datastoreId": DS, "path": "data/iris/iris.csv"}},
    )
    put_ok(
        c,
        f"{WS}/data/folder/versions/1?{API}",
        {"properties": {"path": "azureml://datastores/workspaceblobstore/paths/data/iris"}},
    )


TRAIN = """
import os, sys
sys.path.insert(0, "lib")
from helper import VALUE
print("value", VALUE + 1)
print("args", sys.argv[1:])
for key in sorted(os.environ):
    if key.startswith(("AZUREML_", "AZURE_ML_", "MLFLOW_", "MY_")):
        print(f"{key}={os.environ[key]}")
os.makedirs("outputs", exist_ok=True)
open("outputs/model.txt", "w").write("trained")
os.makedirs("logs", exist_ok=True)
open("logs/extra.log", "w").write("log line")
"""


def env_of(log: str) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in log.splitlines()
        if "=" in line and not line.startswith("args")
    )


def test_code_env_vars_placeholders_inputs_and_outputs(server: LiveServer) -> None:
    with server.client() as c:
        register_code_and_data(c)
        body = command_body(
            "python train.py --data ${{inputs.iris}} --old {inputs.folder} "
            "--out ${{outputs.model}}",
            codeId=f"{WS}/codes/train/versions/1",
            environmentVariables={"MY_VAR": "mine", "AZUREML_RUN_ID": "spoofed"},
            experimentName="exp1",
            inputDataBindings={
                "iris": {"dataId": f"{WS}/data/iris/versions/1", "mode": "Download"},
                "folder": {"dataId": "azureml:folder:1", "mode": "ReadOnlyMount"},
                "uri": {"dataId": f"{WS}/data/iris/versions/1", "mode": "Direct"},
            },
            outputDataBindings={"model": {"mode": "Upload", "pathOnDatastore": "models/m1"}},
        )
        put_ok(c, job_url("full"), body)
        done = wait_terminal(c, "full")
        log = read_artifact(c, "full", "user_logs/std_log.txt")
        assert done["properties"]["status"] == "Completed", log
        assert "value 42" in log
        env = env_of(log)
        assert env["MY_VAR"] == "mine"
        assert env["AZUREML_RUN_ID"] == "full"  # the runtime's value wins
        assert env["MLFLOW_RUN_ID"] == "full"
        assert env["AZUREML_ARM_WORKSPACE_NAME"] == "ws1"
        assert env["AZUREML_ARM_RESOURCEGROUP"] == "rg1"
        assert env["AZUREML_ARM_PROJECT_NAME"] == "exp1"
        assert env["MLFLOW_TRACKING_URI"].startswith(server.url)
        assert env["AZUREML_RUN_TOKEN"] == env["MLFLOW_TRACKING_TOKEN"] != server.token
        assert Path(env["AZURE_ML_INPUT_iris"]).name == "iris.csv"
        assert "data/iris" in env["AZURE_ML_INPUT_uri"]
        args = next(line for line in log.splitlines() if line.startswith("args"))
        assert env["AZURE_ML_INPUT_iris"] in args
        assert env["AZURE_ML_INPUT_folder"] in args
        assert env["AZURE_ML_OUTPUT_model"] in args
        # ./outputs and ./logs were collected
        assert read_artifact(c, "full", "outputs/model.txt") == "trained"
        assert read_artifact(c, "full", "logs/extra.log") == "log line"
        # the Download input was a copy; the mount pointed at the datastore
        home = server.home
        assert not Path(env["AZURE_ML_INPUT_iris"]).is_symlink()
        assert str(home) in os.path.realpath(env["AZURE_ML_INPUT_folder"])


def test_output_modes_write_to_the_datastore(server: LiveServer) -> None:
    with server.client() as c:
        cmd = (
            "echo rw > ${{outputs.rw}}/a.txt && echo up > ${{outputs.up}}/b.txt && "
            "test -f " + "${{outputs.rw}}/a.txt"
        )
        body = command_body(
            cmd,
            outputDataBindings={
                "rw": {"mode": "ReadWriteMount"},
                "up": {"mode": "Upload", "pathOnDatastore": "exports/up"},
            },
        )
        put_ok(c, job_url("outs"), body)
        assert wait_terminal(c, "outs")["properties"]["status"] == "Completed"
        a = c.get(f"{DS}/files/azureml/outs/rw/a.txt?{API}")
        assert a.status_code == 200 and a.text == "rw\n"
        b = c.get(f"{DS}/files/exports/up/b.txt?{API}")
        assert b.status_code == 200 and b.text == "up\n"


def test_non_zero_exit_fails_with_the_exit_code(server: LiveServer) -> None:
    with server.client() as c:
        put_ok(c, job_url("boom"), command_body("echo about to fail; exit 3"))
        done = wait_terminal(c, "boom")
        assert done["properties"]["status"] == "Failed"
        events = history(c, "boom")
        assert events["exitCode"] == 3
        assert "3" in events["reason"]
        assert "about to fail" in read_artifact(c, "boom", "user_logs/std_log.txt")


def test_timeout_kills_the_whole_process_tree(server: LiveServer) -> None:
    # the grandchild is found by its command line: in the sandbox its $$ is another pid
    unique = f"{300 + os.getpid() % 1000 / 1000:.3f}"
    cmd = f"bash -c 'trap \"\" TERM; touch started; sleep {unique}' & sleep 300"
    with server.client() as c:
        put_ok(c, job_url("slow"), command_body(cmd, timeout="PT5S"))
        started = server.home / "runs"
        deadline = time.monotonic() + 30
        while not list(started.glob("*/*/*/slow/wd/started")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _pids_running("sleep", unique), "the grandchild did not start"
        done = wait_terminal(c, "slow", timeout=60)
        assert done["properties"]["status"] == "Canceled"
        events = history(c, "slow")
        assert "timeout" in (events["reason"] or "")
        assert _until(lambda: not _pids_running("sleep", unique)), (
            "the grandchild ignoring SIGTERM survived"
        )


def _until(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    """Whether ``condition`` holds within ``timeout`` seconds (looked at every 20 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _pids_running(*argv: str) -> list[int]:
    """Live (not zombie) processes whose command line is ``argv``."""
    want = ("\0".join(argv) + "\0").encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if f.read() == want and pid_alive(int(entry)):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def test_a_server_killed_mid_job_is_reconciled_on_restart(
    server: LiveServer, tmp_path: Path
) -> None:
    cmd = "while [ ! -f go ]; do sleep 0.05; done; echo survived"
    with server.client() as c:
        put_ok(c, job_url("survivor"), command_body(cmd))
        put_ok(c, job_url("queued-later"), command_body("echo second"))
        wait_status(c, "survivor", "Running")
    server.kill()
    wd = server.job_dir("survivor")
    (wd / "go").write_text("1")  # it finishes while no server runs
    assert _until(lambda: (wd.parent / "result.json").exists())
    server.start()
    with server.client() as c:
        done = wait_terminal(c, "survivor", timeout=30)
        assert done["properties"]["status"] == "Completed"
        assert "survived" in read_artifact(c, "survivor", "user_logs/std_log.txt")
        assert wait_terminal(c, "queued-later")["properties"]["status"] == "Completed"
        statuses = [e["status"] for e in history(c, "survivor")["value"]]
        assert statuses.count("Running") == 1  # not run twice


def test_a_job_whose_process_vanished_is_failed_with_that_reason(server: LiveServer) -> None:
    with server.client() as c:
        put_ok(c, job_url("victim"), command_body("echo started; sleep 60"))
        wait_status(c, "victim", "Running")
        log_url = f"{DS}/files/ExperimentRun/dcid.victim/user_logs/std_log.txt?{API}"
        while "started" not in c.get(log_url).text:
            time.sleep(0.05)
    server.kill()
    run_dir = next(server.home.glob("runs/*/*/*/victim"))
    pid = int((run_dir / "supervisor.pid").read_text().split()[0])
    sys_log = read_log(server, "victim", "system_logs/supervisor.log")
    command_pid = int(sys_log.split("command started, pid ")[1].split()[0])
    os.killpg(command_pid, 9)  # the command runs in its own process group
    os.killpg(os.getpgid(pid), 9)  # supervisor dies without writing a result
    server.start()
    with server.client() as c:
        done = wait_terminal(c, "victim", timeout=30)
        assert done["properties"]["status"] == "Failed"
        assert "vanished" in history(c, "victim")["reason"]


def read_log(server: LiveServer, job: str, path: str) -> str:
    base = server.home / "datastores" / "00000000-0000-0000-0000-000000000000" / "rg1" / "ws1"
    return (base / "workspaceblobstore" / "ExperimentRun" / f"dcid.{job}" / path).read_text()


def test_priority_orders_the_queue(tmp_path: Path) -> None:
    srv = LiveServer(tmp_path / "home", slots=1).start()
    try:
        with srv.client() as c:
            put_ok(
                c,
                job_url("blocker"),
                command_body("while [ ! -f go ]; do sleep 0.05; done"),
            )
            wait_status(c, "blocker", "Running")
            put_ok(c, job_url("low"), command_body("true", priority=1))
            put_ok(c, job_url("high"), command_body("true", priority=5))
            put_ok(c, job_url("mid"), command_body("true", priority=3))
            (srv.job_dir("blocker") / "go").write_text("")
            for name in ("low", "high", "mid"):
                wait_terminal(c, name)

            def started(name: str) -> str:
                return next(e["at"] for e in history(c, name)["value"] if e["status"] == "Running")

            assert started("high") < started("mid") < started("low")
    finally:
        srv.stop()


def test_upload_refuses_path_traversal_and_writes_nothing(server: LiveServer) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ("ok.txt", "../escape.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
    with server.client() as c:
        resp = c.post(f"{DS}/upload?{API}&path=up1", content=buf.getvalue())
        assert resp.status_code == 400
        assert resp.json()["error"]["target"] == "body"
        assert c.get(f"{DS}/list?{API}&path=up1").json()["value"] == []
        resp = c.put(f"{DS}/files/../../etc/x?{API}", content=b"x")
        assert resp.status_code in (400, 404)
        bad = command_body("true", inputDataBindings={"x": {"pathOnCompute": "../../etc"}})
        resp = c.put(job_url("trav"), json=bad)
        assert resp.status_code == 400
        assert json.dumps(resp.json()).count("pathOnCompute") >= 1


def test_a_multi_process_job_waits_for_enough_slots_and_says_why(tmp_path: Path) -> None:
    srv = LiveServer(tmp_path / "home", slots=2).start()
    try:
        with srv.client() as c:
            put_ok(c, job_url("one"), command_body("while [ ! -f go ]; do sleep 0.05; done"))
            wait_status(c, "one", "Running")
            gate = srv.job_dir("one") / "go"
            dist = command_body(
                "echo rank $RANK", distribution={"distributionType": "PyTorch", "processCount": 2}
            )
            put_ok(c, job_url("two"), dist)
            put_ok(c, job_url("small"), command_body("true"))
            # a negative check (nothing may start meanwhile): no condition to wait on
            time.sleep(1.5)  # a few scheduler rounds
            assert c.get(job_url("two")).json()["properties"]["status"] == "Queued"
            assert history(c, "two")["queueReason"] == "needs 2 local slots; 1 of 2 free"
            # the small job behind it does not overtake it
            assert c.get(job_url("small")).json()["properties"]["status"] == "Queued"
            gate.write_text("")
            assert wait_terminal(c, "two")["properties"]["status"] == "Completed"
            assert wait_terminal(c, "small")["properties"]["status"] == "Completed"
            assert history(c, "two")["queueReason"] is None
    finally:
        srv.stop()


def test_a_job_queued_on_a_deleted_compute_fails_saying_so(tmp_path: Path) -> None:
    srv = LiveServer(tmp_path / "home", slots=1).start()
    try:
        with srv.client() as c:
            body = {"properties": {"computeType": "AmlCompute"}}
            assert c.put(f"{WS}/computes/cpu1?{API}", json=body).status_code == 201
            assert c.put(job_url("holder"), json=command_body("sleep 60")).status_code == 201
            wait_status(c, "holder", "Running")
            waiting = command_body("true", compute={"target": "cpu1"})
            assert c.put(job_url("orphan"), json=waiting).status_code == 201
            assert c.delete(f"{WS}/computes/cpu1?{API}").status_code in (200, 204)
            c.post(f"{WS}/jobs/holder/cancel?{API}")
            done = wait_terminal(c, "orphan", timeout=30)
            assert done["properties"]["status"] == "Failed"
            assert "the compute 'cpu1' no longer exists" in (history(c, "orphan")["reason"] or "")
    finally:
        srv.stop()
