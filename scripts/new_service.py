"""Create a Pace service under ``services/NAME``: ``make new-service NAME=name``.

The new member is the package ``pace-NAME`` (module ``pace_NAME``): a minimal
aiohttp app on the shared stack with ``/healthz`` and ``/metrics`` from
pace_servicekit, a test that runs it as a real process, a Dockerfile and a
fly.toml like the websockets service's. The root ``pyproject.toml`` gets it as
a dependency and a workspace source, so ``uv sync`` installs it; the Makefile's
``run-%`` and ``deploy-%`` rules then serve ``make run-NAME`` and
``make deploy-NAME`` with no edit. ``make new-service`` runs ``uv lock`` and
``uv sync`` after this script.

Errors (one root, :class:`NewServiceError`)::

    NewServiceError
    ├── bad name (pattern, length, or a package that already exists)
    └── root pyproject.toml not in the expected shape
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

__all__ = ["NewServiceError", "create_service", "main"]

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "service_template"
NAME_RE = re.compile(r"[a-z][a-z0-9-]*")
MAX_NAME = 30


class NewServiceError(Exception):
    """The service cannot be created; the message says why."""


def validate(name: str, root: Path) -> None:
    """Refuse names that would not make a clean package, module and fly app."""
    if not NAME_RE.fullmatch(name):
        raise NewServiceError(f"service name must match [a-z][a-z0-9-]*, got {name!r}")
    if name.endswith("-") or "--" in name or len(name) > MAX_NAME:
        raise NewServiceError(
            f"service name must not end in '-', hold '--' or exceed "
            f"{MAX_NAME} characters, got {name!r}"
        )
    if (root / "services" / name).exists():
        raise NewServiceError(f"services/{name} already exists")

    # NAME=core would shadow packages/pace-core, and so on.
    taken = {p.parent.name for p in root.glob("*/*/pyproject.toml")}
    if f"pace-{name}" in taken or name in taken:
        raise NewServiceError(f"a workspace member named pace-{name} already exists")


def render(name: str, dest: Path, template: Path = TEMPLATE) -> list[Path]:
    """Write every ``*.tmpl`` under ``template`` into ``dest``, filled in."""
    module = "pace_" + name.replace("-", "_")
    values = {
        "{{name}}": name,
        "{{package}}": f"pace-{name}",
        "{{module}}": module,
        "{{metric}}": name.replace("-", "_"),
    }
    written = []
    for source in sorted(template.rglob("*.tmpl")):
        relative = source.relative_to(template).with_suffix("")
        target = dest / str(relative).replace("__module__", module)
        text = source.read_text()
        for key, value in values.items():
            text = text.replace(key, value)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        written.append(target)
    return written


def register(pyproject: str, package: str) -> str:
    """``pyproject`` with ``package`` added to dependencies and uv sources.

    Edits the text, not a re-serialised TOML document, so the file's comments
    and layout stay as they are.
    """
    deps = re.search(r"(?ms)^\[project\]$.*?^dependencies = \[$.*?^(\])", pyproject)
    sources = re.search(r"(?m)^\[tool\.uv\.sources\]$\n(?:^[^\[\n].*\n)*", pyproject)
    if deps is None or sources is None:
        raise NewServiceError(
            "root pyproject.toml lacks a multi-line [project] dependencies list "
            "or a [tool.uv.sources] table"
        )

    source_line = f"{package} = {{ workspace = true }}\n"
    text = pyproject[: sources.end()] + source_line + pyproject[sources.end() :]
    text = text[: deps.start(1)] + f'    "{package}",\n' + text[deps.start(1) :]

    parsed = tomllib.loads(text)
    if package not in parsed["project"]["dependencies"] or parsed["tool"]["uv"][
        "sources"
    ].get(package) != {"workspace": True}:
        raise NewServiceError(f"could not add {package} to the root pyproject.toml")
    return text


def create_service(name: str, root: Path = ROOT) -> list[Path]:
    """Create ``services/NAME`` and register it in the root pyproject.toml."""
    validate(name, root)
    pyproject = root / "pyproject.toml"
    updated = register(pyproject.read_text(), f"pace-{name}")

    written = render(name, root / "services" / name)
    pyproject.write_text(updated)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python scripts/new_service.py NAME``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0] in {"-h", "--help"}:
        print(
            "usage: python scripts/new_service.py NAME  (or make new-service NAME=...)"
        )
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    try:
        written = create_service(args[0])
    except NewServiceError as exc:
        print(f"new-service: {exc}", file=sys.stderr)
        return 1

    name = args[0]
    for path in written:
        print(f"created {path.relative_to(ROOT)}")
    print(f"added pace-{name} to pyproject.toml (dependencies, [tool.uv.sources])")
    print(f"next: make run-{name}   |   .venv/bin/pytest services/{name}")
    print(
        f"      make deploy-{name} after renaming the app in services/{name}/fly.toml"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
