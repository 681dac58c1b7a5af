"""Blob datastores for the file steps (Azure Blob REST with a SAS URL; docs/datastores.md).

A step's URL is ``{container URL}?{SAS}#{blob path}``; the fragment is never sent. The
``urllib`` modules are imported only when a step needs them: they are slow to import.
"""

from __future__ import annotations

import os
import shutil
import time

BLOB_WORKERS = 8
BLOB_SINGLE_PUT = 32 * 1024 * 1024
BLOB_BLOCK = 8 * 1024 * 1024


def _blob_parts(url: str) -> tuple[str, str, str]:
    from urllib.parse import unquote

    base, _, fragment = url.partition("#")
    container, _, query = base.partition("?")
    return container.rstrip("/"), query, unquote(fragment).strip("/")


def _blob_url(container: str, query: str, name: str, extra: str = "") -> str:
    from urllib.parse import quote

    params = "&".join(p for p in (extra, query) if p)
    return f"{container}/{quote(name)}" + (f"?{params}" if params else "")


def _blob_call(
    method: str,
    url: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    sink: str | None = None,
) -> bytes:
    """One REST call, retried on 5xx/connection errors; errors never show the SAS."""
    import urllib.error
    import urllib.request

    where = url.split("?", 1)[0]
    last: Exception | None = None
    for attempt in range(4):
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                if sink is None:
                    return bytes(resp.read())
                tmp = f"{sink}.part"
                with open(tmp, "wb") as out:
                    shutil.copyfileobj(resp, out, 1024 * 1024)
                os.replace(tmp, sink)
                return b""
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                raise OSError(f"{method} {where}: HTTP {exc.code} {exc.reason}") from None
            last = OSError(f"{method} {where}: HTTP {exc.code} {exc.reason}")
        except (urllib.error.URLError, OSError) as exc:
            last = OSError(f"{method} {where}: {getattr(exc, 'reason', exc)}")
        time.sleep(0.5 * (attempt + 1))
    raise last or OSError(f"{method} {where} failed")


def _blob_list(container: str, query: str, prefix: str) -> list[tuple[str, int]]:
    import xml.etree.ElementTree as ET
    from urllib.parse import quote

    out: list[tuple[str, int]] = []
    marker = ""
    while True:
        extra = f"restype=container&comp=list&prefix={quote(prefix)}"
        if marker:
            extra += f"&marker={quote(marker)}"
        params = "&".join(p for p in (extra, query) if p)
        root = ET.fromstring(_blob_call("GET", f"{container}?{params}"))
        for blob in root.iter("Blob"):
            name = blob.findtext("Name") or ""
            size = int(blob.findtext("Properties/Content-Length") or 0)
            out.append((name, size))
        marker = root.findtext("NextMarker") or ""
        if not marker:
            return out


def blob_download(url: str, dst: str) -> None:
    """The blob ``path`` to file ``dst``, or every blob below ``path/`` into directory ``dst``."""
    from concurrent.futures import ThreadPoolExecutor

    container, query, prefix = _blob_parts(url)
    listed = _blob_list(container, query, prefix)
    jobs: list[tuple[str, str]] = []
    if prefix and any(name == prefix for name, _ in listed):
        jobs.append((prefix, dst))
    else:
        under = f"{prefix}/" if prefix else ""
        real_dst = os.path.realpath(dst)
        for name, _size in listed:
            if not name.startswith(under) or name.endswith("/"):
                continue
            target = os.path.realpath(os.path.join(dst, *name[len(under) :].split("/")))
            if not target.startswith(real_dst + os.sep):
                raise ValueError(f"blob {name!r} would land outside {dst}")
            jobs.append((name, target))
        if not jobs:
            raise FileNotFoundError(f"nothing at {prefix!r} in {container}")
    for _name, target in jobs:
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    with ThreadPoolExecutor(BLOB_WORKERS) as pool:
        futures = [
            pool.submit(_blob_call, "GET", _blob_url(container, query, n), None, None, t)
            for n, t in jobs
        ]
        for done in futures:
            done.result()


def _blob_put(container: str, query: str, name: str, path: str) -> None:
    import base64
    from urllib.parse import quote

    size = os.path.getsize(path)
    if size <= BLOB_SINGLE_PUT:
        with open(path, "rb") as f:
            body = f.read()
        headers = {"x-ms-blob-type": "BlockBlob", "Content-Length": str(len(body))}
        _blob_call("PUT", _blob_url(container, query, name), body, headers)
        return
    ids: list[str] = []
    with open(path, "rb") as f:
        while True:
            chunk = f.read(BLOB_BLOCK)
            if not chunk:
                break
            block = base64.b64encode(f"{len(ids):08d}".encode()).decode()
            ids.append(block)
            extra = "comp=block&blockid=" + quote(block, safe="")
            length = {"Content-Length": str(len(chunk))}
            _blob_call("PUT", _blob_url(container, query, name, extra), chunk, length)
    latest = "".join(f"<Latest>{i}</Latest>" for i in ids)
    body = f'<?xml version="1.0" encoding="utf-8"?><BlockList>{latest}</BlockList>'.encode()
    length = {"Content-Length": str(len(body))}
    _blob_call("PUT", _blob_url(container, query, name, "comp=blocklist"), body, length)


def blob_upload(src: str, url: str) -> None:
    """Every regular file below directory ``src`` (or file ``src``) to blobs below ``path``;
    a missing ``src`` is skipped; symlinks are not followed."""
    from concurrent.futures import ThreadPoolExecutor

    if not os.path.exists(src):
        return
    container, query, prefix = _blob_parts(url)
    files: list[tuple[str, str]] = []
    if os.path.isfile(src) and not os.path.islink(src):
        files.append((f"{prefix}/{os.path.basename(src)}".lstrip("/"), src))
    for dirpath, dirs, names in os.walk(src):
        dirs.sort()
        for fname in sorted(names):
            full = os.path.join(dirpath, fname)
            if os.path.isfile(full) and not os.path.islink(full):
                rel = os.path.relpath(full, src).replace(os.sep, "/")
                files.append((f"{prefix}/{rel}".lstrip("/"), full))
    with ThreadPoolExecutor(BLOB_WORKERS) as pool:
        for done in [pool.submit(_blob_put, container, query, n, p) for n, p in files]:
            done.result()
