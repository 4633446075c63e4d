"""A large mailbox indexed: time and peak memory of `search index`, here and in another checkout.

Run by hand from the repository root (not a test):

    python benchmarks/mailbox.py --mb 400 --baseline /tmp/old     # this checkout and another
    python benchmarks/mailbox.py --mb 1200                        # this checkout alone

Writes a Gmail-export-like mailbox (``All mail.mbox``) of about ``--mb`` megabytes: messages of
a few lines of text, each with a PDF attachment as base64 (as real mail is mostly attachments),
then runs `search index` on its folder in a fresh index with each checkout's code (the CLI as a
subprocess: its own peak RSS, from ``wait4``), once more with nothing changed, and once after a
`touch` (its bytes hashed again, nothing read). A checkout's
run that skips the file (a size limit) says so.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.machine import describe  # noqa: E402

WORDS = (
    "invoice roof survey planning permit drawings client budget approved site visit contractor "
    "schedule windows timber steel concrete estimate revised meeting council deadline"
).split()


def write_mailbox(path: Path, megabytes: int, seed: int = 3) -> int:
    """A mailbox of about ``megabytes`` MB at ``path``; the number of messages written."""
    rng = random.Random(seed)
    attachment = base64.encodebytes(rng.randbytes(400_000))  # ~540 KB a message
    written = count = 0
    with path.open("wb") as out:
        while written < megabytes * 1_000_000:
            body = " ".join(rng.choice(WORDS) for _ in range(60))
            message = (
                f"From 17{count:017d}@xxx Mon Jan 06 10:00:00 +0000 2025\n"
                f"X-Gmail-Labels: Inbox,Projects\nFrom: Site {count} <site@example.org>\n"
                f"Subject: Project update {count}\nMIME-Version: 1.0\n"
                'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\n'
                f"Content-Type: text/plain; charset=utf-8\n\nMessage {count}: {body}.\n\n--b1\n"
                f'Content-Type: application/pdf; name="plan-{count}.pdf"\n'
                "Content-Transfer-Encoding: base64\n"
                f'Content-Disposition: attachment; filename="plan-{count}.pdf"\n\n'
            ).encode()
            out.write(message + attachment + b"--b1--\n\n")
            written += len(message) + len(attachment) + 9
            count += 1
    return count


def run_index(repo: Path, folder: Path, index_dir: Path) -> tuple[float, int, str]:
    """`search index` of ``folder`` with ``repo``'s code: seconds, peak RSS (bytes), its last
    lines."""
    command = [sys.executable, "-m", "searchapp", "index", str(folder), "--index-dir"]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    start = time.perf_counter()
    process = subprocess.Popen(
        [*command, str(index_dir)],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = process.stdout.read().decode(errors="replace") if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    tail = " | ".join(line.strip() for line in output.strip().splitlines()[-3:])
    return seconds, usage.ru_maxrss * 1024, f"exit {os.waitstatus_to_exitcode(status)}: {tail}"


def main(argv: list[str] | None = None) -> int:
    print(describe(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=400, help="mailbox size in MB")
    parser.add_argument("--baseline", type=Path, help="another checkout to run first")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "mail"
        folder.mkdir()
        box = folder / "All mail.mbox"
        count = write_mailbox(box, args.mb)
        print(f"{box.name}: {box.stat().st_size / 1e6:,.0f} MB, {count:,} messages", flush=True)
        checkouts = [("baseline", args.baseline)] if args.baseline else []
        for name, repo in [*checkouts, ("this checkout", REPO_ROOT)]:
            index_dir = Path(tmp) / f"index-{name.replace(' ', '-')}"
            for run in ("first index", "nothing changed", "touched"):
                if run == "touched":  # its time changed, not its bytes: hashed, not read again
                    os.utime(box)
                seconds, rss, tail = run_index(repo, folder, index_dir)
                print(f"{name:>13} {run:>15}: {seconds:7.1f} s, peak RSS {rss / 2**20:7,.0f} MiB")
                print(f"{'':>31}{tail[:300]}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
