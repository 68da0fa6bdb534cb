"""The :class:`~installer.cluster.client.Cluster` interface over HTTP: urllib3 and the API's paths.

The installer needs eight calls (get, server-side apply, update, status patch, delete, list, a
metadata-only list, a version check), so they are made here directly rather than through the
kubernetes client: that package costs ~0.4 s to import and its dynamic client discovers every API
group before the first call (a third of an identical redeploy). Discovery here is per group
version and only for the kinds used: ``GET /apis/<group>/<version>``, asked of the server once
per process (never read from a file another run left), again once when a kind is missing (a CRD
applied a moment ago).

Connections come from one urllib3 pool, large enough for ``--concurrency``; throttled requests
are retried as :mod:`installer.cluster.resilient` says. Bodies are parsed with orjson.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from installer import jsonio
from installer.cluster import crdwatch
from installer.cluster.client import FIELD_MANAGER, Ref, status_error
from installer.cluster.kubeconfig import Endpoint, load
from installer.errors import ClusterError, NotFoundError, root_cause
from installer.objects import Obj

log = logging.getLogger(__name__)

# The API server answers a list with metadata only when asked for this representation.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
# An object's answer with metadata only; plain JSON is the fallback of a server that has no such
# representation (either way only metadata is read).
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json"
APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML: the body is sent as JSON
MERGE_PATCH = "application/merge-patch+json"
POOL_SIZE = 32  # the largest --concurrency, plus the main thread's calls
PING_TIMEOUT = 10.0
CONNECT_TIMEOUT = 10.0


def connect(kubeconfig: Path | None = None, context: str | None = None) -> KubernetesCluster:
    """Load a kubeconfig (or in-cluster config) and check the API server answers; one clear error if not."""
    cluster = KubernetesCluster(load(kubeconfig, context))
    cluster.ping()
    if cluster.endpoint.insecure:  # said once, after the server answered, not on every request
        log.warning("TLS verification is off for %s (insecure-skip-tls-verify)", cluster.server)
    return cluster


class UnreachableError(ClusterError):
    """No answer at all: the connection could not be made, or timed out."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True)
class Call:
    """One HTTP request to the API server."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: Obj | None = None
    content_type: str = "application/json"
    accept: str = "application/json"
    timeout: float | None = None  # seconds to wait for the answer; None: as long as it takes


@dataclass(frozen=True)
class Resource:
    """A kind as the server serves it: where its objects live."""

    base: str  # /api/v1 or /apis/<group>/<version>
    plural: str
    namespaced: bool

    def path(self, namespace: str = "", name: str = "") -> str:
        """The object's URL path, or its collection's (in all namespaces without ``namespace``).
        A namespaced object named without a namespace is in ``default``, as kubectl has it."""
        scope = ""
        if self.namespaced and (namespace or name):
            scope = f"/namespaces/{quote(namespace or 'default', safe='')}"
        tail = f"/{quote(name, safe='')}" if name else ""
        return f"{self.base}{scope}/{self.plural}{tail}"


class KubernetesCluster:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.pool = _pool(endpoint)
        self._kinds: dict[str, dict[str, Resource] | None] = {}  # group version -> kind -> resource
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @property
    def server(self) -> str:
        return self.endpoint.server

    # ------------------------------------------------------------------ transport

    def _request(self, what: str, call: Call) -> Any:
        """One request; the parsed body, or the API Status as one of our errors."""
        response = self._send(what, call)
        return jsonio.loads(response.data) if response.data else {}

    def _send(self, what: str, call: Call, stream: bool = False) -> Any:
        """Send ``call``; the response (its body unread when ``stream``), or one of our errors:
        the API Status, a connection that broke mid-response, or no answer at all."""
        import urllib3

        url = self.server + call.path + (f"?{urlencode(call.query)}" if call.query else "")
        headers = {**self.endpoint.headers, "Accept": call.accept, "User-Agent": "kserve-installer"}
        data = None
        if call.body is not None:
            data = jsonio.dumps(call.body)
            headers["Content-Type"] = call.content_type
        timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=call.timeout)
        try:
            response = self.pool.request(
                call.method, url, body=data, headers=headers, timeout=timeout, preload_content=not stream
            )
        except urllib3.exceptions.HTTPError as exc:
            if isinstance(getattr(exc, "reason", exc), urllib3.exceptions.ProtocolError):
                raise ClusterError(
                    f"{what}: the connection to {self.server} broke mid-response: {root_cause(exc)}"
                ) from None
            raise UnreachableError(f"{what}: {self.server}: {root_cause(exc)}", root_cause(exc)) from None
        if response.status >= 400:
            body = response.read() if stream else response.data
            response.close()
            if body.startswith(crdwatch.MAGIC):  # a Status in the protobuf the call asked for
                body = crdwatch.embedded_status(body)
            raise status_error(response.status, body, what)
        return response

    # ------------------------------------------------------------------ discovery

    def resource(self, api_version: str, kind: str) -> Resource:
        """Where objects of a kind live; NotFoundError if the server does not serve it."""
        found = self._discovered(api_version, refresh=False)
        if found is None or kind not in found:
            # A CRD applied a moment ago: ask once more before giving up.
            found = self._discovered(api_version, refresh=True)
        if found is None or kind not in found:
            raise NotFoundError(f"the API server has no {api_version} {kind}", 404)
        return found[kind]

    def _discovered(self, api_version: str, refresh: bool) -> dict[str, Resource] | None:
        with self._lock:
            lock = self._locks.setdefault(api_version, threading.Lock())
        with lock:  # one request per group version, even with several threads asking
            if refresh or api_version not in self._kinds:
                self._kinds[api_version] = self._discover(api_version)
            return self._kinds[api_version]

    def _discover(self, api_version: str) -> dict[str, Resource] | None:
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            listing = self._request(f"API discovery of {api_version}", Call("GET", base))
        except NotFoundError:
            return None
        except ClusterError as exc:
            raise ClusterError(f"API discovery failed at {self.server}: {exc.message}") from None
        except Exception as exc:
            raise ClusterError(f"API discovery failed at {self.server}: {root_cause(exc)}") from None
        return {
            str(r["kind"]): Resource(base, str(r["name"]), bool(r.get("namespaced")))
            for r in listing.get("resources") or []
            if "/" not in str(r.get("name"))  # subresources
        }

    # ------------------------------------------------------------------ the calls

    def ping(self) -> None:
        try:
            self._request(f"API server {self.server}", Call("GET", "/version", timeout=PING_TIMEOUT))
        except UnreachableError as exc:
            raise ClusterError(f"cannot reach the API server at {self.server}: {exc.cause}") from None

    def serves(self, api_version: str, kind: str) -> bool:
        try:
            self.resource(api_version, kind)
        except NotFoundError:
            return False
        return True

    def get(self, ref: Ref) -> Obj | None:
        try:
            res = self.resource(ref.api_version, ref.kind)
            got: Obj = self._request(str(ref), Call("GET", res.path(ref.namespace, ref.name)))
        except NotFoundError:
            return None
        return got

    def _write(self, verb: str, obj: Obj, call: Call) -> Obj:
        """``call`` sent with ``obj`` as its body, as field manager ``kserve-installer``.

        ``fieldValidation=Ignore``: the server's default (Warn) parses each body a second time,
        strictly, only to answer with warnings about duplicate or unknown fields, which the
        installer never showed; for v0.20.0's 2.3 MB of CRDs that is ~8% of what the server
        spends on their applies, on a server whose CPU a first deploy waits for. What it stores
        and refuses is the same: server-side apply refuses a field a built-in kind lacks whatever
        the directive (tests/test_cluster.py), a custom resource's unknown fields are pruned under
        both, and a body serialized from a dict has no duplicate keys. The render has checked
        every object against its schema besides."""
        query = {"fieldManager": FIELD_MANAGER, "fieldValidation": "Ignore", **call.query}
        got: Obj = self._request(f"{verb} {Ref.of(obj)}", dataclasses.replace(call, query=query, body=obj))
        return got

    def _path_of(self, obj: Obj) -> str:
        ref = Ref.of(obj)
        return self.resource(ref.api_version, ref.kind).path(ref.namespace, ref.name)

    def apply(
        self, obj: Obj, *, force: bool = False, dry_run: bool = False, metadata_only: bool = False
    ) -> Obj:
        query = {"force": "true"} if force else {}
        if dry_run:
            query["dryRun"] = "All"
        accept = METADATA_ONLY if metadata_only else "application/json"
        call = Call("PATCH", self._path_of(obj), query, content_type=APPLY_PATCH, accept=accept)
        return self._write("apply", obj, call)

    def update(self, obj: Obj) -> Obj:
        return self._write("update", obj, Call("PUT", self._path_of(obj)))

    def patch_status(self, ref: Ref, status: Obj) -> Obj:
        res = self.resource(ref.api_version, ref.kind)
        path = res.path(ref.namespace, ref.name) + "/status"
        query = {"fieldManager": FIELD_MANAGER}
        got: Obj = self._request(
            f"patch the status of {ref}", Call("PATCH", path, query, {"status": status}, MERGE_PATCH)
        )
        return got

    def delete(self, ref: Ref) -> bool:
        return self._delete(ref, f"delete {ref}", {})

    def delete_dry_run(self, ref: Ref) -> bool:
        """A server-side dry-run delete; False if the object (or its kind) is already gone."""
        return self._delete(ref, f"delete {ref} (dry run)", {"dryRun": "All"})

    def _delete(self, ref: Ref, what: str, query: dict[str, str]) -> bool:
        try:
            res = self.resource(ref.api_version, ref.kind)
            self._request(what, Call("DELETE", res.path(ref.namespace, ref.name), query))
        except NotFoundError:
            return False
        return True

    def list(self, api_version: str, kind: str, namespace: str = "") -> list[Obj]:
        try:
            res = self.resource(api_version, kind)
            got = self._request(f"list {kind}", Call("GET", res.path(namespace)))
        except NotFoundError:
            return []
        return [dict(item) for item in got.get("items") or []]

    def watch_crds(self, label_selector: str, since: str, timeout: float) -> Iterator[Obj]:
        """CRDs with these labels, each time one changes after resourceVersion ``since``, for at
        most ``timeout`` seconds (the server ends the watch then); in protobuf, which the server
        encodes once for its own controllers and us (:mod:`~installer.cluster.crdwatch`).
        Stopping the iteration early closes the connection."""
        import urllib3

        seconds = max(1, int(timeout))
        query = {"watch": "1", "labelSelector": label_selector, "resourceVersion": since}
        query["timeoutSeconds"] = str(seconds)
        what = "watch CustomResourceDefinition"
        path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        call = Call("GET", path, query, accept=crdwatch.PROTOBUF_WATCH, timeout=seconds + CONNECT_TIMEOUT)
        response = self._send(what, call, stream=True)
        try:
            answered = str(response.headers.get("Content-Type") or "")
            if not answered.startswith(crdwatch.PROTOBUF_WATCH.split(";")[0]):
                # A proxy that does not pass protobuf on: its frames would not be ours to read.
                raise ClusterError(
                    f"{what}: the server answered {answered or 'no Content-Type'}, not protobuf"
                )
            while True:
                head = _read_exactly(response, 4)
                if not head:
                    return  # the server ended the watch
                frame = _read_exactly(response, int.from_bytes(head, "big"))
                kind_of_event, kind, body = crdwatch.event(frame)
                if kind_of_event == "ERROR":  # e.g. 410 Gone: that resourceVersion is too old
                    status = crdwatch.status(body)
                    raise status_error(int(status.get("code") or 500), status, what)
                if kind_of_event in ("ADDED", "MODIFIED") and kind == "CustomResourceDefinition":
                    yield crdwatch.crd_state(body)
        except crdwatch.WireError as exc:
            raise ClusterError(f"{what}: the server sent an event that cannot be read: {exc}") from None
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterError(f"{what}: the connection to {self.server} broke: {root_cause(exc)}") from None
        finally:
            response.close()  # not back to the pool: the rest of the stream is unread

    def resource_versions(
        self, api_version: str, kind: str, label_selector: str
    ) -> dict[tuple[str, str], str]:
        try:
            res = self.resource(api_version, kind)
            query = {"labelSelector": label_selector}
            got = self._request(f"list {kind}", Call("GET", res.path(), query, accept=METADATA_LIST))
        except NotFoundError:
            return {}
        out: dict[tuple[str, str], str] = {}
        for item in got.get("items") or []:
            meta = item.get("metadata") or {}
            out[(str(meta.get("namespace") or ""), str(meta.get("name")))] = str(meta.get("resourceVersion"))
        return out


def _read_exactly(response: Any, size: int) -> bytes:
    """``size`` bytes of a streamed body; b"" at its end, before any byte of them."""
    data = b""
    while len(data) < size:
        chunk = response.read(size - len(data))
        if not chunk:
            if data:
                raise crdwatch.WireError(f"the stream ended {size - len(data)} bytes into a frame")
            return b""
        data += chunk
    return data


def _pool(endpoint: Endpoint) -> Any:
    """One connection pool for the endpoint: TLS as the kubeconfig says, throttling retried."""
    import urllib3

    from installer.cluster.resilient import throttle_retry

    tls: dict[str, Any] = {}
    if endpoint.server.startswith("https://"):
        if endpoint.insecure:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            tls.update(cert_reqs="CERT_NONE", assert_hostname=False)
        else:
            tls.update(cert_reqs="CERT_REQUIRED", ca_certs=endpoint.ca_file)
            if endpoint.tls_server_name:
                tls.update(server_hostname=endpoint.tls_server_name, assert_hostname=endpoint.tls_server_name)
        if endpoint.cert_file:
            tls.update(cert_file=endpoint.cert_file, key_file=endpoint.key_file)
    common: dict[str, Any] = {"maxsize": POOL_SIZE, "retries": throttle_retry(), **tls}
    if endpoint.proxy_url:
        return urllib3.ProxyManager(endpoint.proxy_url, **common)
    return urllib3.PoolManager(**common)
