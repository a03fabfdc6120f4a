"""Error codes are one enumeration per app, and each code names one meaning.

Every ``ApplicationError`` subclass, wherever it is defined, takes its ``code`` from
the ``<App>ErrorCode`` enum in its own app's ``errors`` module (or inherits its
parent's); no code is a bare string, and no two enums or classes claim the same code.
"""

from __future__ import annotations

import importlib
import pkgutil
from enum import StrEnum
from types import ModuleType

from core.errors import ApplicationError

APPS = ["core", "accounts", "exchange", "compliance", "custody", "treasury", "merchants"]
# Apps without errors of their own: nothing there may define an ApplicationError.
WITHOUT_ERRORS = ["audit", "bank"]


def _import_all(package: str) -> None:
    """Import every module of ``package`` so every error class is defined."""
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if ".migrations" in info.name or info.name.endswith(("wsgi", "devrun", "testenv")):
            continue
        importlib.import_module(info.name)


def _subclasses(cls: type[ApplicationError]) -> list[type[ApplicationError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _enums(module: ModuleType) -> list[type[StrEnum]]:
    return [
        value
        for name, value in vars(module).items()
        if name.endswith("ErrorCode")
        and isinstance(value, type)
        and issubclass(value, StrEnum)
        and value.__module__ == module.__name__
    ]


def _our_errors() -> list[type[ApplicationError]]:
    for package in [*APPS, *WITHOUT_ERRORS]:
        _import_all(package)
    every: list[type[ApplicationError]] = [ApplicationError, *_subclasses(ApplicationError)]
    return [cls for cls in every if cls.__module__.split(".")[0] in {*APPS, *WITHOUT_ERRORS}]


def test_each_app_has_one_error_code_enum() -> None:
    for app in APPS:
        enums = _enums(importlib.import_module(f"{app}.errors"))
        assert len(enums) == 1, f"{app}.errors defines {enums}"
        assert enums[0].__name__.endswith("ErrorCode")


def test_every_error_code_is_a_member_of_its_apps_enum() -> None:
    errors = _our_errors()
    assert len(errors) > 40  # every module was imported
    for cls in errors:
        code = cls.code
        assert isinstance(code, StrEnum), f"{cls.__qualname__}.code is a bare {code!r}"
        enum_app = type(code).__module__.split(".")[0]
        assert type(code).__module__ == f"{enum_app}.errors", cls
        app = cls.__module__.split(".")[0]
        assert app not in WITHOUT_ERRORS, f"{cls.__qualname__} belongs in an app's errors"
        if "code" in vars(cls):  # set here, not inherited: from this app's own enum
            assert enum_app == app, f"{cls.__qualname__} takes its code from {enum_app}"


def test_codes_are_unique_per_meaning() -> None:
    owner: dict[str, str] = {}
    for app in APPS:
        for enum in _enums(importlib.import_module(f"{app}.errors")):
            for member in enum:
                assert member.value not in owner, f"{member.value} in {owner.get(member.value)}"
                owner[member.value] = enum.__name__
    claimed: dict[str, str] = {}
    for cls in _our_errors():
        if "code" not in vars(cls):
            continue
        code = str(cls.code)
        assert code not in claimed, f"{cls.__qualname__} and {claimed.get(code)} share {code}"
        claimed[code] = cls.__qualname__
    # The codes still serialise as the strings clients know.
    from accounts.errors import InsufficientFunds

    assert InsufficientFunds().as_dict()["code"] == "insufficient_funds"
    assert type(InsufficientFunds().as_dict()["code"]) is str
