"""What an nginx ``ssl_protocols`` list and an OpenSSL cipher string enable.

``ssl_protocols`` names the protocol versions one by one (ngx_http_ssl_module); nginx's
default depends on its version: ``TLSv1 TLSv1.1 TLSv1.2`` before 1.23.4, ``TLSv1
TLSv1.1 TLSv1.2 TLSv1.3`` from 1.23.4 ("TLSv1.3 protocol is enabled by default"), and
``TLSv1.2 TLSv1.3`` from 1.27.3 ("TLSv1 and TLSv1.1 protocols are disabled by
default"; ``NGX_SSL_DEFAULT_PROTOCOLS`` in src/event/ngx_event_openssl.h).

A cipher string (``ssl_ciphers``, OpenSSL's ``SSL_CTX_set_cipher_list``, see
openssl-ciphers(1)) is read left to right: ``X`` adds the suites of ``X``, ``-X``
removes them (a later element may add them again), ``!X`` removes them for good,
``+X`` only moves them; ``A+B`` is the suites in both ``A`` and ``B``; ``:``, ``,`` and
spaces separate elements; ``@STRENGTH`` and ``@SECLEVEL=n`` are commands. Suites are not
tracked one by one: the string is read over the few *weak families* that matter here
(NULL encryption, export grade, RC4, single DES, triple DES, anonymous DH/ECDH), each
alias standing for the families it holds some suite of (an over-approximation for
``A+B``), and a removal clearing a family only when the alias holds all of it
(``!aNULL`` clears both anonymous families, ``!ADH`` only anonymous DH). Aliases are
those of OpenSSL 1.1.x and 3.x (where ``HIGH`` no longer holds triple DES); an element
this table does not know adds nothing, so an unusual string is never flagged on a guess.
MD5 needs no family of its own: every TLS suite with an MD5 MAC is also RC4, NULL or
export grade.
"""

from __future__ import annotations

import re
from typing import Literal

WeakFamily = Literal["NULL", "EXPORT", "RC4", "DES", "3DES", "ADH", "AECDH"]

WEAK_FAMILY_LABELS: dict[WeakFamily, str] = {
    "NULL": "NULL (no encryption)",
    "EXPORT": "EXPORT-grade",
    "RC4": "RC4",
    "DES": "single DES",
    "3DES": "3DES (SWEET32)",
    "ADH": "anonymous DH (aNULL)",
    "AECDH": "anonymous ECDH (aNULL)",
}

_ALL_BUT_NULL: frozenset[WeakFamily] = frozenset({"EXPORT", "RC4", "DES", "3DES", "ADH", "AECDH"})
_ANONYMOUS: frozenset[WeakFamily] = frozenset({"ADH", "AECDH"})
_OLD_BULK: frozenset[WeakFamily] = frozenset({"RC4", "NULL", "EXPORT", "DES", "3DES"})
_NULL: frozenset[WeakFamily] = frozenset({"NULL"})
_EVERY: frozenset[WeakFamily] = _ALL_BUT_NULL | _NULL

# alias (upper-cased) -> (families it holds a suite of, families it holds entirely)
_ALIASES: dict[str, tuple[frozenset[WeakFamily], frozenset[WeakFamily]]] = {
    "ALL": (_ALL_BUT_NULL, _ALL_BUT_NULL),
    "COMPLEMENTOFALL": (frozenset({"NULL"}), frozenset({"NULL"})),
    "ENULL": (frozenset({"NULL"}), frozenset({"NULL"})),
    "NULL": (frozenset({"NULL"}), frozenset({"NULL"})),
    "EXP": (frozenset({"EXPORT"}), frozenset({"EXPORT"})),
    "EXPORT": (frozenset({"EXPORT"}), frozenset({"EXPORT"})),
    "EXPORT40": (frozenset({"EXPORT"}), frozenset()),
    "EXPORT56": (frozenset({"EXPORT"}), frozenset()),
    "LOW": (frozenset({"DES", "ADH"}), frozenset({"DES"})),
    "MEDIUM": (frozenset({"RC4", "3DES", "ADH", "AECDH"}), frozenset()),
    "HIGH": (_ANONYMOUS, frozenset()),
    "ANULL": (_ANONYMOUS | _OLD_BULK, _ANONYMOUS),
    "ADH": (frozenset({"ADH", "EXPORT", "RC4", "DES", "3DES"}), frozenset({"ADH"})),
    "AECDH": (frozenset({"AECDH", "RC4", "3DES", "NULL"}), frozenset({"AECDH"})),
    "RC4": (frozenset({"RC4", "EXPORT", "ADH", "AECDH"}), frozenset({"RC4"})),
    "DES": (frozenset({"DES", "EXPORT", "ADH"}), frozenset({"DES"})),
    "3DES": (frozenset({"3DES", "ADH", "AECDH"}), frozenset({"3DES"})),
    "MD5": (frozenset({"RC4", "NULL", "EXPORT", "ADH"}), frozenset()),
    "SHA": (_EVERY, frozenset()),
    "SHA1": (_EVERY, frozenset()),
    "SSLV3": (_EVERY, frozenset()),
    "TLSV1": (_EVERY, frozenset()),
    "TLSV1.2": (_ANONYMOUS | _NULL, frozenset()),
    "RSA": (_OLD_BULK, frozenset()),
    "KRSA": (_OLD_BULK, frozenset()),
    "ARSA": (_OLD_BULK, frozenset()),
    "EDH": (frozenset({"EXPORT", "DES", "3DES"}), frozenset()),
    "DHE": (frozenset({"EXPORT", "DES", "3DES"}), frozenset()),
    "KEDH": (frozenset({"EXPORT", "DES", "3DES", "ADH"}), frozenset()),
    "KDHE": (frozenset({"EXPORT", "DES", "3DES", "ADH"}), frozenset()),
    "EECDH": (frozenset({"RC4", "3DES", "NULL"}), frozenset()),
    "ECDHE": (frozenset({"RC4", "3DES", "NULL"}), frozenset()),
    "KEECDH": (frozenset({"RC4", "3DES", "NULL", "AECDH"}), frozenset()),
    "KECDHE": (frozenset({"RC4", "3DES", "NULL", "AECDH"}), frozenset()),
    "AECDSA": (frozenset({"RC4", "3DES", "NULL"}), frozenset()),
    "ECDSA": (frozenset({"RC4", "3DES", "NULL"}), frozenset()),
    "AES": (_ANONYMOUS, frozenset()),
    "AES128": (_ANONYMOUS, frozenset()),
    "AES256": (_ANONYMOUS, frozenset()),
    "AESGCM": (_ANONYMOUS, frozenset()),
    "CAMELLIA": (_ANONYMOUS, frozenset()),
    "SEED": (frozenset({"ADH"}), frozenset()),
    "SHA256": (_ANONYMOUS | _NULL, frozenset()),
    "SHA384": (frozenset({"AECDH", "NULL"}), frozenset()),
}
# Names of single suites (``ECDHE-RSA-AES128-GCM-SHA256``, ``DES-CBC3-SHA``): what their
# name says is what they are.
_SUITE = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)+$")


def _suite_families(name: str) -> frozenset[WeakFamily]:
    parts = name.split("-")
    found: set[WeakFamily] = set()
    if parts[0].startswith("EXP"):
        found.add("EXPORT")
    if "NULL" in parts:
        found.add("NULL")
    if "RC4" in parts:
        found.add("RC4")
    if "CBC3" in parts or "3DES" in parts or "DES-CBC3" in name:
        found.add("3DES")
    elif "DES" in parts:
        found.add("DES")
    if parts[0] == "ADH" or (parts[0].startswith("EXP") and "ADH" in parts):
        found.add("ADH")
    if parts[0] == "AECDH":
        found.add("AECDH")
    return frozenset(found)


def _element(text: str) -> tuple[frozenset[WeakFamily], frozenset[WeakFamily]]:
    """(families held, families held entirely) by one element, ``A+B`` included."""
    held: frozenset[WeakFamily] | None = None
    whole: frozenset[WeakFamily] | None = None
    for part in text.split("+"):
        upper = part.upper()
        if upper in _ALIASES:
            part_held, part_whole = _ALIASES[upper]
        elif _SUITE.match(upper):
            part_held, part_whole = _suite_families(upper), frozenset()
        else:
            return frozenset(), frozenset()  # not known here: adds nothing
        held = part_held if held is None else held & part_held
        whole = part_whole if whole is None else whole & part_whole
    return held or frozenset(), whole or frozenset()


def weak_cipher_families(cipher_string: str) -> list[WeakFamily]:
    """The weak families a cipher string leaves enabled, in a stable order."""
    enabled: set[WeakFamily] = set()
    banned: set[WeakFamily] = set()
    for element in re.split(r"[:, ]+", cipher_string.strip()):
        if not element or element.startswith("@"):
            continue
        if element[0] == "!":
            _, whole = _element(element[1:])
            banned |= whole
            enabled -= whole
        elif element[0] == "-":
            enabled -= _element(element[1:])[1]
        elif element[0] == "+":
            continue  # moves suites already there to the end; adds none
        else:
            enabled |= _element(element)[0] - banned
    return [family for family in WEAK_FAMILY_LABELS if family in enabled]


# -- protocols --------------------------------------------------------------------------

WEAK_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")


_CHANGED_IN = frozenset({(1, 23), (1, 27)})


def default_protocols(version: tuple[int, ...] | None) -> tuple[str, ...] | None:
    """nginx's ``ssl_protocols`` default for a version; None when not known. A version
    without its patch number reads as ``x.y.0``, yet an ``nginx:1.27`` image follows the
    newest 1.27.x: within the two lines where the default changed it is not judged."""
    if version is None or (len(version) == 3 and version[2] == 0 and version[:2] in _CHANGED_IN):
        return None
    if version >= (1, 27, 3):
        return ("TLSv1.2", "TLSv1.3")
    if version >= (1, 23, 4):
        return ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
    return ("TLSv1", "TLSv1.1", "TLSv1.2")


def weak_protocols(protocols: tuple[str, ...]) -> list[str]:
    """The protocol versions of a list older than TLS 1.2, named as nginx names them
    (nginx reads the names case-insensitively: ``ngx_conf_set_bitmask_slot``)."""
    given = {name.lower() for name in protocols}
    return [name for name in WEAK_PROTOCOLS if name.lower() in given]
