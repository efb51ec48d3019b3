"""The one redaction: a URL as rulesync records, prints and logs it, without its credentials.

A library URL in the user's config may carry a token (`https://oauth2:TOKEN@host/rules.git`,
`…?private_token=…`). Only the fetch itself uses the URL as written; the library's label — what
the manifest and the commit trailer record, and what every message and log line shows — is
the redacted form. The user-info of a `scheme://` URL is removed whole (a token is often the
user name alone), and so is every query or fragment parameter whose name says it holds a
credential. An scp-like `git@host:path` keeps its user: it has no place for a password.
"""

from __future__ import annotations

import re

# Parameter names (any case) whose value is a credential: `token`, `access_token`,
# `private_token`, `api_key`, `key`, `password`, `secret`, `sig`, `auth`, `X-Amz-Signature`…
# Both patterns are compiled when first used (`re` keeps them): most runs print no URL.
_SECRET_PARAM = (
    r"(?i)^(?:[\w.-]*[_.-])?(?:token|key|password|passwd|pwd|secret|signature|sig|auth|"
    r"authorization|credentials?)$"
)
# A `scheme://` URL inside free text: up to a blank, a quote or a bracket that ends it.
_URL_IN_TEXT = r"[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s'\"<>`]+"


def _parameters(text: str) -> str:
    """`a=1&token=x&b=2` without its credential parameters (`a=1&b=2`)."""
    kept = [p for p in text.split("&") if not re.match(_SECRET_PARAM, p.partition("=")[0])]
    return "&".join(kept)


def redact_url(url: str) -> str:
    """`url` without user-info and without credential query or fragment parameters; anything
    that is not a `scheme://` URL (a folder, an scp-like address) is returned as it is."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme or "/" in scheme:
        return url
    rest, hash_sign, fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    authority = authority.rpartition("@")[2]
    result = f"{scheme}://{authority}{slash}{path}"
    if question:
        query = _parameters(query)
        result += f"?{query}" if query else ""
    if hash_sign:
        # A library's `URL#ref` keeps its ref; a `key=value` fragment loses its credentials.
        fragment = _parameters(fragment) if "=" in fragment else fragment
        result += f"#{fragment}" if fragment else ""
    return result


def scrub(text: str) -> str:
    """`text` (a message, git's error, a log value) with every URL in it redacted."""
    if "://" not in text:
        return text
    return re.sub(_URL_IN_TEXT, lambda m: redact_url(m.group(0)), text)
