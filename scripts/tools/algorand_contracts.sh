# The Algorand contract toolchain (pinned puyapy, algorand-python, algorand-python-testing and
# pytest, for contracts/algorand/build.py and the algorand_artifacts test). Source it; don't run
# it. Self-contained: it does not need lib.sh.

# The Python 3.12 that puyapy needs: python3.12 on PATH if it runs (a pyenv shim may not), else
# pyenv's own 3.12.
algorand_contract_python() {
  local candidate
  for candidate in "$(command -v python3.12 2>/dev/null)" \
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
    if [ -x "$candidate" ] &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "error: puyapy needs Python 3.12 (python3.12 on PATH or under pyenv's versions)" >&2
  return 1
}

# Creates .venv-puya from Python 3.12 and installs contracts/algorand/requirements.txt into it, on
# first use and again (from a clean venv) whenever that file changes: a hash of it is kept in
# the venv.
ensure_algorand_contract_tools() {
  local root venv requirements stamp want python
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  venv="$root/.venv-puya"
  requirements="$root/contracts/algorand/requirements.txt"
  stamp="$venv/.requirements.sha256"
  want=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== installing the Algorand contract tools into .venv-puya (puyapy, algorand-python-testing)"
    python=$(algorand_contract_python) || return 1
    "$python" -m venv --clear "$venv" || return 1
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" || return 1
    echo "$want" > "$stamp"
  fi
}
