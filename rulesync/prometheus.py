"""A project's Prometheus, asked one PromQL query at a time over its HTTP API.

Only `GET /api/v1/query` and `GET /api/v1/query_range`, with a timeout, no proxy and no
redirect (a redirect would carry the credentials to another host). Credentials written in
the URL (`http://user:secret@host:9090`) are sent as HTTP basic auth and never shown: every
message and every recorded source names the URL without them. Whatever goes wrong gives no
figure and a reason, never 0.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, NamedTuple

# The answer to one query is a few numbers; anything larger is not what was asked for.
MAX_ANSWER_BYTES = 1024 * 1024


class Answer(NamedTuple):
    """A query's figure (None: no figure, `note` says why) and the time Prometheus evaluated
    it at (epoch seconds; 0 when unknown). A range query's `points` are (time, figure)."""

    value: float | None
    at: float = 0.0
    note: str = ""
    points: tuple[tuple[float, float], ...] = ()


def public_url(url: str) -> str:
    """`url` without credentials: how it is shown and recorded."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(a URL that cannot be read)"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def url_problem(url: str) -> str | None:
    """Why `url` cannot name a Prometheus (None: it can)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return "it is not a URL"
    if parts.scheme not in ("http", "https"):
        return "it must start with http:// or https://"
    if not parts.hostname:
        return "it names no host"
    if parts.query or parts.fragment:
        return "it may not hold `?` or `#`"
    return None


def _request(url: str, path: str, params: dict[str, str], timeout: float) -> tuple[Any, str]:
    """The JSON `data` of one API call, or (None, why not)."""
    import base64
    import json
    import urllib.error
    import urllib.request
    from urllib.parse import unquote, urlencode, urlsplit

    problem = url_problem(url)
    if problem is not None:
        return None, f"unusable URL: {problem}"
    parts = urlsplit(url)
    address = public_url(url).rstrip("/") + path + "?" + urlencode(params)
    request = urllib.request.Request(address, headers={"Accept": "application/json"})
    if parts.username is not None:
        secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        token = base64.b64encode(secret.encode("utf-8")).decode("ascii")
        request.add_header("Authorization", f"Basic {token}")

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    shown = public_url(url)
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        detail = ""
        with contextlib.suppress(ValueError, AttributeError, OSError):
            detail = str(json.loads(exc.read(MAX_ANSWER_BYTES)).get("error", ""))
        return None, f"{shown} answered HTTP {exc.code}" + (f": {detail[:200]}" if detail else "")
    except TimeoutError:
        return None, f"{shown} did not answer within {timeout:g} s"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return None, f"{shown} did not answer within {timeout:g} s"
        why = getattr(reason, "strerror", None) or str(reason)
        return None, f"{shown} is unreachable: {why}"
    except (OSError, ValueError) as exc:
        return None, f"{shown} is unreachable: {getattr(exc, 'strerror', None) or exc}"
    if len(body) > MAX_ANSWER_BYTES:
        return None, f"{shown} answered more than {MAX_ANSWER_BYTES} bytes"
    try:
        doc = json.loads(body)
    except ValueError:
        return None, f"{shown} did not answer with JSON (is it Prometheus?)"
    if not isinstance(doc, dict) or doc.get("status") != "success":
        error = doc.get("error", "") if isinstance(doc, dict) else ""
        return None, f"{shown} refused the query: {str(error)[:200] or 'no reason given'}"
    return doc.get("data"), ""


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) or math.isinf(value) else value


def _one_series(data: Any, query: str) -> tuple[list[Any], str]:
    """The one series a figure comes from, or ([], why not)."""
    if not isinstance(data, dict):
        return [], "an answer without data"
    result = data.get("result")
    if data.get("resultType") == "scalar":
        return [result], ""
    if not isinstance(result, list) or not result:
        return [], "no data for the query"
    if len(result) > 1:
        return [], f"{len(result)} series: aggregate them into one (e.g. sum({query}))"
    return [result[0]], ""


def query(url: str, promql: str, *, timeout: float, at: float | None = None) -> Answer:
    """An instant query's single figure, evaluated now (or at `at`, epoch seconds)."""
    params = {"query": promql}
    if at is not None:
        params["time"] = f"{at:.3f}"
    data, note = _request(url, "/api/v1/query", params, timeout)
    if note:
        return Answer(None, note=note)
    series, note = _one_series(data, promql)
    if note:
        return Answer(None, note=note)
    sample = series[0] if data.get("resultType") == "scalar" else series[0].get("value")
    if not isinstance(sample, list) or len(sample) != 2:
        return Answer(None, note="an answer without a value")
    when, value = _number(sample[0]), _number(sample[1])
    if value is None:
        return Answer(None, at=when or 0.0, note="the query's value is not a number (NaN)")
    return Answer(value, at=when or 0.0)


def query_range(
    url: str, promql: str, *, start: float, end: float, step: float, timeout: float
) -> Answer:
    """A range query's figures from `start` to `end` every `step` seconds (`points`); the
    answer's `value` is the last one."""
    params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
    data, note = _request(url, "/api/v1/query_range", params, timeout)
    if note:
        return Answer(None, note=note)
    series, note = _one_series(data, promql)
    if note:
        return Answer(None, note=note)
    values = series[0].get("values") if isinstance(series[0], dict) else None
    points = []
    for sample in values if isinstance(values, list) else []:
        if isinstance(sample, list) and len(sample) == 2:
            when, value = _number(sample[0]), _number(sample[1])
            if when is not None and value is not None:
                points.append((when, value))
    if not points:
        return Answer(None, note="no data for the query")
    return Answer(points[-1][1], at=points[-1][0], points=tuple(points))
