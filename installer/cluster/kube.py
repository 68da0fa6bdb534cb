"""The :class:`~installer.cluster.client.Cluster` interface on the official kubernetes client."""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path
from typing import Any

from installer import jsonio
from installer.cluster.client import FIELD_MANAGER, Ref, status_error
from installer.errors import ClusterError, NotFoundError, root_cause
from installer.objects import Obj

log = logging.getLogger(__name__)


def connect(kubeconfig: Path | None = None, context: str | None = None) -> KubernetesCluster:
    """Load a kubeconfig (or in-cluster config) and check the API server answers; one clear error if not."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    try:
        if kubeconfig is None and context is None:
            try:
                config.load_incluster_config()
                api = client.ApiClient()
            except ConfigException:
                api = config.new_client_from_config(context=context)
        else:
            api = config.new_client_from_config(
                config_file=str(kubeconfig) if kubeconfig else None, context=context
            )
    except (ConfigException, FileNotFoundError, TypeError) as exc:
        where = f" {kubeconfig}" if kubeconfig else ""
        raise ClusterError(f"no usable kubeconfig{where}: {' '.join(str(exc).split())}") from None
    api.configuration.retries = 0
    insecure = not api.configuration.verify_ssl
    if insecure:
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    cluster = KubernetesCluster(api)
    cluster.ping()
    if insecure:  # said once, after the server answered, rather than by urllib3 on every request
        log.warning("TLS verification is off for %s (insecure-skip-tls-verify)", api.configuration.host)
    return cluster


class KubernetesCluster:
    def __init__(self, api: Any) -> None:
        self.api = api
        self._dynamic: Any = None
        self._discovery_dir: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()

    @property
    def dynamic(self) -> Any:
        """The dynamic client; made on first use, since it runs API discovery when made.

        Its discovery cache is this process's own: the client's default is a file in the shared
        temporary directory named after the server URL only, so a file another run left (another
        cluster at the same URL, another user's) would be believed instead of asking the server.
        """
        if self._dynamic is None:
            from kubernetes import dynamic

            self._discovery_dir = tempfile.TemporaryDirectory(prefix="installer-discovery-")
            cache_file = str(Path(self._discovery_dir.name) / "discovery.json")
            try:
                self._dynamic = dynamic.DynamicClient(self.api, cache_file=cache_file)
            except Exception as exc:
                raise ClusterError(f"API discovery failed at {self.server}: {root_cause(exc)}") from None
        return self._dynamic

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)

    def ping(self) -> None:
        from kubernetes.client import VersionApi
        from kubernetes.client.exceptions import ApiException

        try:
            VersionApi(self.api).get_code(_request_timeout=10)
        except ApiException as exc:  # it answered, and said no
            raise status_error(int(exc.status or 0), exc.body, f"API server {self.server}") from None
        except Exception as exc:
            raise ClusterError(f"cannot reach the API server at {self.server}: {root_cause(exc)}") from None

    def _resource(self, api_version: str, kind: str) -> Any:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        with self._lock:  # discovery cache is not thread-safe
            try:
                return self.dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                # A CRD applied a moment ago: refresh discovery once before giving up.
                self.dynamic.resources.invalidate_cache()
                try:
                    return self.dynamic.resources.get(api_version=api_version, kind=kind)
                except ResourceNotFoundError:
                    raise NotFoundError(f"the API server has no {api_version} {kind}", 404) from None

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import DynamicApiError

        try:
            return fn(*args, **kwargs)
        except (ApiException, DynamicApiError) as exc:
            raise status_error(int(getattr(exc, "status", 0) or 0), getattr(exc, "body", ""), what) from None
        except Exception as exc:
            raise ClusterError(f"{what}: {self.server}: {root_cause(exc)}") from None

    def get(self, ref: Ref) -> Obj | None:
        try:
            res = self._resource(ref.api_version, ref.kind)
            got = self._call(
                str(ref), res.get, name=ref.name, namespace=ref.namespace or None, serialize=False
            )
        except NotFoundError:
            return None
        return _json(got)

    def _write(self, verb: str, obj: Obj, method: str, **kwargs: Any) -> Obj:
        """Send ``obj`` with one of the dynamic client's write methods; the server's answer."""
        ref = Ref.of(obj)
        res = self._resource(ref.api_version, ref.kind)
        got = self._call(
            f"{verb} {ref}",
            getattr(res, method),
            body=obj,
            name=ref.name,
            namespace=ref.namespace or None,
            field_manager=FIELD_MANAGER,
            serialize=False,
            **kwargs,
        )
        return _json(got)

    def apply(self, obj: Obj, *, force: bool = False, dry_run: bool = False) -> Obj:
        extra: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
        return self._write("apply", obj, "server_side_apply", force_conflicts=force, **extra)

    def update(self, obj: Obj) -> Obj:
        return self._write("update", obj, "replace")

    def patch_status(self, ref: Ref, status: Obj) -> Obj:
        res = self._resource(ref.api_version, ref.kind).subresources["status"]
        got = self._call(
            f"patch the status of {ref}",
            res.patch,
            body={"status": status},
            name=ref.name,
            namespace=ref.namespace or None,
            content_type="application/merge-patch+json",
            field_manager=FIELD_MANAGER,
            serialize=False,
        )
        return _json(got)

    def delete(self, ref: Ref) -> bool:
        try:
            res = self._resource(ref.api_version, ref.kind)
            self._call(f"delete {ref}", res.delete, name=ref.name, namespace=ref.namespace or None)
        except NotFoundError:
            return False
        return True

    def list(self, api_version: str, kind: str, namespace: str = "") -> list[Obj]:
        try:
            res = self._resource(api_version, kind)
            got = self._call(f"list {kind}", res.get, namespace=namespace or None, serialize=False)
        except NotFoundError:
            return []
        return [dict(item) for item in _json(got).get("items") or []]

    def resource_versions(
        self, api_version: str, kind: str, label_selector: str
    ) -> dict[tuple[str, str], str]:
        try:
            res = self._resource(api_version, kind)
            got = self._call(
                f"list {kind}",
                res.get,
                label_selector=label_selector,
                header_params={"Accept": METADATA_LIST},
                serialize=False,
            )
        except NotFoundError:
            return {}
        out: dict[tuple[str, str], str] = {}
        for item in _json(got).get("items") or []:
            meta = item.get("metadata") or {}
            out[(str(meta.get("namespace") or ""), str(meta.get("name")))] = str(meta.get("resourceVersion"))
        return out


# The API server answers a list with metadata only when asked for this representation.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def _json(response: Any) -> Obj:
    """The response body as plain dicts. The client's ResourceInstance wrapper costs ~20 ms per
    large CRD to build and convert back; the bytes parse directly (orjson)."""
    parsed: Obj = jsonio.loads(response.data)
    return parsed
