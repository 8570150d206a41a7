"""Storage URLs: the scheme, the query string, and driver options read from it.

A URL is checked once (`secrets.check_url`: user info, hosts, secret parameters) and its
query split once, when a driver is made from it (`driver_arguments`). radaros's own
options (`?max_size=20&command_timeout=5`) become constructor keywords, with keywords
given beside the URL winning; the backend's own parameters stay in the URL for it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from radaros.storage.secrets import check_url, holds_secret_parameter, option_shown, redact

__all__ = [
    "coerce_options",
    "database_in",
    "driver_arguments",
    "option_names",
    "scheme_of",
    "split_query",
    "take_options",
]


class FromUrl(Protocol):
    """A driver class, as far as URL parsing needs it."""

    @classmethod
    def _split_url(cls, url: str) -> tuple[tuple[Any, ...], dict[str, str]]: ...


def driver_arguments(
    driver_class: type[FromUrl], url: str, options: Mapping[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """`(positional arguments, keywords)` for `driver_class(url, **options)`: the URL
    checked, its radaros options taken out and merged under `options` (which win)."""
    check_url(url)
    arguments, raw = driver_class._split_url(url)
    return arguments, {**coerce_options(driver_class, raw, url), **options}


def take_options(
    driver_class: type, url: str, backend: str, backend_parameters: frozenset[str] | None
) -> tuple[str, dict[str, str]]:
    """`(url without radaros's options, those options)`. The backend's own parameters stay
    in the URL; with `backend_parameters`, any other one is refused by name."""
    names = option_names(driver_class)
    rest, ours = split_query(url, names)
    unknown = sorted(set(split_query(rest)[1]) - (backend_parameters or set()))
    if backend_parameters is not None and unknown:
        known = ", ".join(sorted(names | backend_parameters))
        raise ValueError(
            f"unknown option {option_shown(url, unknown[0])} in the {backend} URL; "
            f"known options: {known}"
        )
    return rest, ours


def _keyword_options(driver_class: type) -> dict[str, inspect.Parameter]:
    return {
        name: parameter
        for name, parameter in inspect.signature(driver_class).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def option_names(driver_class: type) -> set[str]:
    """The names a URL may use for the constructor's keyword options (`x_s` also as `x`)."""
    names = set(_keyword_options(driver_class))
    return names | {name.removesuffix("_s") for name in names}


def coerce_options(driver_class: type, raw: Mapping[str, str], url: str) -> dict[str, Any]:
    """Constructor keywords from the query parameters `raw` of `url`.

    A parameter `x` matches the keyword `x`, or `x_s` for a duration in seconds (so
    `connect_timeout=5` sets `connect_timeout_s`). Values take the type of the keyword's
    default. An unknown parameter raises ValueError naming it and the known ones.
    """
    parameters = _keyword_options(driver_class)
    options: dict[str, Any] = {}
    for name, text in raw.items():
        keyword = name if name in parameters else f"{name}_s"
        parameter = parameters.get(keyword)
        if parameter is None:
            known = ", ".join(sorted(parameters))
            shown = option_shown(url, name)
            raise ValueError(f"unknown option {shown} in {redact(url)}; known options: {known}")
        try:
            options[keyword] = _convert(text, parameter.default, name)
        except ValueError:
            if holds_secret_parameter(url):
                raise ValueError(f"option {option_shown(url, name)} has a wrong value") from None
            raise
    return options


def _convert(text: str, default: Any, name: str) -> Any:
    try:
        if isinstance(default, bool):
            lowered = text.lower()
            if lowered not in _TRUE | _FALSE:
                raise ValueError
            return lowered in _TRUE
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        kind = type(default).__name__
        raise ValueError(f"option {name!r} must be a {kind}, not {text!r}") from None
    return text


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def scheme_of(url: str) -> str:
    """The URL's scheme, lower case ("" when it has none)."""
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else ""


def split_query(url: str, names: set[str] | None = None) -> tuple[str, dict[str, str]]:
    """`(url without the taken parameters, {name: value})`.

    With `names`, only those parameters are taken (the rest stay in the URL exactly as
    written); without, all are. Call `check_url` first: a `?` in a password would
    otherwise start the query.
    """
    base, question, query = url.partition("?")
    if not question:
        return url, {}
    taken: dict[str, str] = {}
    kept: list[str] = []
    for segment in query.split("&"):
        if not segment:
            continue
        raw_name, _, raw_value = segment.partition("=")
        name = unquote(raw_name.replace("+", " "))
        if names is None or name in names:
            taken[name] = unquote(raw_value.replace("+", " "))
        else:
            kept.append(segment)
    return (f"{base}?{'&'.join(kept)}" if kept else base), taken


def database_in(url: str | None) -> str | None:
    """The database a server URL names in its path (`/app` -> "app"), or None."""
    if not url:
        return None
    return unquote(urlsplit(url).path.lstrip("/")) or None
