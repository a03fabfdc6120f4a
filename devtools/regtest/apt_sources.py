"""Find the Debian archive the machine's apt is set up for (deb822 and one-line sources)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from devtools.regtest.errors import NodeInstallError


def debian_mirror(apt_etc: Path = Path("/etc/apt")) -> str:
    """Return the main Debian archive URI from the machine's apt sources.

    Reading it from the host keeps host names out of the project and follows whatever
    mirror or proxy the machine is set up for.  ``$ALATAU_DEBIAN_MIRROR`` overrides it
    (needed on non-Debian hosts, e.g. Ubuntu, whose archive has no trixie).
    """
    override = os.environ.get("ALATAU_DEBIAN_MIRROR")
    if override:
        return override.rstrip("/")
    codename = _os_codename()
    entries = [
        (uri.rstrip("/"), suites)
        for uri, suites in _apt_source_entries(apt_etc)
        if uri.startswith(("http://", "https://")) and not uri.rstrip("/").endswith("-security")
    ]
    main = [uri for uri, suites in entries if codename and codename in suites]
    other = [uri for uri, suites in entries if not any(s.endswith("-security") for s in suites)]
    for uri in main + other:
        return uri
    raise NodeInstallError(
        f"no Debian archive found in {apt_etc} sources; set ALATAU_DEBIAN_MIRROR"
    )


def _os_codename() -> str | None:
    """The host's release codename (e.g. bookworm), used to spot the main archive entry."""
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "VERSION_CODENAME":
            return value.strip().strip('"') or None
    return None


def _apt_source_entries(apt_etc: Path) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Yield ``(uri, suites)`` for every enabled ``deb`` entry, deb822 and one-line alike."""
    parts = apt_etc / "sources.list.d"
    for path in sorted(parts.glob("*.sources")):
        yield from _deb822_entries(path.read_text(encoding="utf-8", errors="replace"))
    for path in [apt_etc / "sources.list", *sorted(parts.glob("*.list"))]:
        if path.is_file():
            yield from _one_line_entries(path.read_text(encoding="utf-8", errors="replace"))


def _deb822_entries(text: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Parse deb822 ``.sources`` paragraphs (continuation lines folded into the field)."""
    for paragraph in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in paragraph.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = tuple(fields.get("suites", "").split())
        for uri in fields.get("uris", "").split():
            yield uri, suites


def _one_line_entries(text: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Parse one-line ``deb [options] uri suite components`` entries."""
    for raw in text.splitlines():
        tokens = raw.split("#", 1)[0].split()
        if not tokens or tokens[0] != "deb":
            continue
        tokens = tokens[1:]
        if tokens and tokens[0].startswith("["):
            while tokens and not tokens[0].endswith("]"):
                tokens = tokens[1:]
            tokens = tokens[1:]
        if len(tokens) >= 2:
            yield tokens[0], (tokens[1],)
