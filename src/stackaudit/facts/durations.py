"""nginx time values, read the way nginx reads them (``ngx_parse_time``).

A value is a run of ``<number><unit>`` parts, largest unit first, each unit at most once,
optionally separated by spaces: ``60``, ``60s``, ``1m``, ``1h30m``, ``1d``, ``500ms``.
Units: ``ms`` (milliseconds), ``s``, ``m``, ``h``, ``d``, ``w``, ``M`` (30 days), ``y``
(365 days). A trailing number without a unit is seconds. Directives that hold
milliseconds internally (``proxy_read_timeout``, every ``*_timeout``) accept ``ms`` but
reject ``M`` and ``y``; directives that hold seconds (``expires``, ``keepalive_time``...)
accept ``y`` and ``M`` but not ``ms``.

Reference: https://github.com/nginx/nginx/blob/release-1.27.4/src/core/ngx_parse.c
(``ngx_parse_time``) and https://nginx.org/en/docs/syntax.html.
"""

from __future__ import annotations

_UNITS: dict[str, tuple[int, float]] = {
    # unit -> (step, seconds); each unit must come after every unit already seen.
    "y": (1, 365 * 24 * 3600.0),
    "M": (2, 30 * 24 * 3600.0),
    "w": (3, 7 * 24 * 3600.0),
    "d": (4, 24 * 3600.0),
    "h": (5, 3600.0),
    "m": (6, 60.0),
    "s": (7, 1.0),
}
_STEP_MSEC = 8
_STEP_LAST = 9
_MAX_INT = 2**63 - 1


def parse_duration(text: str, *, msec: bool = True) -> float | None:
    """Seconds meant by an nginx time value, or None when nginx would reject it.

    ``msec`` tells whether the directive stores milliseconds (all ``*_timeout``
    directives do), which decides whether ``ms`` is allowed and ``M``/``y`` are not."""
    step = _UNITS["M"][0] if msec else 0  # ngx_parse_time starts at st_month for msec
    total = 0.0
    value = 0
    valid = False
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        index += 1
        if char.isdigit():
            value = value * 10 + int(char)
            valid = True
            if value > _MAX_INT:
                return None
            continue
        if char == "m" and index < length and text[index] == "s":
            if not msec or step >= _STEP_MSEC:
                return None
            index += 1
            step, scale = _STEP_MSEC, 0.001
        elif char in _UNITS:
            unit_step, scale = _UNITS[char]
            if step >= unit_step:
                return None
            step = unit_step
        elif char == " ":
            # A bare number followed by a space is seconds; nothing may follow but a number.
            if step >= _UNITS["s"][0]:
                return None
            step, scale = _STEP_LAST, 1.0
        else:
            return None
        total += value * scale
        value = 0
        while index < length and text[index] == " ":
            index += 1
    if not valid:
        return None
    return total + value


def format_duration(seconds: float) -> str:
    """A short human reading of ``seconds`` (``45s``, ``1h30m``, ``500ms``)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts) or "0s"
