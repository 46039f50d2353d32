#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""at-terminal.py PROMPT ANSWER -- CMD...

Runs CMD with a new pseudo-terminal as its controlling terminal, stdin,
stdout and stderr (as when a person runs apt at a shell), copies what it
prints to stdout, and types ANSWER and Enter once PROMPT has appeared.
Waits a second before typing: a program that turns echo off after its
prompt with TCSAFLUSH discards what was typed before. Exits with CMD's
status; 124 when CMD is still running after 120 s, 125 when PROMPT never
came (CMD is then killed only at that deadline, or at its exit).
"""
import os
import pty
import select
import signal
import sys
import time


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    prompt, answer, cmd = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[4:]
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    seen = b""
    typed_at = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if typed_at is None and prompt in seen:
            typed_at = time.monotonic() + 1
        if typed_at is not None and typed_at is not True and time.monotonic() >= typed_at:
            os.write(fd, answer + b"\n")
            typed_at = True
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: every process on the terminal is gone
            data = b""
        if not data:
            break
        seen += data
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        print("\nat-terminal.py: still running after 120 s", file=sys.stderr)
        sys.exit(124)
    _, status = os.waitpid(pid, 0)
    if typed_at is not True:
        print(f"\nat-terminal.py: the prompt {prompt!r} never came", file=sys.stderr)
        sys.exit(125)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
