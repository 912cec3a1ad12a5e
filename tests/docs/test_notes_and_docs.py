"""The map stays true: every `Note [name]` cited in ember/ or docs/ is written down somewhere, and every
path docs/ARCHITECTURE.md names exists."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTE = re.compile(r"Note \[([^\]]+)\]")
# A definition: `Note [name]:`, `Note [name] (condition):`, or the title alone on its line.
DEFINITION = re.compile(r"Note \[([^\]]+)\](?:\s*\([^)]*\))?\s*:|^[\s#]*Note \[([^\]]+)\]\s*$", re.MULTILINE)


def _defined(text):
    return {a or b for a, b in DEFINITION.findall(text)}


def _sources():
    yield from sorted((ROOT / "ember").rglob("*.py"))
    yield from sorted((ROOT / "docs").glob("*.md"))


def _notes():
    cited, defined = {}, set()
    for path in _sources():
        text = path.read_text()
        for match in NOTE.finditer(text):
            cited.setdefault(match.group(1), path.relative_to(ROOT))
        if path.suffix == ".py":
            defined |= _defined(text)
    return cited, defined


def test_every_cited_note_is_defined():
    cited, defined = _notes()
    missing = {name: str(path) for name, path in cited.items() if name not in defined}
    assert not missing, f"Notes cited but never written: {missing}"


def test_a_note_is_written_once():
    seen = {}
    for path in sorted((ROOT / "ember").rglob("*.py")):
        for name in _defined(path.read_text()):
            seen.setdefault(name, []).append(str(path.relative_to(ROOT)))
    # "plain backward" is one idea applied in three files; each file's Note says how it applies there
    repeated = {n: p for n, p in seen.items() if len(p) > 1 and n != "plain backward"}
    assert not repeated, repeated


def test_architecture_names_files_that_exist():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    paths = set(re.findall(r"`((?:ember/|tests/|docs/)?[\w/]+\.(?:py|md))", text))
    assert len(paths) > 20
    missing = []
    for p in paths:
        if not (ROOT / p).exists() and not any((ROOT / "ember").rglob(p)):
            missing.append(p)
    assert not missing, f"docs/ARCHITECTURE.md names files that do not exist: {sorted(missing)}"


def test_architecture_lists_every_note_and_op_family():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    _, defined = _notes()
    unlisted = sorted(n for n in defined if n not in text and n.replace(" gradient", "") not in text)
    assert not unlisted, f"Notes missing from docs/ARCHITECTURE.md: {unlisted}"
    families = sorted(p.name for p in (ROOT / "ember" / "ops").glob("*.py") if p.name != "__init__.py")
    assert not [f for f in families if f"`{f}`" not in text], "op files missing from docs/ARCHITECTURE.md"
