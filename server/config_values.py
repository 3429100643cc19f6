"""How one setting's value is read: numbers, switches, origins and ports, each refused with a
``ConfigError`` that names the setting (server/config.py reads them all)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

N = TypeVar("N", int, float)


class ConfigError(ValueError):
    """A setting is missing, malformed, or contradicts another one."""


def number(env: Mapping[str, str], name: str, default: N, kind: Callable[[str], N]) -> N:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    what = "an integer" if kind is int else "a number"
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, not {raw!r}") from None
    # ("nan" and "inf" are floats to Python: a routing interval of nan stopped the router, and
    # every sweep with it, on a server that said it was healthy. A black-box tester.)
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be {what}, not {raw!r}")
    return value


def is_origin(url: str) -> bool:
    """``scheme://host[:port]``, nothing more (a trailing ``/`` is taken off before)."""
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and port_ok
            and "@" not in parts.netloc and not parts.path and not parts.query
            and not parts.fragment and not url.endswith(("?", "#")))


def valid_port(value: str) -> bool:
    return value.isdigit() and 0 < int(value) < 65536


#: How a switch (``LIVECHAT_COOKIE_SECURE``, ``LIVECHAT_WEBHOOK_ALLOW_PRIVATE``) may be
#: spelled, in any case; unset or empty is off, anything else is refused.
SWITCH_ON = ("1", "true", "yes", "on")
SWITCH_OFF = ("0", "false", "no", "off")


def switch(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in SWITCH_ON:
        return True
    if raw in SWITCH_OFF or raw == "":
        return False
    raise ConfigError(f"{name} is on ({', '.join(SWITCH_ON)}) or off ({', '.join(SWITCH_OFF)}), "
                      f"not {env[name]!r}")


def integer(env: Mapping[str, str], name: str, default: int) -> int:
    return number(env, name, default, int)


def decimal(env: Mapping[str, str], name: str, default: float) -> float:
    return number(env, name, default, float)
