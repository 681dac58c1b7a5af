"""Helpers of the studio browser tests: jobs to look at, and pages opened already signed in."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

import httpx

from support.server import API, WS, LiveServer, job_url

DS = f"{WS}/datastores/workspaceblobstore"
SUB, RG, WSNAME = "00000000-0000-0000-0000-000000000000", "rg1", "ws1"
XSS = "<img src=x onerror=window.__xss=1>"
TOKEN_KEY = "amlite.studio.token"

TRAIN = """
import argparse, time
import mlflow
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--layers", type=int, default=1)
p.add_argument("--steps", type=int, default=3)
p.add_argument("--sleep", type=float, default=0.0)
a = p.parse_args()
with mlflow.start_run():
    for step in range(a.steps):
        mlflow.log_metric("accuracy", a.lr * 10 + a.layers + step * 0.01, step=step)
        time.sleep(a.sleep)
"""

METRICS = """
import os, sys
import mlflow
print("<img src=x onerror=window.__xss=1> in the log", flush=True)
with mlflow.start_run():
    for step in range(10):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    for step in range(5):
        mlflow.log_metric("acc", 0.5 + step / 10, step=step)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as f:
    f.write("weights")
"""


def upload_code(c: httpx.Client, name: str = "studiocode") -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for fname, text in (("train.py", TRAIN), ("metrics.py", METRICS)):
            data = text.encode()
            info = tarfile.TarInfo(fname)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    resp = c.post(f"{DS}/upload?{API}&path=code/{name}", content=buf.getvalue())
    assert resp.status_code == 200, resp.text
    body = {"properties": {"datastoreId": DS, "path": f"code/{name}"}}
    assert c.put(f"{WS}/codes/{name}/versions/1?{API}", json=body).status_code in (200, 201)
    return f"{WS}/codes/{name}/versions/1"


def sweep_body(code_id: str, command: str, **props: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "jobType": "Sweep",
        "algorithm": "Grid",
        "compute": {},
        "experimentName": "ui-sweeps",
        "objective": {"primaryMetric": "accuracy", "goal": "Maximize"},
        "searchSpace": {"lr": ["choice", [[0.05]]], "layers": ["choice", [[3, 1]]]},
        "maxTotalTrials": 10,
        "maxConcurrentTrials": 2,
        "trial": {"command": command, "codeId": code_id},
    }
    base.update(props)
    return {"properties": base}


def put_job(c: httpx.Client, name: str, body: dict[str, Any], ws: str = WS) -> None:
    resp = c.put(f"{ws}/jobs/{name}?{API}", json=body)
    assert resp.status_code == 201, resp.text


def job_hash(name: str) -> str:
    return f"#/jobs{WS}/jobs/{name}"


def open_page(browser: Any, server: LiveServer, hash_: str = "#/", token: str | None = None) -> Any:
    """A new tab, signed in with ``token`` (the admin token by default), on ``hash_``."""
    # bypass_csp: Playwright's waits evaluate strings, which the studio's CSP forbids; it also
    # makes the text-not-markup checks stricter (no CSP to stop an injected handler)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True, bypass_csp=True
    )
    context.add_init_script(
        f"if (!sessionStorage.getItem('{TOKEN_KEY}') && !window.name) {{"
        f" sessionStorage.setItem('{TOKEN_KEY}', {_js(token or server.token)});"
        " window.name = 'signed-in'; }"
        f" localStorage.setItem('amlite.studio.workspace', {_js_ws()});"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.studio_errors = errors
    page.goto(f"{server.url}/{hash_}")
    return page


def _js(text: str) -> str:
    import json

    return json.dumps(text)


def _js_ws() -> str:
    import json

    return json.dumps(json.dumps({"sub": SUB, "rg": RG, "ws": WSNAME}))


def wait_ready(page: Any, kind: str, timeout: float = 15_000) -> None:
    page.wait_for_selector(f"#view[data-ready=true][data-page={kind}]", timeout=timeout)


def attrs(page: Any, selector: str) -> dict[str, str]:
    data: dict[str, str] = page.eval_on_selector(selector, "el => ({...el.dataset})")
    return data


def screenshot(page: Any, name: str) -> None:
    """Saved only when AMLITE_UI_SCREENSHOTS names a directory (docs/img for the docs)."""
    target = os.environ.get("AMLITE_UI_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / name), full_page=True)


def wait_job(c: httpx.Client, name: str, status: str, timeout: float = 120) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = c.get(job_url(name)).json()
        if body["properties"]["status"] == status:
            return body
        assert time.monotonic() < deadline, f"{name} is {body['properties']['status']}"
        time.sleep(0.1)
