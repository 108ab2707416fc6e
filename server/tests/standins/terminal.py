#!/usr/bin/env python3
"""Runs a command with a terminal (a pseudo-terminal) as its stdin, stdout and stderr, the way a
person's terminal runs `observatory run`, and copies what it writes to our stdout. Exits with
its exit code (128 + the signal that ended it).

usage: pty.py COMMAND [ARG...]
"""
import os
import pty
import sys

status = pty.spawn(sys.argv[1:])
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
