# Sourced by scripts/test and scripts/serve: make .venv and install the project into it.
#
# ensure_venv EXTRAS: creates .venv with python3 (or $PYTHON) when missing, then installs the
# project editable with the given extras ("" for none). pip runs again only when pyproject.toml
# or the extras changed since the last install, so a second `scripts/serve` starts at once.

ensure_venv() {
    local extras="$1" python="${PYTHON:-python3}" spec="." stamp
    if [ ! -x .venv/bin/python ]; then
        if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$0: Tokens needs Python 3.11 or newer; set PYTHON to one" >&2
            exit 1
        fi
        "$python" -m venv .venv
    fi
    if [ -n "$extras" ]; then spec=".[$extras]"; fi
    stamp="$(cat pyproject.toml; echo "$spec")"
    if [ ! -f .venv/.tokens-installed ] || [ "$(cat .venv/.tokens-installed)" != "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
        printf '%s' "$stamp" > .venv/.tokens-installed
    fi
}
