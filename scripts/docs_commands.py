#!/usr/bin/env python3
"""Every shell command in README.md and docs/ is checked, page by page, in
the order a reader meets it:

- run for real in a scratch directory (the debug binaries stand in for
  `cargo run -p X`; `127.0.0.1:8080` is a server this script started on a
  free port; `$TOKEN` and `$ADMIN_TOKEN` are the demo account's), and must
  succeed (a curl answer must carry no GraphQL errors);
- or, where it cannot run here, checked for what it names: a `just` recipe
  must exist, a script must answer `--help`, a flag must be one the binary
  knows; a Docker engine, Dokku or a git remote are not on this machine,
  and the image and compose file are checked by `just check-image`.

A command no rule knows fails the check: add a rule when the docs grow.

    python3 scripts/docs_commands.py [--pg postgres://postgres@127.0.0.1:5432/postgres]

Uses the debug binaries under $CARGO_TARGET_DIR (build them first:
`cargo build --workspace --bins`).
"""

import argparse
import glob
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/hearth-target"))
BIN = os.path.join(TARGET, "debug")
BINARIES = ("api", "migration", "seed", "healthcheck", "guestbook", "guestbook-migration")



def png():
    """A 1x1 PNG, for the upload example's photo.png."""
    import struct
    import zlib

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00\x00")) + chunk(b"IEND", b""))


def fail(message):
    print(f"docs commands: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def commands(path):
    """Each command of each ```sh block, continuation lines joined, with its
    trailing comment removed."""
    text = open(path, encoding="utf-8").read()
    for block in re.findall(r"(?ms)^[ \t]*```sh\n(.*?)^[ \t]*```", text):
        current = ""
        for line in block.split("\n"):
            stripped = line.strip()
            if not stripped or (stripped.startswith("#") and not current):
                continue
            current = f"{current} {stripped}" if current else stripped
            if current.endswith("\\"):
                current = current[:-1].rstrip()
                continue
            yield strip_comment(current)
            current = ""


def strip_comment(command):
    """`cmd   # says what it does` -> `cmd` (a `#` inside quotes stays)."""
    quote = None
    for i, ch in enumerate(command):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and i > 0 and command[i - 1] in " \t":
            return command[:i].rstrip()
    return command


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sandbox:
    """A scratch working directory, its environment and its server."""

    def __init__(self, pg_admin):
        self.dir = tempfile.mkdtemp(prefix="hearth-docs-")
        self.pg_admin = pg_admin
        self.port = free_port()
        self.env = {
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "HOME": os.environ.get("HOME", "/tmp"),
            "PORT": str(self.port),
            "RUST_LOG": "warn",
            "JWT_SECRET": "docs-check-secret-0123456789abcdef0123",
        }
        self.server = None
        self.databases = []
        self.last_output = ""
        self.file_url = None
        self.pg_database = None

    def close(self):
        self.stop_server()
        for name in self.databases:
            subprocess.run(["psql", "-q", self.pg_admin, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                           capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, argv, check=True, **extra):
        result = subprocess.run(argv, cwd=self.dir, env={**self.env, **extra}, capture_output=True, text=True,
                                timeout=300)
        self.last_output = result.stdout
        if check and result.returncode != 0:
            fail(f"`{' '.join(argv)}` exited {result.returncode}: {result.stderr.strip()[-800:]}")
        return result

    def shell(self, command):
        """A command as a shell runs it, in the sandbox."""
        result = subprocess.run(["bash", "-c", command], cwd=self.dir, env=self.env, capture_output=True, text=True,
                                timeout=300)
        self.last_output = result.stdout
        if result.returncode != 0:
            fail(f"`{command}` exited {result.returncode}: {(result.stderr or result.stdout).strip()[-800:]}")
        return result

    def start_server(self):
        self.stop_server()
        log = open(os.path.join(self.dir, "api.log"), "a")
        self.server = subprocess.Popen([os.path.join(BIN, "api")], cwd=self.dir, env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT)
        for _ in range(100):
            if self.server.poll() is not None:
                fail(f"the api exited: {open(os.path.join(self.dir, 'api.log')).read()[-800:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        fail("the api was not ready within 20 s")

    def stop_server(self):
        if self.server:
            self.server.terminate()
            self.server.wait(timeout=20)
            self.server = None

    def graphql(self, query, token=None):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql", json.dumps({"query": query}).encode(),
            {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})})
        with urllib.request.urlopen(request, timeout=20) as response:
            body = json.load(response)
        if body.get("errors"):
            fail(f"{query[:60]}: {body['errors']}")
        return body["data"]

    def demo_token(self):
        data = self.graphql('mutation { signIn(input: { login: "demo", password: "hearth-demo", '
                            'device: { name: "docs", secret: "docs-check-device-secret" } }) { accessToken } }')
        return data["signIn"]["accessToken"]


def just_recipes():
    out = subprocess.run(["just", "--summary"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"just --summary: {out.stderr}")
    return set(out.stdout.split())


def check(box, page, command, recipes, stats):
    """Runs or checks one command; returns how it was checked."""
    # `cmd && echo healthy`: the command is the first part.
    command = re.sub(r" && echo \w+$", "", command)
    words = shlex.split(command, posix=True) if "$(" not in command else command.split()
    program = words[0] if words else ""

    # Things this machine cannot do: say so, check what can be checked.
    if program in ("docker", "dokku") or command.startswith("git push"):
        return "not here: needs a Docker engine, Dokku or a git remote (the image and compose file: just check-image)"
    if program in ("pg_dump", "pg_restore"):
        return "not here: PostgreSQL's own tools against your server"
    if program == "just":
        recipe = words[1] if len(words) > 1 else ""
        if recipe not in recipes:
            fail(f"{page}: `{command}` names no just recipe")
        return f"recipe `{recipe}` exists (not run: it builds images or takes minutes)"
    if program == "python3" and words[1].startswith("scripts/"):
        script = os.path.join(ROOT, words[1])
        if subprocess.run([sys.executable, script, "--help"], capture_output=True).returncode != 0:
            fail(f"{page}: `{words[1]} --help` fails")
        return "script answers --help (not run: it needs a bench database)"
    if re.fullmatch(r"[A-Z0-9_]+=\S*", command):
        return "a setting (the configuration test checks the variable)"
    if re.search(r"cargo test --workspace", command):
        return "the test command itself (CI runs it on both backends)"
    if re.search(r"cargo test -p guestbook$", command):
        return "the example's tests (part of cargo test --workspace, which CI runs on both backends)"
    if re.fullmatch(r"cargo new --lib \w+", command):
        box.run(["cargo", "new", "--lib", "--vcs", "none", words[-1]])
        return "ran"
    if "/files/<id>?token=<token>" in command and box.file_url:
        # The download example: the `url` the upload example answered.
        line = command.replace("http://127.0.0.1:8080/files/<id>?token=<token>",
                               f"http://127.0.0.1:{box.port}{box.file_url}")
        box.shell(line.replace("curl ", "curl -fsS ", 1))
        if open(os.path.join(box.dir, "copy.png"), "rb").read() != png():
            fail(f"{page}: the downloaded file differs from the uploaded one")
        return "ran (with the url the upload answered)"
    if "<" in command and ">" in command and re.search(r"<[a-z-]+>", command):
        return "an example with placeholders from an earlier answer"
    if command.startswith("URL=") or (command.startswith("export ") and "DATABASE_URL=postgres" not in command):
        return "a variable for the commands after it"

    # Run it.
    cargo = re.match(r"^(?:([A-Z_]+=\S+|[A-Z_]+='[^']*')\s+)?cargo run (?:--release )?-p (\w+)(?: --bin ([\w-]+))?(?: -- (.*))?$", command)
    if cargo:
        assignment, package, binary, args = cargo.groups()
        package = binary or package
        if package not in BINARIES:
            fail(f"{page}: `{command}` runs an unknown package")
        # Files the examples write under /tmp land in the sandbox instead.
        args = args.replace("/tmp", os.path.join(box.dir, "tmp")) if args else args
        os.makedirs(os.path.join(box.dir, "tmp"), exist_ok=True)
        argv = [os.path.join(BIN, package)] + (shlex.split(args) if args else [])
        extra = dict([assignment.replace("'", "").split("=", 1)]) if assignment else {}
        if package == "guestbook" and args == "schema":
            if "guestbook(" not in box.run([os.path.join(BIN, package), "schema"]).stdout:
                fail(f"{page}: the guestbook's schema has no guestbook field")
            return "ran (the schema has the guestbook field)"
        if package == "api" and not args:
            box.start_server()
            return "started the server"
        if package == "seed" and "bench" in argv:
            help_text = box.run([argv[0], "--help"]).stdout
            for flag in [a for a in argv[1:] if a.startswith("--")]:
                if flag not in help_text:
                    fail(f"{page}: seed has no {flag}")
            return "flags checked (not run: minutes of data)"
        if package == "api" and args and args.startswith("restore"):
            box.stop_server()
            snapshot = argv[2]
            if not os.path.exists(os.path.join(box.dir, snapshot)):
                made = sorted(glob.glob(os.path.join(box.dir, "data/backups/hearth-*.db")))
                if not made:
                    fail(f"{page}: no backup to restore")
                argv[2] = made[-1]
        if package == "healthcheck" and box.server is None:
            box.start_server()
        box.run(argv, **extra)
        return "ran"
    if program == "createdb":
        name = f"hearth_docs_{os.getpid()}"
        box.run(["psql", "-q", box.pg_admin, "-c", f"CREATE DATABASE {name}"])
        box.databases.append(name)
        box.pg_database = name
        return f"ran (as database {name})"
    if command.startswith("export DATABASE_URL=postgres"):
        name = box.pg_database
        if not name:
            fail(f"{page}: DATABASE_URL set before its database was created")
        box.env["DATABASE_URL"] = f"{box.pg_admin.rsplit('/', 1)[0]}/{name}"
        return "ran"
    if program == "curl":
        line = command.replace("127.0.0.1:8080", f"127.0.0.1:{box.port}")
        if box.server is None:
            box.start_server()
        if "$TOKEN" in line or "$ADMIN_TOKEN" in line:
            token = box.demo_token()
            box.env["TOKEN"] = token
            box.env["ADMIN_TOKEN"] = token
        if "@photo.png" in line:
            with open(os.path.join(box.dir, "photo.png"), "wb") as f:
                f.write(png())
        output = box.shell(line).stdout
        answer = json.loads(output)
        if answer.get("errors") or not answer.get("data"):
            fail(f"{page}: `{command[:60]}` answered {output[:400]}")
        upload = answer["data"].get("uploadFile")
        if upload:
            box.file_url = upload["url"]
        return "ran"
    if program in ("sqlite3", "mv", "cp", "rm"):
        backup = os.path.join(box.dir, "backup.db")
        if "backup.db" in command and not os.path.exists(backup):
            # "backup.db": the snapshot the reader downloaded; the newest here.
            made = sorted(glob.glob(os.path.join(box.dir, "data/backups/hearth-*.db")))
            if not made:
                fail(f"{page}: no backup for `{command}`")
            shutil.copy(made[-1], backup)
        box.shell(command)
        if program == "sqlite3" and box.last_output.strip() != "ok":
            fail(f"{page}: `{command}` printed {box.last_output!r}")
        return "ran"
    fail(f"{page}: no rule for `{command}`: add one to {os.path.relpath(__file__, ROOT)}")


def prepare(box, page):
    """What a page's reader has done before its first command: they stand
    in a checkout (`.env.example` is there), and some pages start from a
    running server with the demo data."""
    shutil.copy(os.path.join(ROOT, ".env.example"), box.dir)
    name = os.path.basename(page)
    if name in ("auth.md", "backups.md", "files.md"):
        box.run([os.path.join(BIN, "seed"), "--scale", "small"])
        box.start_server()
    if name == "auth.md":
        # The first example promotes an existing account: Ann's.
        box.graphql('mutation { signUp(input: { email: "ann@example.com", username: "ann", '
                    'password: "correct horse battery", device: { name: "docs", secret: "docs-check-device-secret" } }) '
                    '{ accessToken } }')
    if name == "backups.md":
        # createBackup is for admins: the demo account becomes one.
        box.run([os.path.join(BIN, "api"), "admin", "create", "--email", "demo@hearth.dev"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default=os.environ.get("PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    for binary in BINARIES:
        if not os.access(os.path.join(BIN, binary), os.X_OK):
            fail(f"build the debug binaries first (cargo build --workspace --bins): no {BIN}/{binary}")
    recipes = just_recipes()
    pages = ["README.md"] + sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
    stats = {"ran": 0, "checked": 0}
    for page in pages:
        listed = list(commands(os.path.join(ROOT, page)))
        if not listed:
            continue
        box = Sandbox(args.pg)
        try:
            prepare(box, page)
            for command in listed:
                how = check(box, page, command, recipes, stats)
                stats["ran" if how.startswith("ran") or how.startswith("started") else "checked"] += 1
                print(f"{page}: {command[:90]}\n    -> {how}")
        finally:
            box.close()
    print(f"docs commands: {stats['ran']} run, {stats['checked']} checked without running")


if __name__ == "__main__":
    main()
