"""Validate the Docker deployment files without a Docker engine.

Run by the virtualenv's Python (it reads YAML): ``.venv/bin/python ops/deploy_check.py``. Checks
docker-compose.yml, Dockerfile, ops/nginx/nginx.conf and .env.example:

1. the apache/kafka image tag equals ops/kafka/VERSION;
2. ``docker-compose config -q`` (Debian's docker-compose 1.29) accepts the file with .env.example,
   and refuses it when SECRET_KEY, ALLOWED_HOSTS or POSTGRES_PASSWORD is unset;
3. the file validates against the compose-spec JSON schema (check-jsonschema's builtin
   ``vendor.compose-spec``, bundled: no network);
4. ``nginx -t`` accepts ops/nginx/nginx.conf (Debian's nginx, unpacked, never installed or run);
5. .env.example mentions every variable zzalu/settings/base.py reads;
6. compose's long-running app services and the Dockerfile CMD run exactly commands the Procfile
   declares, every declared process runs in some service, and their manage.py commands exist.

Sets up what it lacks, once: docker-compose (apt), check-jsonschema (pip, into .venv), the nginx
.deb unpacked under .local/deploy-check/. Runs every check, then exits 1 naming the failed ones
(2 if a tool could not be set up).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

import debian  # ops/debian.py: a script's own directory comes first on sys.path

try:
    import yaml
except ImportError:  # run by a Python without the app's requirements
    print("deploy-check: no PyYAML: run it with .venv/bin/python (`make setup`)", file=sys.stderr)
    sys.exit(2)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from zzalu import procfile  # noqa: E402

# pip, check-jsonschema and manage.py run in the app's virtualenv, whoever runs this script.
PYTHON = ROOT / ".venv" / "bin" / "python"
CACHE = ROOT / ".local" / "deploy-check"  # tests/procs.py runs the nginx unpacked here too
CHECK_JSONSCHEMA = "check-jsonschema==0.39.0"
REQUIRED = ("SECRET_KEY", "ALLOWED_HOSTS", "POSTGRES_PASSWORD")
# In a container Daphne listens on every interface, on the port `web` exposes to nginx.
CONTAINER = {"HOST": "0.0.0.0", "PORT": "8000"}
SETTINGS = "zzalu/settings/base.py"
FILES = ["docker-compose.yml", "Dockerfile", ".dockerignore", ".env.example", "Procfile"]
FILES += ["Makefile", "ops/nginx/nginx.conf", "ops/kafka/VERSION", SETTINGS]
failed: list[str] = []


def check(name: str, passed: object, message: str, output: str = "") -> None:
    print(f"  {'ok' if passed else 'FAIL'}: {message}", flush=True)
    if not passed:
        print("".join(f"    | {line}\n" for line in output.splitlines()), end="")
        failed.append(name)


def die(message: str) -> NoReturn:
    print(f"deploy-check: {message}", file=sys.stderr)
    raise SystemExit(2)


def run(*argv: str | Path, **options) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, **options)


def tools() -> tuple[list, Path]:
    """check-jsonschema and nginx, with docker-compose on the PATH."""
    try:
        debian.install("docker-compose", log=CACHE / "apt.log")
        nginx = debian.unpack("nginx", CACHE / "nginx", CACHE / "apt-nginx.log") / "usr/sbin/nginx"
    except SystemExit as error:
        die(str(error.code))
    if (version := run("docker-compose", "version", "--short")).returncode:
        die(f"docker-compose does not run:\n{version.stderr}")
    print(f"  docker-compose {version.stdout.strip()} ({shutil.which('docker-compose')})")
    cjs = [PYTHON, "-m", "check_jsonschema"]
    if run(*cjs, "--version").returncode:
        print(f"  installing {CHECK_JSONSCHEMA} into .venv (pip)", flush=True)
        if (pip := run(PYTHON, "-m", "pip", "install", "-q", CHECK_JSONSCHEMA)).returncode:
            die(f"pip install {CHECK_JSONSCHEMA} failed:\n{pip.stdout}{pip.stderr}")
    # The schema is bundled in the package: no network when validating.
    if "vendor.compose-spec" not in run(*cjs, "--help").stdout:
        die(f"{CHECK_JSONSCHEMA} has no builtin schema vendor.compose-spec")
    version = run(*cjs, "--version").stdout.split()[-1]
    print(f"  check-jsonschema {version} (builtin schema vendor.compose-spec)")
    if (version := run(nginx, "-v")).returncode:
        die(f"the unpacked nginx does not run:\n{version.stderr}")
    print(f"  {version.stderr.strip()} (for `nginx -t`; the image runs nginx:1.27-alpine)")
    return cjs, nginx


def compose_config(stage: Path) -> None:
    # `env_file: .env` must exist for `config`, and a real .env (or the caller's environment)
    # must not change the result: a staging copy whose .env is the example, a clean environment.
    stage.mkdir()
    for name in ("docker-compose.yml", "Dockerfile", ".dockerignore", "ops"):
        (stage / name).symlink_to(ROOT / name)
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}

    def config(env: str) -> subprocess.CompletedProcess:
        (stage / ".env").write_text(env)
        compose, dotenv = stage / "docker-compose.yml", stage / ".env"
        return run("docker-compose", "-f", compose, "--env-file", dotenv, "config", "-q", env=clean)

    example = Path(".env.example").read_text()
    result = config(example)
    message = "docker-compose config -q accepts docker-compose.yml with .env.example"
    check("compose-config", result.returncode == 0, message, result.stdout + result.stderr)
    for var in REQUIRED:
        lines = example.splitlines(keepends=True)
        result = config("".join(line for line in lines if not line.startswith(f"{var}=")))
        said = next((line for line in result.stderr.splitlines() if var in line), "")
        said = said.rpartition(": ")[2]
        message = f"compose refuses an env file without {var}" + f": {said}" * bool(said)
        check("compose-required", result.returncode and said, message, result.stderr)


def nginx_accepts(nginx: Path, stage: Path) -> None:
    # A copy with this machine's paths for mime.types, temp dirs and pid; the directives are
    # the same.
    (stage / "tmp").mkdir(parents=True)
    (stage / "mime.types").write_text("types {\n    text/html html;\n}\n")
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = " ".join(f"{kind}_temp_path {stage}/tmp/{kind};" for kind in kinds)
    conf = Path("ops/nginx/nginx.conf").read_text()
    conf = conf.replace("include /etc/nginx/mime.types;", f"include {stage}/mime.types;")
    (stage / "nginx.conf").write_text(re.sub(r"^http \{", f"http {{\n    {temp}", conf, flags=re.M))
    pid = f"pid {stage}/nginx.pid;"
    result = run(nginx, "-t", "-q", "-p", f"{stage}/", "-c", stage / "nginx.conf", "-g", pid)
    message = "nginx -t accepts ops/nginx/nginx.conf"
    check("nginx-conf", result.returncode == 0, message, result.stdout + result.stderr)


def env_documented() -> None:
    settings = Path(SETTINGS).read_text()
    read = set(re.findall(r"\benv(?:\.\w+)?\(\s*[\"']([A-Za-z_]\w*)[\"']", settings))
    example = Path(".env.example").read_text()
    missing = sorted(read - set(re.findall(r"^\s*#?\s*([A-Za-z_]\w*)=", example, re.M)))
    message = f".env.example mentions all {len(read)} variables {SETTINGS} reads"
    check("env-example", not missing, message + (f"; missing: {' '.join(missing)}" * bool(missing)))


def words(command: str | list | None) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(w) for w in command or []]


def dockerfile_cmd(dockerfile: str) -> str | list | None:
    cmds = [line[3:].strip() for line in dockerfile.splitlines() if line.startswith("CMD ")]
    return (json.loads(cmds[-1]) if cmds[-1].startswith("[") else cmds[-1]) if cmds else None


def procfile_checks(compose: dict, image_cmd, declared: dict) -> list[tuple[bool, str]]:
    """(passed, message) for each long-running app service (built from the Dockerfile, with a
    restart policy) and the image's CMD: it runs exactly a command the Procfile declares (as
    expanded in a container); and for each declared process: some service runs it."""
    expected = {
        name: shlex.split(procfile.expand(line, CONTAINER)) for name, line in declared.items()
    }
    runs = {
        f"service {name}": service.get("command", image_cmd)
        for name, service in compose["services"].items()
        if "build" in service and str(service.get("restart", "no")) != "no"
    }
    results, served = [], {}
    for who, command in {**runs, "the Dockerfile CMD": image_cmd}.items():
        match = next((name for name, argv in expected.items() if argv == words(command)), None)
        says = f"Procfile {match}" if match else "a command the Procfile does not declare"
        results.append((bool(match), f"{who} runs {shlex.join(words(command))}: {says}"))
        if match and who in runs:
            served.setdefault(match, []).append(who)
    for name in declared:
        where = ", ".join(served.get(name, [])) or f"no compose service: {declared[name]}"
        results.append((name in served, f"Procfile {name} runs in {where}"))
    return results


def processes(compose: dict) -> None:
    image_cmd = dockerfile_cmd(Path("Dockerfile").read_text())
    declared = procfile.declared()
    for passed, message in procfile_checks(compose, image_cmd, declared):
        check("procfile", passed, message)
    setting = re.search(r"^ASGI_APPLICATION = \"(.+)\.(\w+)\"", Path(SETTINGS).read_text(), re.M)
    asgi = ":".join(setting.groups()) if setting else "(not found)"
    for line in declared.values():
        for app in re.findall(r"\s([A-Za-z_][\w.]*:[A-Za-z_]\w*)(?:\s|$)", line):
            check("asgi-app", app == asgi, f"the Procfile serves {app}; ASGI_APPLICATION: {asgi}")
    apps = [service for service in compose["services"].values() if "build" in service]
    commands = [shlex.join(words(app.get("command"))) for app in apps]
    makefile = Path("Makefile").read_text()
    for app, command in zip(apps, commands, strict=True):
        if str(app.get("restart", "no")) == "no":
            for step in re.findall(r"manage\.py[ \w-]*\w", command):
                check("one-shot", step in makefile, f"one-shot `{step}` is in the Makefile too")
    # DEBUG on: with it off and no SECRET_KEY the settings refuse to load.
    env = {**os.environ, "DEBUG": "true"}
    listed = run(PYTHON, "manage.py", "help", "--commands", env=env)
    check("manage-commands", listed.returncode == 0, "manage.py help --commands", listed.stderr)
    used = " ".join([*declared.values(), *commands, *words(image_cmd)])
    for command in sorted(set(re.findall(r"manage\.py\s+(\w+)", used))):
        check("manage-commands", command in listed.stdout.split(), f"manage.py {command} exists")


def main() -> int:
    os.chdir(ROOT)
    for name in FILES:
        if not Path(name).is_file():
            die(f"missing {name}")
    if not PYTHON.exists():
        die("no virtualenv at .venv (run `make setup` first)")
    CACHE.mkdir(parents=True, exist_ok=True)
    print("==> tools")
    cjs, nginx = tools()
    text = Path("docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    print("\n==> Kafka image tag vs ops/kafka/VERSION")
    want = Path("ops/kafka/VERSION").read_text().strip()
    images = [str(service.get("image")) for service in compose["services"].values()]
    tags = {image.partition(":")[2] for image in images if image.startswith("apache/kafka:")}
    check("kafka-version", tags == {want}, f"apache/kafka tags {tags}, ops/kafka/VERSION {want}")
    with tempfile.TemporaryDirectory() as stage:
        print("\n==> docker-compose config (docker-compose.yml with .env.example)")
        compose_config(Path(stage) / "compose")
        print("\n==> compose-spec JSON schema (check-jsonschema, vendor.compose-spec)")
        result = run(*cjs, "--builtin-schema", "vendor.compose-spec", "docker-compose.yml")
        message = "docker-compose.yml is valid against the compose-spec schema"
        check("compose-schema", result.returncode == 0, message, result.stdout + result.stderr)
        message = "docker-compose.yml has no top-level version: key (obsolete in the compose spec)"
        check("compose-version-key", not re.search(r"^version:", text, re.M), message)
        print("\n==> nginx -t ops/nginx/nginx.conf")
        nginx_accepts(nginx, Path(stage) / "nginx")
    print(f"\n==> .env.example documents every variable {SETTINGS} reads")
    env_documented()
    print("\n==> compose and the Dockerfile run the Procfile's processes")
    processes(compose)
    if failed:
        names = list(dict.fromkeys(failed))
        print(f"\ndeploy-check: FAILED ({len(names)}): {' '.join(names)}", file=sys.stderr)
        return 1
    print("\ndeploy-check: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
