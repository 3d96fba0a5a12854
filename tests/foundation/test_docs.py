"""The README and docs/ point only at things that exist, and document every variable."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"
MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
VARIABLE = re.compile(r"`([A-Z][A-Z0-9_]+)`")


def _string_arguments(call: ast.Call) -> list[str]:
    return [
        arg.value
        for arg in call.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    ]


def _is_environment(node: ast.AST) -> bool:
    """`ENV`, `environ` or `os.environ`: the names settings and its readers use."""
    if isinstance(node, ast.Name):
        return node.id in {"ENV", "environ"}
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def variables_read(tree: ast.AST, readers: dict[str, set[str]] | None = None) -> set[str]:
    """Names read from the environment: env.get("X"), env["X"], reader(env, "X"), and
    readers that read fixed names themselves (secret_key(ENV) reads SECRET_KEY)."""
    readers = readers or {}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr == "get"
                and _is_environment(func.value)
            ):
                names.update(_string_arguments(node)[:1])
            elif node.args and _is_environment(node.args[0]):
                names.update(_string_arguments(node)[:1])
                if isinstance(func, ast.Name):
                    names.update(readers.get(func.id, set()))
        elif (
            isinstance(node, ast.Subscript)
            and _is_environment(node.value)
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return names


def fixed_name_readers() -> dict[str, set[str]]:
    """Functions of config/env.py that read a fixed variable, by function name."""
    tree = ast.parse((ROOT / "config" / "env.py").read_text())
    return {
        function.name: found
        for function in tree.body
        if isinstance(function, ast.FunctionDef) and (found := variables_read(function))
    }


def settings_variables() -> set[str]:
    tree = ast.parse((ROOT / "config" / "settings.py").read_text())
    return variables_read(tree, fixed_name_readers())


def server_variables() -> set[str]:
    return variables_read(ast.parse((ROOT / "gunicorn.conf.py").read_text()))


def documented(section: str) -> set[str]:
    """Variables named in the first column of the table under `## <section>`."""
    text = CONFIGURATION.read_text()
    body = text.split(f"\n## {section}", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in body.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2 and not set(cells[1].strip()) <= {"-"}:
            names.update(VARIABLE.findall(cells[1]))
    return names


def test_every_variable_settings_reads_is_documented_and_nothing_else():
    assert documented("Application") == settings_variables()


def test_every_variable_gunicorn_reads_is_documented_and_nothing_else():
    assert documented("Server") == server_variables()


def test_the_variables_of_commands_are_read_by_those_commands():
    commands = ROOT / "accounts" / "management" / "commands"
    sources = "".join(path.read_text() for path in commands.glob("*.py"))
    named = documented("Commands")
    assert named
    assert {name for name in named if f'"{name}"' not in sources} == set()


def test_env_example_names_only_documented_variables():
    example = (ROOT / ".env.example").read_text()
    named = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    every = documented("Application") | documented("Server") | documented("Commands")
    assert named and named <= every


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for line in path.read_text().splitlines():
        if match := re.match(r"^#{1,6}\s+(.*)$", line):
            text = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def test_links_in_readme_and_docs_point_to_existing_files_and_headings():
    broken = []
    for page in MARKDOWN:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:", target):
                continue  # an external address or a mailto:
            path_part, _, anchor = target.partition("#")
            linked = (page.parent / path_part).resolve() if path_part else page
            if not linked.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []
