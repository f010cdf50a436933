#!/usr/bin/env bash
# Entry point of the lithomap image: runs a lithomap verb, the dashboard, a Prefect worker or
# server, or the MLflow server, exactly as given.
#
#   entrypoint.sh lithomap generate -r puertollano    # any lithomap verb
#   entrypoint.sh generate -r puertollano             # the same: a first word that is not a
#                                                     # program on PATH is a lithomap verb
#   entrypoint.sh streamlit run dashboard/app.py --server.address 0.0.0.0
#   entrypoint.sh prefect worker start --pool lithomap
#
# With LITHOMAP_ENTRYPOINT_CHECK=1 nothing is started: the command is resolved and checked
# instead (CI runs the compose file's commands this way, without Docker). The check asks the
# program for the help of the very subcommand given (`<command> --help`, which fails for an
# unknown subcommand), requires every `--option` given to appear in that help, and requires
# every `*.py` argument to be a file that parses as Python.
set -euo pipefail

checkable=(lithomap streamlit prefect mlflow dvc)

fail() {
    echo "entrypoint: $*" >&2
    exit 64
}

resolve() {
    if [[ $# -eq 0 || "$1" == -* ]] || ! command -v "$1" >/dev/null 2>&1; then
        set -- lithomap "$@"
    fi
    resolved=("$@")
}

check_python_file() {
    [[ -f "$1" ]] || fail "'$1' does not exist (working directory $(pwd)); mount or copy it, or fix the path in the command"
    python -c 'import ast, sys; ast.parse(open(sys.argv[1], encoding="utf-8").read(), sys.argv[1])' "$1" \
        || fail "'$1' is not valid Python"
}

check() {
    local program="$1" arg help option known=0
    for name in "${checkable[@]}"; do [[ "$program" == "$name" ]] && known=1; done
    [[ $known -eq 1 ]] || fail "cannot check '$program' (checkable: ${checkable[*]}); run it without LITHOMAP_ENTRYPOINT_CHECK"
    command -v "$program" >/dev/null 2>&1 || fail "'$program' is not on PATH ($PATH); install the image's dependencies"
    for arg in "${@:2}"; do
        [[ "$arg" == *.py && "$arg" != -* ]] && check_python_file "$arg"
    done
    help="$(COLUMNS=200 "$@" --help 2>&1)" || fail "'$*' does not resolve:
$help"
    for arg in "${@:2}"; do
        [[ "$arg" == --* && "$arg" != "--help" ]] || continue
        option="${arg%%=*}"
        grep -Eq -- "(^|[^[:alnum:]-])${option//./\\.}([^[:alnum:]-]|$)" <<<"$help" \
            || fail "'$option' is not an option of '$*' (see its --help)"
    done
    echo "entrypoint: ok: $*"
}

resolve "$@"
if [[ "${LITHOMAP_ENTRYPOINT_CHECK:-0}" == "1" ]]; then
    check "${resolved[@]}"
else
    exec "${resolved[@]}"
fi
