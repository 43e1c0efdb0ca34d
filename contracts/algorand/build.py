"""Compile the project's Algorand contracts with puyapy into artifacts/, or check that the
committed artifacts are exactly what the pinned compiler produces from the committed sources.

    .venv-puya/bin/python contracts/algorand/build.py           # write artifacts/
    .venv-puya/bin/python contracts/algorand/build.py --check   # compare, exit 1 on a difference

Run it with .venv-puya's Python (scripts/tools/algorand_contracts.sh installs it): puyapy reads
the algorand-python stubs of the environment it runs in.

Reproducibility: the compiler and all of its dependencies are pinned (requirements.txt); it runs
from this folder on relative paths (TEAL comments and ARC-56 source info name files relative
to the working directory); source maps, which hold absolute paths, are not produced; the hash
seed is fixed. puyapy writes no timestamps, so the output is a pure function of the sources.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
# The contract files, in a fixed order. arc200_base.py is imported by both and has no contract of
# its own to compile.
SOURCES = ("arc200.py", "security_token.py")
CONTRACTS = ("Arc200", "SecurityToken")
SUFFIXES = (".approval.teal", ".clear.teal", ".approval.bin", ".clear.bin", ".arc56.json")
AVM_VERSION = "10"


def expected_files() -> list[str]:
    return sorted(contract + suffix for contract in CONTRACTS for suffix in SUFFIXES)


def compile_into(out_dir: Path) -> None:
    """Run puyapy on SOURCES, writing exactly expected_files() into out_dir."""
    venv = Path(sys.prefix)
    env = dict(os.environ)
    # puyapy finds the algorand-python stubs through the active virtual env's interpreter.
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["NO_COLOR"] = "1"
    command = [
        sys.executable,
        "-m",
        "puyapy",
        *SOURCES,
        "--out-dir",
        str(out_dir),
        "--target-avm-version",
        AVM_VERSION,
        "--optimization-level",
        "1",
        "--debug-level",
        "1",
        "--output-teal",
        "--output-bytecode",
        "--output-arc56",
        "--no-output-arc32",
        "--no-output-source-map",
        "--no-output-client",
        "--treat-warnings-as-errors",
        "--log-level",
        "error",
    ]
    result = subprocess.run(command, cwd=HERE, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"puyapy failed (exit {result.returncode})")
    produced = sorted(path.name for path in out_dir.iterdir())
    if produced != expected_files():
        raise SystemExit(f"puyapy produced {produced}, expected {expected_files()}")


def build() -> None:
    with tempfile.TemporaryDirectory(prefix="puyapy-") as scratch:
        out_dir = Path(scratch)
        compile_into(out_dir)
        ARTIFACTS.mkdir(exist_ok=True)
        for stale in ARTIFACTS.iterdir():
            if stale.name not in expected_files():
                stale.unlink()
        for name in expected_files():
            shutil.copyfile(out_dir / name, ARTIFACTS / name)
    for name in expected_files():
        print(f"{(ARTIFACTS / name).stat().st_size:>8}  artifacts/{name}")


def first_difference(name: str, committed: bytes, fresh: bytes) -> str:
    """Where two versions of a file part: the byte offset, and the line for text files."""
    limit = min(len(committed), len(fresh))
    offset = next((i for i in range(limit) if committed[i] != fresh[i]), limit)
    where = f"byte {offset}"
    if not name.endswith(".bin"):
        where += f", line {committed[:offset].count(b'\n') + 1}"
    return (
        f"first difference at {where}; "
        f"committed {len(committed)} bytes, recompiled {len(fresh)} bytes"
    )


def check() -> int:
    """Recompile into a temporary folder and compare byte for byte with artifacts/."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="puyapy-") as scratch:
        out_dir = Path(scratch)
        compile_into(out_dir)
        committed_names = sorted(p.name for p in ARTIFACTS.iterdir()) if ARTIFACTS.is_dir() else []
        for name in sorted(set(committed_names) - set(expected_files())):
            problems.append(f"artifacts/{name}: not produced by the build (remove it)")
        for name in expected_files():
            committed_path = ARTIFACTS / name
            if not committed_path.is_file():
                problems.append(f"artifacts/{name}: missing (run build.py and commit it)")
                continue
            committed = committed_path.read_bytes()
            fresh = (out_dir / name).read_bytes()
            if committed != fresh:
                difference = first_difference(name, committed, fresh)
                problems.append(f"artifacts/{name}: differs: {difference}")
    if problems:
        print("Algorand artifacts are not what the sources compile to:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print(
            "Rebuild with `.venv-puya/bin/python contracts/algorand/build.py` and commit.",
            file=sys.stderr,
        )
        return 1
    print(f"Algorand artifacts match a fresh compile ({len(expected_files())} files)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="recompile into a temporary folder and compare with artifacts/ byte for byte",
    )
    args = parser.parse_args()
    if args.check:
        return check()
    build()
    return 0


if __name__ == "__main__":
    sys.exit(main())
