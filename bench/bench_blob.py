"""Blob datastore: Download-input throughput (MB/s) of a folder on Azurite.

amlite: the supervisor's ``blob_download`` step (what a job's ``Download`` input on a blob
datastore runs: List Blobs + parallel Get Blob with urllib and a read-only container SAS the
server signed). Peer: an azcopy-style parallel download with the SDK directly
(``ContainerClient.list_blobs`` + ``download_blob(max_concurrency=...)`` over a thread pool).
Same Azurite, same folder, rounds in alternating order; medians and the ratio.

    .venv/bin/python bench/bench_blob.py            # 64 x 16 MiB = 1 GiB, 3 rounds
    .venv/bin/python bench/bench_blob.py --quick    # 16 x 4 MiB, 2 rounds
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from amlite.data.backends import AzureBlobContainer, BlobAccount
from amlite.executors.supervisor import blobs, steps
from support.azurite import ACCOUNT, KEY, Azurite

RESULTS = Path(__file__).resolve().parent / "results" / "blob.md"
WORKERS = 8


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def amlite_download(container: AzureBlobContainer, dst: Path) -> None:
    url = container.signed_url("data", write=False, valid_for=timedelta(hours=1))
    steps.run_step({"op": "blob_download", "src": url, "dst": str(dst)}, str(dst.parent))


def sdk_download(container: AzureBlobContainer, dst: Path) -> None:
    client = container.client

    def one(name: str) -> None:
        target = dst / name[len("data/") :]
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as f:
            client.download_blob(name, max_concurrency=4).readinto(f)

    names = [b.name for b in client.list_blobs(name_starts_with="data/")]
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(one, names))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=64)
    parser.add_argument("--mib", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.files, args.mib, args.rounds = 16, 4, 2

    azurite = Azurite().start()
    work = Path(tempfile.mkdtemp(prefix="amlite-bench-blob-"))
    try:
        account = BlobAccount(ACCOUNT, "bench", azurite.endpoint, "http", account_key=KEY)
        container = AzureBlobContainer(account)
        container.ensure_container()
        chunk = os.urandom(1024 * 1024)
        started = time.perf_counter()

        def put(i: int) -> None:
            container.client.upload_blob(
                f"data/part-{i:04d}.bin", chunk * args.mib, overwrite=True, max_concurrency=4
            )

        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(put, range(args.files)))
        total = args.files * args.mib * 1024 * 1024
        upload_s = time.perf_counter() - started

        runs: dict[str, list[float]] = {"amlite": [], "sdk": []}
        order = [("amlite", amlite_download), ("sdk", sdk_download)]
        for r in range(args.rounds):
            for label, fn in order if r % 2 == 0 else list(reversed(order)):
                dst = work / f"{label}-{r}"
                t0 = time.perf_counter()
                fn(container, dst)
                seconds = time.perf_counter() - t0
                got = _tree_bytes(dst)
                assert got == total, f"{label} downloaded {got} of {total} bytes"
                runs[label].append(total / 1e6 / seconds)
                print(f"round {r} {label}: {total / 1e6 / seconds:.1f} MB/s ({seconds:.1f} s)")
                shutil.rmtree(dst)
        med = {k: statistics.median(v) for k, v in runs.items()}
        line = (
            f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {args.files} x {args.mib} MiB "
            f"({total / 1e9:.2f} GB) | {args.rounds} | {med['amlite']:.1f} "
            f"({', '.join(f'{x:.0f}' for x in runs['amlite'])}) | {med['sdk']:.1f} "
            f"({', '.join(f'{x:.0f}' for x in runs['sdk'])}) | {med['amlite'] / med['sdk']:.2f} "
            f"| {upload_s:.1f} s |"
        )
        print(line)
        if not RESULTS.exists():
            RESULTS.write_text(
                "# Blob datastore: Download input throughput (bench/bench_blob.py)\n\n"
                "amlite = the supervisor's `blob_download` step (urllib, List Blobs + "
                f"{blobs.BLOB_WORKERS} parallel Get Blob, read-only container SAS); SDK = "
                f"azcopy-style `azure-storage-blob` download ({WORKERS} files at once, "
                "`max_concurrency=4` each). Both against one Azurite (blob service, disk "
                "persistence) on this machine, in the same run, alternating order; MB/s = "
                "10^6 bytes/s, median (each round).\n\n"
                "| when (UTC) | folder | rounds | amlite MB/s | SDK MB/s | amlite/SDK | "
                "seeding upload |\n|---|---|---|---|---|---|---|\n"
            )
        with RESULTS.open("a") as f:
            f.write(line + "\n")
    finally:
        azurite.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
