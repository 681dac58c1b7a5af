"""Blob datastores for the file steps (Azure Blob REST with a SAS URL; docs/datastores.md).

A step's URL is ``{container URL}?{SAS}#{blob path}``; the fragment is never sent. The
``urllib`` modules are imported only when a step needs them: they are slow to import.
"""

from __future__ import annotations

import os
import shutil
import threading
import time

BLOB_WORKERS = 8
BLOB_SINGLE_PUT = 32 * 1024 * 1024
BLOB_BLOCK = 8 * 1024 * 1024
QUIET_NS = 2_000_000_000
"""A file is taken as unchanged since its last upload only if it had not been modified for
this long when that upload read it (a write in the same timestamp tick as the read would
otherwise go unseen)."""

_uploaded: dict[str, tuple[int, int, int]] = {}
"""Blob (``container/name``) -> (size, mtime_ns, when the upload read it) of the file this
process last uploaded there: ``blob_upload`` skips files unchanged since (the periodic
uploads while the job runs, ``sync``, then the final one)."""
_uploaded_lock = threading.Lock()


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


def _put_if_changed(container: str, query: str, name: str, path: str) -> bool:
    """Upload file ``path`` to blob ``name`` unless this process already uploaded it
    unchanged; True if it did upload."""
    key = f"{container}/{name}"
    st = os.stat(path)
    read_at = time.time_ns()
    with _uploaded_lock:
        last = _uploaded.get(key)
    unchanged = last is not None and last[:2] == (st.st_size, st.st_mtime_ns)
    if unchanged and last is not None and last[2] - last[1] >= QUIET_NS:
        return False
    _blob_put(container, query, name, path)
    with _uploaded_lock:
        _uploaded[key] = (st.st_size, st.st_mtime_ns, read_at)
    return True


def blob_child(url: str, rel: str) -> str:
    """The URL of ``rel`` below a step URL's blob path (same container and SAS)."""
    base, _, fragment = url.partition("#")
    return f"{base}#{fragment.rstrip('/')}/{rel.strip('/')}".replace("#/", "#")


def sas_expiry(url: str) -> float | None:
    """When a step URL's SAS expires (seconds since the epoch; its ``se``), if it says."""
    from datetime import datetime
    from urllib.parse import parse_qs

    query = url.partition("#")[0].partition("?")[2]
    given = parse_qs(query).get("se")
    if not given:
        return None
    try:
        return datetime.fromisoformat(given[0].replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def blob_upload(src: str, url: str) -> int:
    """Every regular file below directory ``src`` (or file ``src``) to blobs below ``path``,
    except those this process already uploaded unchanged; a missing ``src`` is skipped;
    symlinks are not followed. Returns how many files it uploaded."""
    from concurrent.futures import ThreadPoolExecutor

    if not os.path.exists(src):
        return 0
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
        futures = [pool.submit(_put_if_changed, container, query, n, p) for n, p in files]
        return sum(1 for done in futures if done.result())
