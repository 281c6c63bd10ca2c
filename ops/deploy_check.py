"""Validate the Docker deployment files without a Docker engine.

Run by the virtualenv's Python (it reads YAML): ``.venv/bin/python ops/deploy_check.py``.
1. the apache/kafka image tag in docker-compose.yml equals ops/kafka/VERSION;
2. ``docker-compose config -q`` (Debian's docker-compose 1.29) accepts docker-compose.yml with
   .env.example, and refuses it when SECRET_KEY, ALLOWED_HOSTS or POSTGRES_PASSWORD is unset;
3. the file validates against the compose-spec JSON schema (bundled in check-jsonschema);
4. ``nginx -t`` accepts ops/nginx/nginx.conf (Debian's nginx, unpacked, never installed or run);
5. .env.example mentions every variable zzalu/settings/base.py reads;
6. compose's long-running app services and the Dockerfile CMD run exactly commands the Procfile
   declares, every declared process runs in some service, and their manage.py commands exist.
Sets up what it lacks: docker-compose (apt), check-jsonschema (pip, into .venv), nginx (unpacked
under .local/deploy-check/). Exits 1 naming the failed checks, 2 if a tool cannot be set up.
"""

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

import debian  # ops/debian.py: a script's own directory comes first on sys.path


def die(message: str) -> NoReturn:
    print(f"deploy-check: {message}", file=sys.stderr)
    raise SystemExit(2)


try:
    import yaml
except ImportError:  # run by a Python without the app's requirements
    die("no PyYAML: run it with .venv/bin/python (`make setup`)")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from zzalu import procfile  # noqa: E402

# pip, check-jsonschema and manage.py run in the app's virtualenv, whoever runs this script.
PYTHON = ROOT / ".venv" / "bin" / "python"
CACHE = ROOT / ".local" / "deploy-check"  # tests/procs.py runs the nginx unpacked here too
CHECK_JSONSCHEMA = "check-jsonschema==0.39.0"
# In a container the web server listens on every interface, on the port `web` exposes to nginx.
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


def run(*argv: str | Path, **options) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, **options)


def tools() -> tuple[list, Path]:
    """check-jsonschema's command and nginx, with docker-compose on the PATH."""
    try:  # debian.py exits with the tail of apt's log
        debian.install("docker-compose", log=CACHE / "apt.log")
        nginx = debian.unpack("nginx", CACHE / "nginx", CACHE / "apt-nginx.log") / "usr/sbin/nginx"
    except SystemExit as error:
        die(str(error.code))
    cjs = [PYTHON, "-m", "check_jsonschema"]
    if run(*cjs, "--version").returncode:
        print(f"installing {CHECK_JSONSCHEMA} into .venv (pip)", flush=True)
        if (pip := run(PYTHON, "-m", "pip", "install", "-q", CHECK_JSONSCHEMA)).returncode:
            die(f"pip install {CHECK_JSONSCHEMA} failed:\n{pip.stdout}{pip.stderr}")
    # The image runs nginx:1.27-alpine; Debian's older nginx only checks the same file.
    for argv in (["docker-compose", "--version"], [*cjs, "--version"], [nginx, "-v"]):
        if (result := run(*argv)).returncode:
            die(f"cannot run {shlex.join(map(str, argv))}:\n{result.stderr}")
        print(f"  {(result.stdout + result.stderr).strip()}")  # nginx -v writes to stderr
    # The schema is bundled in the package: no network when validating.
    if "vendor.compose-spec" not in run(*cjs, "--help").stdout:
        die(f"{CHECK_JSONSCHEMA} has no builtin schema vendor.compose-spec")
    return cjs, nginx


def compose_config(stage: Path) -> None:
    # `env_file: .env` must exist for `config`, and a real .env (or the caller's environment)
    # must not change the result: a staging copy whose .env is the example, a clean environment.
    for name in ("docker-compose.yml", "Dockerfile", ".dockerignore", "ops"):
        (stage / name).symlink_to(ROOT / name)
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    config = ["docker-compose", "-f", stage / "docker-compose.yml", "--env-file", stage / ".env"]
    example = Path(".env.example").read_text().splitlines(keepends=True)
    (stage / ".env").write_text("".join(example))
    result = run(*config, "config", "-q", env=clean)
    message = "docker-compose config -q accepts docker-compose.yml with .env.example"
    check("compose-config", result.returncode == 0, message, result.stdout + result.stderr)
    for var in ("SECRET_KEY", "ALLOWED_HOSTS", "POSTGRES_PASSWORD"):
        kept = [line for line in example if not line.startswith(f"{var}=")]
        (stage / ".env").write_text("".join(kept))
        result = run(*config, "config", "-q", env=clean)
        # compose's error ends with the message of docker-compose.yml's ${VAR:?message}.
        said = next((line for line in result.stderr.splitlines() if var in line), "")
        said = said.rpartition(": ")[2]
        message = f"compose refuses an env file without {var}" + f": {said}" * bool(said)
        check("compose-required", result.returncode and said, message, result.stderr)


def nginx_accepts(nginx: Path, stage: Path) -> None:
    # A copy with this machine's paths for mime.types, temp dirs and pid; the same directives.
    (stage / "mime.types").write_text("types {\n    text/html html;\n}\n")
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    paths = "".join(f"\n    {kind}_temp_path {stage}/{kind};" for kind in kinds)
    conf = Path("ops/nginx/nginx.conf").read_text()
    mime = "include /etc/nginx/mime.types;"
    (stage / "nginx.conf").write_text(conf.replace(mime, f"include {stage}/mime.types;{paths}"))
    pid = f"pid {stage}/nginx.pid;"
    result = run(nginx, "-t", "-q", "-p", f"{stage}/", "-c", stage / "nginx.conf", "-g", pid)
    message = "nginx -t accepts ops/nginx/nginx.conf"
    check("nginx-conf", result.returncode == 0, message, result.stdout + result.stderr)


def words(command: str | list | None) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(w) for w in command or []]


def dockerfile_cmd(dockerfile: str) -> str | list | None:
    cmds = [line[3:].strip() for line in dockerfile.splitlines() if line.startswith("CMD ")]
    return (json.loads(cmds[-1]) if cmds[-1].startswith("[") else cmds[-1]) if cmds else None


def procfile_checks(compose: dict, image_cmd, declared: dict) -> list[tuple[bool, str]]:
    """(passed, message) for each long-running app service (built, with a restart policy) and
    the image's CMD: it runs exactly a Procfile command (expanded as in a container); and for
    each declared process: some service runs it."""
    want = {name: shlex.split(procfile.expand(cmd, CONTAINER)) for name, cmd in declared.items()}
    runs = {
        f"service {name}": service.get("command", image_cmd)
        for name, service in compose["services"].items()
        if "build" in service and str(service.get("restart", "no")) != "no"
    }
    results, served = [], {}
    for who, command in {**runs, "the Dockerfile CMD": image_cmd}.items():
        match = next((name for name, argv in want.items() if argv == words(command)), None)
        says = f"Procfile {match}" if match else "a command the Procfile does not declare"
        results.append((bool(match), f"{who} runs {shlex.join(words(command))}: {says}"))
        if match and who in runs:
            served.setdefault(match, []).append(who)
    for name in declared:
        where = ", ".join(served.get(name, [])) or f"no compose service: {declared[name]}"
        results.append((name in served, f"Procfile {name} runs in {where}"))
    return results


def main() -> int:
    os.chdir(ROOT)
    if missing := [name for name in FILES if not Path(name).is_file()]:
        die(f"missing {' '.join(missing)}")
    if not PYTHON.exists():
        die("no virtualenv at .venv (run `make setup` first)")
    cjs, nginx = tools()
    text = Path("docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"].values()
    # 1. The broker compose runs is the one `make services` runs locally.
    want = Path("ops/kafka/VERSION").read_text().strip()
    images = [str(service.get("image")) for service in services]
    tags = {image.partition(":")[2] for image in images if image.startswith("apache/kafka:")}
    check("kafka-version", tags == {want}, f"apache/kafka tags {tags}, ops/kafka/VERSION {want}")
    with tempfile.TemporaryDirectory() as stage:
        compose_config(Path(stage))  # 2.
        # 3. The compose spec also dropped the top-level `version:` key.
        result = run(*cjs, "--builtin-schema", "vendor.compose-spec", "docker-compose.yml")
        message = "docker-compose.yml is valid against the compose-spec schema"
        check("compose-schema", result.returncode == 0, message, result.stdout + result.stderr)
        message = "docker-compose.yml has no top-level version: key (obsolete in the compose spec)"
        check("compose-version-key", not re.search(r"^version:", text, re.M), message)
        nginx_accepts(nginx, Path(stage))  # 4.
    # 5. Every setting can be set from .env.
    settings = Path(SETTINGS).read_text()
    read = set(re.findall(r"\benv(?:\.\w+)?\(\s*[\"']([A-Za-z_]\w*)[\"']", settings))
    example = Path(".env.example").read_text()
    missing = sorted(read - set(re.findall(r"^\s*#?\s*([A-Za-z_]\w*)=", example, re.M)))
    message = f".env.example mentions all {len(read)} variables {SETTINGS} reads"
    check("env-example", not missing, message + (f"; missing: {' '.join(missing)}" * bool(missing)))
    # 6. Beyond procfile_checks: the Procfile serves the ASGI app the settings name, one-shot
    # services (migrate) run steps `make` runs too, and every manage.py command used exists.
    image_cmd = dockerfile_cmd(Path("Dockerfile").read_text())
    declared = procfile.declared()
    for passed, message in procfile_checks(compose, image_cmd, declared):
        check("procfile", passed, message)
    setting = re.search(r"^ASGI_APPLICATION = \"(.+)\.(\w+)\"", settings, re.M)
    asgi = ":".join(setting.groups()) if setting else "(not found)"
    for app in re.findall(r"\s([A-Za-z_][\w.]*:[A-Za-z_]\w*)(?:\s|$)", " ".join(declared.values())):
        check("asgi-app", app == asgi, f"the Procfile serves {app}; ASGI_APPLICATION: {asgi}")
    apps = [service for service in services if "build" in service]
    commands = [shlex.join(words(app.get("command"))) for app in apps]
    makefile = Path("Makefile").read_text()
    for app, command in zip(apps, commands, strict=True):
        if str(app.get("restart", "no")) == "no":
            for step in re.findall(r"manage\.py[ \w-]*\w", command):
                check("one-shot", step in makefile, f"one-shot `{step}` is in the Makefile too")
    # DEBUG on: with it off and no SECRET_KEY the settings refuse to load.
    listed = run(PYTHON, "manage.py", "help", "--commands", env={**os.environ, "DEBUG": "true"})
    check("manage-commands", listed.returncode == 0, "manage.py help --commands", listed.stderr)
    used = " ".join([*declared.values(), *commands, *words(image_cmd)])
    for command in sorted(set(re.findall(r"manage\.py\s+(\w+)", used))):
        check("manage-commands", command in listed.stdout.split(), f"manage.py {command} exists")
    if failed:
        names = list(dict.fromkeys(failed))
        print(f"\ndeploy-check: FAILED ({len(names)}): {' '.join(names)}", file=sys.stderr)
        return 1
    print("\ndeploy-check: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
