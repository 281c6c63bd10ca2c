#!/usr/bin/env bash
# ops/deploy-check.sh — validate the Docker deployment files without a Docker engine.
#
# Checks docker-compose.yml, Dockerfile, ops/nginx/nginx.conf and .env.example:
#   1. the apache/kafka image tag equals ops/kafka/VERSION;
#   2. `docker-compose config -q` (Debian's docker-compose 1.29) accepts the file with
#      .env.example, and refuses it when SECRET_KEY, ALLOWED_HOSTS or POSTGRES_PASSWORD is unset;
#   3. the file validates against the compose-spec JSON schema (check-jsonschema's builtin
#      `vendor.compose-spec`);
#   4. `nginx -t` accepts ops/nginx/nginx.conf (Debian's nginx binary, unpacked, never installed
#      or started);
#   5. .env.example mentions every variable zzalu/settings/base.py reads;
#   6. compose and the Dockerfile start the same processes as the local launcher ops/run.sh
#      (every `manage.py <command>` and the ASGI app), and those commands exist.
#
# Installs what it needs, once: `apt-get install docker-compose` if the command is missing,
# check-jsonschema into .venv if missing, the nginx .deb unpacked under .local/deploy-check/.
# Runs every check, then exits 1 naming the failed ones (2 if a tool could not be set up).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
PY=$ROOT/.venv/bin/python
CACHE=$ROOT/.local/deploy-check
CHECK_JSONSCHEMA_VERSION=0.39.0
COMPOSE_FILE=docker-compose.yml
ENV_EXAMPLE=.env.example

failed=()
step() { printf '\n==> %s\n' "$*"; }
ok() { printf '  ok: %s\n' "$*"; }
fail() {
  printf '  FAIL: %s\n' "$2"
  failed+=("$1")
}
die() {
  printf 'deploy-check: %s\n' "$*" >&2
  exit 2
}
# Print a log file indented, e.g. a tool's output after a failure.
show() { sed 's/^/    | /' "$1"; }

for f in "$COMPOSE_FILE" Dockerfile .dockerignore "$ENV_EXAMPLE" ops/nginx/nginx.conf \
  ops/run.sh ops/kafka/VERSION zzalu/settings/base.py; do
  [[ -f $f ]] || die "missing $f"
done
[[ -x $PY ]] || die "no virtualenv at .venv (run \`make setup\` first)"
mkdir -p "$CACHE" || die "cannot create $CACHE"
LOG=$CACHE/last.log

# --- tools ----------------------------------------------------------------------------------
apt_install() {
  [[ $(id -u) -eq 0 ]] || die "need root to apt-get install $*"
  echo "  installing $* (apt-get)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      -o DPkg::Lock::Timeout=300 "$@"; } >"$CACHE/apt.log" 2>&1 ||
    { show "$CACHE/apt.log"; die "apt-get install $* failed"; }
}

step "tools"
if ! command -v docker-compose >/dev/null 2>&1; then
  apt_install docker-compose
fi
DC_VERSION=$(docker-compose version --short 2>/dev/null) || die "docker-compose does not run"
ok "docker-compose $DC_VERSION ($(command -v docker-compose))"

CJS=$ROOT/.venv/bin/check-jsonschema
if ! "$CJS" --version >/dev/null 2>&1; then
  echo "  installing check-jsonschema==$CHECK_JSONSCHEMA_VERSION into .venv (pip)"
  "$PY" -m pip install -q "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" >"$CACHE/pip.log" 2>&1 ||
    { show "$CACHE/pip.log"; die "pip install check-jsonschema failed"; }
fi
CJS_VERSION=$("$CJS" --version 2>/dev/null | awk '{print $NF}')
# The schema is bundled in the package: no network at validation time.
"$CJS" --help 2>/dev/null | grep -q 'vendor\.compose-spec' ||
  die "check-jsonschema $CJS_VERSION has no builtin schema vendor.compose-spec"
ok "check-jsonschema $CJS_VERSION (builtin schema vendor.compose-spec present)"

NGINX_ROOT=$CACHE/nginx
NGINX=$NGINX_ROOT/usr/sbin/nginx
fetch_nginx() {
  rm -rf "$NGINX_ROOT" "$CACHE"/nginx_*.deb
  # apt-get download needs package lists; refresh them only if the first try fails.
  (cd "$CACHE" && { apt-get download nginx || { apt-get update -qq && apt-get download nginx; }; }) ||
    return 1
  dpkg-deb -x "$CACHE"/nginx_*.deb "$NGINX_ROOT" || return 1
  rm -f "$CACHE"/nginx_*.deb
}
if ! "$NGINX" -v >/dev/null 2>&1; then
  echo "  unpacking Debian's nginx binary into ${NGINX_ROOT#"$ROOT"/} (apt-get download; not installed)"
  if ! fetch_nginx >"$CACHE/apt-nginx.log" 2>&1; then
    show "$CACHE/apt-nginx.log"
    die "could not fetch Debian's nginx package"
  fi
  "$NGINX" -v >/dev/null 2>&1 || die "the unpacked nginx binary does not run"
fi
ok "$("$NGINX" -v 2>&1) (for \`nginx -t\`; the image runs nginx:1.27-alpine)"

"$PY" -c 'import yaml' 2>/dev/null || die "PyYAML is missing from .venv (pip install -r requirements.txt)"

# The Python half: one script, one section per argument.
read -r -d '' CHECKS_PY <<'PY'
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

COMPOSE = yaml.safe_load(Path("docker-compose.yml").read_text())
SERVICES = COMPOSE.get("services") or {}
SHELL_OPERATORS = {"&", "&&", ";", "|", "||", "(", ")", ";;"}
SERVERS = {"daphne", "uvicorn", "hypercorn", "gunicorn"}
APP_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def tokens(text):
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


def argv_tokens(command):
    """A compose/Dockerfile command as shell tokens; `sh -c "a && b"` scripts are opened up."""
    if command is None:
        return []
    if isinstance(command, str):
        return tokens(command)
    out = []
    for arg in command:
        out.extend(tokens(str(arg)) if re.search(r"\s", str(arg)) else [str(arg)])
    return out


def starts(toks):
    """What a run of shell tokens starts: 'manage.py <cmd> <args>' and '<server> <module:app>'."""
    found, i = [], 0
    while i < len(toks):
        tok = toks[i]
        if tok.endswith("manage.py") and i + 1 < len(toks):
            j = i + 1
            while j < len(toks) and toks[j] not in SHELL_OPERATORS:
                j += 1
            found.append(" ".join(["manage.py", *toks[i + 1 : j]]))
            i = j
            continue
        if Path(tok).name in SERVERS:
            j = i + 1
            while j < len(toks) and toks[j] not in SHELL_OPERATORS:
                if APP_PATH.match(toks[j]):
                    found.append(f"{Path(tok).name} {toks[j]}")
                    break
                j += 1
        i += 1
    return found


def dockerfile_cmd():
    for line in Path("Dockerfile").read_text().splitlines():
        if line.startswith("CMD"):
            rest = line[3:].strip()
            return yaml.safe_load(rest) if rest.startswith("[") else rest
    return None


def kafka_version():
    want = Path("ops/kafka/VERSION").read_text().strip()
    images = {n: s.get("image", "") for n, s in SERVICES.items()}
    tags = {n: i.split(":", 1)[1] for n, i in images.items() if i.startswith("apache/kafka:")}
    if not tags:
        print("  FAIL: no service runs the apache/kafka image")
        return 1
    bad = {n: t for n, t in tags.items() if t != want}
    for name, tag in tags.items():
        mark = "ok" if tag == want else "FAIL"
        print(f"  {mark}: service {name}: apache/kafka:{tag}; ops/kafka/VERSION: {want}")
    return 1 if bad else 0


def env_documented():
    settings = Path("zzalu/settings/base.py").read_text()
    read = sorted(set(re.findall(r"\benv(?:\.\w+)?\(\s*[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']", settings)))
    example = Path(".env.example").read_text()
    documented = set(re.findall(r"^\s*#?\s*([A-Za-z_][A-Za-z0-9_]*)=", example, re.M))
    missing = [name for name in read if name not in documented]
    print(f"  settings read {len(read)} variables; .env.example mentions {len(documented)} names")
    for name in missing:
        print(f"  FAIL: {name} is read by zzalu/settings/base.py but not in .env.example")
    return 1 if missing else 0


def consistency():
    failures = 0
    runsh = []
    for line in Path("ops/run.sh").read_text().splitlines():
        runsh.extend(starts(tokens(line)))
    long_running, one_shot = {}, {}
    for name, svc in SERVICES.items():
        found = starts(argv_tokens(svc.get("command")))
        target = one_shot if str(svc.get("restart", "no")) == "no" else long_running
        for what in found:
            target.setdefault(what, []).append(name)

    image_cmd = dockerfile_cmd()
    image_starts = starts(argv_tokens(image_cmd))
    web_cmds = {n: s.get("command") for n, s in SERVICES.items() if s.get("expose") or s.get("ports")}
    print(f"  Dockerfile CMD: {image_cmd}")
    for name, cmd in web_cmds.items():
        if not any(starts(argv_tokens(cmd))):
            continue
        if cmd != image_cmd:
            print(f"  FAIL: service {name} command {cmd} differs from the Dockerfile CMD")
            failures += 1
        else:
            print(f"  ok: service {name} runs the Dockerfile CMD")

    asgi = re.search(r"^ASGI_APPLICATION\s*=\s*[\"']([\w.]+)[\"']",
                     Path("zzalu/settings/base.py").read_text(), re.M)
    if asgi:
        module, _, attr = asgi.group(1).rpartition(".")
        app_path = f"{module}:{attr}"
        for what in [*long_running, *image_starts, *runsh]:
            path = what.split()[-1]
            if not what.startswith("manage.py") and path != app_path:
                print(f"  FAIL: '{what}' serves {path}, settings.ASGI_APPLICATION is {asgi.group(1)}")
                failures += 1

    print("  long-running processes (compose services with a restart policy) vs ops/run.sh:")
    width = max([len(w) for w in [*long_running, *runsh]] or [10])
    for what in sorted(set(long_running) | set(runsh)):
        where = ", ".join(long_running.get(what, [])) or "-"
        in_runsh = what in runsh
        mark = "ok  " if in_runsh and what in long_running else "DIFF"
        print(f"    {mark} {what:<{width}}  compose: {where:<20} ops/run.sh: {'yes' if in_runsh else 'no'}")
    only_compose = [w for w in long_running if w not in runsh]
    only_runsh = [w for w in runsh if w not in long_running]
    for what in only_compose:
        print(f"  FAIL: compose service {', '.join(long_running[what])} starts '{what}', "
              "which ops/run.sh does not start")
    for what in only_runsh:
        print(f"  FAIL: ops/run.sh starts '{what}', which no long-running compose service starts")
    failures += len(only_compose) + len(only_runsh)
    for what in image_starts:
        if what not in runsh:
            print(f"  FAIL: the Dockerfile CMD starts '{what}', which ops/run.sh does not start")
            failures += 1

    makefile = Path("Makefile").read_text() if Path("Makefile").exists() else ""
    for what, names in sorted(one_shot.items()):
        if what in makefile:
            print(f"  ok: one-shot '{what}' (service {', '.join(names)}) is also in the Makefile's setup")
        else:
            print(f"  FAIL: one-shot '{what}' (service {', '.join(names)}) is not in the Makefile")
            failures += 1

    # Every manage.py command used anywhere must exist.
    used = sorted({w.split()[1] for w in [*long_running, *one_shot, *image_starts, *runsh]
                   if w.startswith("manage.py ") and len(w.split()) > 1})
    # Local settings (DEBUG=true): with DEBUG off and no SECRET_KEY the settings refuse to load
    # and `help` would list Django's own commands only.
    result = subprocess.run([sys.executable, "manage.py", "help", "--commands"],
                            capture_output=True, text=True, env={**os.environ, "DEBUG": "true"})
    if result.returncode != 0:
        print("  FAIL: `manage.py help --commands` failed:\n" + result.stderr[-2000:])
        return failures + 1
    available = set(result.stdout.split())
    for command in used:
        if command in available:
            print(f"  ok: manage.py {command} exists")
        else:
            print(f"  FAIL: manage.py {command} does not exist (not in `manage.py help --commands`)")
            failures += 1
    return failures


sections = {"kafka-version": kafka_version, "env": env_documented, "consistency": consistency}
sys.exit(1 if sections[sys.argv[1]]() else 0)
PY

# --- 1. Kafka version -------------------------------------------------------------------------
step "Kafka image tag vs ops/kafka/VERSION"
"$PY" -c "$CHECKS_PY" kafka-version || fail kafka-version "the apache/kafka image tag differs from ops/kafka/VERSION"

# --- 2. docker-compose config -----------------------------------------------------------------
# `env_file: .env` must exist for `config`, and a real .env (or the caller's environment) must
# not change the result: run on a staging copy whose .env is .env.example, in a clean environment.
step "docker-compose $DC_VERSION config ($COMPOSE_FILE with $ENV_EXAMPLE)"
STAGE=$(mktemp -d) || die "mktemp failed"
trap 'rm -rf "$STAGE"' EXIT
for f in "$COMPOSE_FILE" Dockerfile .dockerignore ops; do ln -s "$ROOT/$f" "$STAGE/$f"; done
compose_config() { # env-file -> runs `config -q` on the staging copy
  cp "$1" "$STAGE/.env"
  env -i PATH="$PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 \
    docker-compose -f "$STAGE/$COMPOSE_FILE" --env-file "$STAGE/.env" config -q
}
if compose_config "$ENV_EXAMPLE" >"$LOG" 2>&1; then
  ok "docker-compose config -q accepts $COMPOSE_FILE with $ENV_EXAMPLE"
else
  show "$LOG"
  fail compose-config "docker-compose config rejected $COMPOSE_FILE"
fi
for var in SECRET_KEY ALLOWED_HOSTS POSTGRES_PASSWORD; do
  grep -v "^$var=" "$ENV_EXAMPLE" >"$CACHE/env.without"
  if compose_config "$CACHE/env.without" >"$LOG" 2>&1; then
    fail compose-required "compose accepts an env file without $var (it must be required)"
  elif grep -q "$var" "$LOG"; then
    ok "compose refuses to run without $var: $(grep -m1 "$var" "$LOG" | sed 's/.*: //')"
  else
    show "$LOG"
    fail compose-required "compose failed without $var, but not because of $var"
  fi
done
rm -f "$CACHE/env.without"

# --- 3. compose-spec schema -------------------------------------------------------------------
step "compose-spec JSON schema (check-jsonschema $CJS_VERSION, --builtin-schema vendor.compose-spec)"
if "$CJS" --builtin-schema vendor.compose-spec "$COMPOSE_FILE" >"$LOG" 2>&1; then
  ok "$COMPOSE_FILE is valid against the compose-spec schema"
else
  show "$LOG"
  fail compose-schema "$COMPOSE_FILE does not validate against the compose-spec schema"
fi
if grep -qE '^version:' "$COMPOSE_FILE"; then
  fail compose-version-key "$COMPOSE_FILE has a top-level version: key (obsolete in the compose spec)"
fi

# --- 4. nginx -t ------------------------------------------------------------------------------
# A copy with this machine's paths for mime.types, temp dirs and pid; the directives are the same.
step "nginx -t ops/nginx/nginx.conf"
NG=$STAGE/nginx
mkdir -p "$NG/tmp"
printf 'types {\n    text/html html;\n}\n' >"$NG/mime.types"
sed -e "s|include /etc/nginx/mime.types;|include $NG/mime.types;|" \
  -e "s|^http {|http {\n    client_body_temp_path $NG/tmp/body; proxy_temp_path $NG/tmp/proxy; fastcgi_temp_path $NG/tmp/fastcgi; uwsgi_temp_path $NG/tmp/uwsgi; scgi_temp_path $NG/tmp/scgi;|" \
  ops/nginx/nginx.conf >"$NG/nginx.conf"
if "$NGINX" -t -q -p "$NG/" -c "$NG/nginx.conf" -g "pid $NG/nginx.pid;" >"$LOG" 2>&1; then
  ok "nginx accepts ops/nginx/nginx.conf"
else
  show "$LOG"
  fail nginx-conf "nginx -t rejects ops/nginx/nginx.conf"
fi

# --- 5. .env.example covers the settings ------------------------------------------------------
step "$ENV_EXAMPLE documents every variable zzalu/settings/base.py reads"
if "$PY" -c "$CHECKS_PY" env; then
  ok "every variable is in $ENV_EXAMPLE"
else
  fail env-example "$ENV_EXAMPLE is missing variables the settings read"
fi

# --- 6. same processes as ops/run.sh ----------------------------------------------------------
step "compose/Dockerfile start the same processes as ops/run.sh"
if "$PY" -c "$CHECKS_PY" consistency; then
  ok "compose, the Dockerfile and ops/run.sh start the same processes"
else
  fail consistency "compose/Dockerfile and ops/run.sh do not start the same processes (see above)"
fi

echo
if ((${#failed[@]})); then
  printf 'deploy-check: FAILED (%d): %s\n' "${#failed[@]}" "${failed[*]}" >&2
  exit 1
fi
echo "deploy-check: all checks passed"
