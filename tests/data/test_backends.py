"""Datastore backends: which backend a datastore gets, endpoint mapping, the default-datastore
URL, safe blob names, and the supervisor's SAS transfers against a real Azurite."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest

from amlite.data.backends import (
    AzureBlobContainer,
    BlobAccount,
    LocalDirectory,
    account_url,
    blob_account,
    blob_name,
    default_datastore_body,
)
from amlite.data.paths import PathEscapeError
from amlite.executors.supervisor import blobs, steps, sync
from amlite.executors.supervisor.control import SystemLog
from support.azurite import ACCOUNT, KEY, Azurite


def _body(creds: dict) -> dict:
    return {
        "contents": {
            "contentsType": "AzureBlob",
            "accountName": "acct",
            "containerName": "c",
            "endpoint": "core.windows.net",
            "protocol": "https",
            "credentials": creds,
        }
    }


def test_only_blob_datastores_with_a_secret_are_real_containers() -> None:
    assert blob_account(_body({"credentialsType": "None"})) is None
    assert blob_account(_body({"credentialsType": "AccountKey"})) is None
    keyed = blob_account(
        _body(
            {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey", "key": "k"}}
        )
    )
    assert keyed is not None and keyed.account_key == "k" and "k" not in repr(keyed)
    sas = blob_account(
        _body({"credentialsType": "sas", "secrets": {"secretsType": "Sas", "sasToken": "?sv=1"}})
    )
    assert sas is not None and sas.sas_token == "?sv=1"


@pytest.mark.parametrize(
    ("endpoint", "protocol", "url"),
    [
        ("core.windows.net", "https", "https://acct.blob.core.windows.net"),
        ("core.chinacloudapi.cn", "", "https://acct.blob.core.chinacloudapi.cn"),
        ("127.0.0.1:10000", "http", "http://127.0.0.1:10000/acct"),
        ("localhost:10000", "http", "http://localhost:10000/acct"),
        ("10.1.2.3", "HTTP", "http://10.1.2.3/acct"),
    ],
)
def test_endpoint_mapping(endpoint: str, protocol: str, url: str) -> None:
    assert account_url("acct", endpoint, protocol) == url


def test_default_datastore_url() -> None:
    body = default_datastore_body(
        "azureblob://acct/ws?endpoint=127.0.0.1:10000&protocol=http",
        account_key="k",
        sas_token=None,
    )
    contents = body["contents"]
    assert (contents["accountName"], contents["containerName"]) == ("acct", "ws")
    assert (contents["endpoint"], contents["protocol"]) == ("127.0.0.1:10000", "http")
    assert contents["credentials"]["secrets"]["key"] == "k"
    for url, key, sas, problem in [
        ("s3://acct/ws", "k", None, "azureblob://"),
        ("azureblob://acct", "k", None, "azureblob://"),
        ("azureblob://acct/a/b", "k", None, "azureblob://"),
        ("azureblob://acct/ws?key=secret", "k", None, "unknown"),
        ("azureblob://acct/ws?protocol=ftp", "k", None, "protocol"),
        ("azureblob://acct/ws", None, None, "exactly one secret"),
        ("azureblob://acct/ws", "k", "sas", "exactly one secret"),
    ]:
        with pytest.raises(ValueError, match=problem):
            default_datastore_body(url, account_key=key, sas_token=sas)


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a/../../b", "a\0b", "C:/x"])
def test_blob_names_refuse_escapes(bad: str) -> None:
    with pytest.raises(PathEscapeError):
        blob_name(bad)


def test_blob_names_are_normalized() -> None:
    assert blob_name("") == "" and blob_name(".") == ""
    assert blob_name("a//b/./c/") == "a/b/c"
    assert blob_name("a\\b") == "a/b"


def test_local_directory(tmp_path: Path) -> None:
    store = LocalDirectory(tmp_path / "ds")
    store.write("a/b.txt", io.BytesIO(b"hello"))
    assert store.read("a/b.txt", 1, 3) == (b"ell", 5)
    assert store.read("a/none", 0, 3) is None
    assert [(f.path, f.size) for f in store.list_files("a")] == [("b.txt", 5)]
    assert [(f.path, f.size) for f in store.list_files("a/b.txt")] == [("b.txt", 5)]
    store.delete_prefix("a")
    assert store.list_files("") == []
    with pytest.raises(PathEscapeError):
        store.read("../x", 0, 1)


def _container(azurite: Azurite, name: str) -> AzureBlobContainer:
    account = BlobAccount(ACCOUNT, name, azurite.endpoint, "http", account_key=KEY)
    container = AzureBlobContainer(account)
    container.ensure_container()
    return container


def test_supervisor_transfers_with_scoped_sas(
    azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = _container(azurite, "transfers")
    src = tmp_path / "src"
    (src / "deep").mkdir(parents=True)
    (src / "small.txt").write_bytes(b"small")
    big = bytes(range(256)) * 40  # 10 KiB: several blocks with the limits below
    (src / "deep" / "big.bin").write_bytes(big)
    (src / "link").symlink_to(src / "small.txt")  # symlinks are not uploaded
    monkeypatch.setattr(blobs, "BLOB_SINGLE_PUT", 4096)
    monkeypatch.setattr(blobs, "BLOB_BLOCK", 3000)

    write_url = container.signed_url("out/run1", write=True, valid_for=timedelta(minutes=5))
    steps.run_step({"op": "blob_upload", "src": str(src), "dst": write_url}, str(tmp_path))
    names = {f.path: f.size for f in container.list_files("out/run1")}
    assert names == {"small.txt": 5, "deep/big.bin": len(big)}

    read_url = container.signed_url("out/run1", write=False, valid_for=timedelta(minutes=5))
    steps.run_step(
        {"op": "blob_download", "src": read_url, "dst": str(tmp_path / "dl")}, str(tmp_path)
    )
    assert (tmp_path / "dl" / "deep" / "big.bin").read_bytes() == big
    one = container.signed_url("out/run1/small.txt", write=False, valid_for=timedelta(minutes=5))
    steps.run_step(
        {"op": "blob_download", "src": one, "dst": str(tmp_path / "one.txt")}, str(tmp_path)
    )
    assert (tmp_path / "one.txt").read_bytes() == b"small"

    # a read SAS cannot write, and errors never show the SAS
    monkeypatch.setattr(blobs, "_uploaded", {})  # forget what was uploaded: upload again
    with pytest.raises(OSError, match="403") as err:
        steps.run_step({"op": "blob_upload", "src": str(src), "dst": read_url}, str(tmp_path))
    assert "sig=" not in str(err.value)
    with pytest.raises(FileNotFoundError):
        nothing = container.signed_url("no/such", write=False, valid_for=timedelta(minutes=5))
        steps.run_step(
            {"op": "blob_download", "src": nothing, "dst": str(tmp_path / "x")}, str(tmp_path)
        )


def test_outputs_are_uploaded_while_the_job_runs_changed_files_only(
    azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blobs, "_uploaded", {})
    container = _container(azurite, "periodic")
    named = container.signed_url("named/out", write=True, valid_for=timedelta(minutes=5))
    artifacts_url = container.signed_url("runs/r1", write=True, valid_for=timedelta(minutes=5))
    wd, artifacts, out = tmp_path / "wd", tmp_path / "artifacts", tmp_path / "out"
    for folder in (wd / "outputs", artifacts / "user_logs", out):
        folder.mkdir(parents=True)
    finalize = [
        {"op": "blob_upload", "src": str(out), "dst": named},
        {"op": "copy_into", "src": str(wd / "outputs"), "dst": str(artifacts / "outputs")},
        {"op": "blob_upload", "src": str(artifacts), "dst": artifacts_url},
    ]
    pairs = sync.sync_pairs(finalize)
    assert [src for src, _ in pairs] == [str(out), str(artifacts), str(wd / "outputs")]
    assert pairs[2][1].endswith("#runs/r1/outputs")

    (wd / "outputs" / "a.txt").write_text("a")
    (out / "model.txt").write_text("m")
    (artifacts / "user_logs" / "std_log.txt").write_text("line 1")
    log = SystemLog(str(tmp_path / "supervisor.log"))
    syncer = sync.OutputSync(pairs, 60, log, confine=str(tmp_path))
    assert syncer.sync_once() == 3
    assert {f.path for f in container.list_files("runs/r1")} == {
        "outputs/a.txt",
        "user_logs/std_log.txt",
    }
    assert [f.path for f in container.list_files("named/out")] == ["model.txt"]

    written = [wd / "outputs" / "a.txt", out / "model.txt", artifacts / "user_logs" / "std_log.txt"]
    for path in written:
        os.utime(path, (1_000_000_000, 1_000_000_000))  # quiet for long: unchanged from now on
    assert syncer.sync_once() == 3  # their times changed
    assert syncer.sync_once() == 0  # nothing changed since
    (artifacts / "user_logs" / "std_log.txt").write_text("line 1\nline 2")
    assert syncer.sync_once() == 1
    blob = container.read("runs/r1/user_logs/std_log.txt", 0, 100)
    assert blob is not None and blob[0] == b"line 1\nline 2"

    # the final upload (finalize) sends only what changed since the last round
    steps.run_step(finalize[1], str(tmp_path), confine=str(tmp_path))
    assert blobs.blob_upload(str(artifacts), artifacts_url) == 1  # std_log.txt: not quiet yet

    expired = container.signed_url("late", write=True, valid_for=timedelta(seconds=-120))
    late = sync.OutputSync([(str(out), expired)], 60, log, confine=str(tmp_path))
    assert late.sync_once() == 0
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("k")
    (tmp_path / "wd2").mkdir()
    (tmp_path / "wd2" / "outputs").symlink_to(secret)  # the job's folder made a link
    sneaky_url = container.signed_url("sneaky", write=True, valid_for=timedelta(minutes=5))
    sneaky = sync.OutputSync([(str(tmp_path / "wd2" / "outputs"), sneaky_url)], 60, log,
                             confine=str(tmp_path))  # fmt: skip
    assert sneaky.sync_once() == 0 and not container.list_files("sneaky")
    log.close()
    assert "the SAS for" in (tmp_path / "supervisor.log").read_text()
    assert not container.list_files("late")
