"""Runs openstackclient commands in one Python process, one JSON request per stdin line.

Each request is a JSON list of arguments; each answer is one JSON line with the exit code and what
the command printed. The commands go through openstackclient's own entry point (`shell.main`),
exactly as `openstack <args>` would, without paying the client's start-up for every command.
"""
import contextlib
import io
import json
import sys

from openstackclient import shell


def main():
    sys.argv[0] = "openstack"  # the client names itself after argv[0] in usage and errors
    out = sys.stdout
    for line in sys.stdin:
        args = json.loads(line)
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = shell.main(args)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except Exception as e:  # an unexpected crash of the client is reported, not fatal
                print(f"{type(e).__name__}: {e}", file=sys.stderr)
                code = 1
        out.write(json.dumps({"code": code or 0, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
