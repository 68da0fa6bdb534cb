"""`installer example`: the sklearn iris InferenceService of KServe's docs, ready for this install.

It names the ``kserve-s3`` ServiceAccount where the namespace is a model namespace, carries the
ModelMesh annotation in ModelMesh mode and the Istio sidecar annotations when model namespaces
run in a mesh, and is validated against the InferenceService CRD of the chosen KServe version.
"""

from __future__ import annotations

from typing import Any

from installer.components import mode_of
from installer.components.model_namespaces import S3_SERVICE_ACCOUNT
from installer.components.model_namespaces import names as model_namespace_names
from installer.errors import BuildError, ValidationError
from installer.objects import Obj
from installer.parameters import Parameters
from installer.validate import _crd_schemas, _custom_validator, _raise_first

SKLEARN_IRIS = "gs://kfserving-examples/models/sklearn/1.0/model"
MESH_ANNOTATIONS = {
    "sidecar.istio.io/inject": "true",
    "sidecar.istio.io/rewriteAppHTTPProbers": "true",
    "serving.knative.openshift.io/enablePassthrough": "true",
}


def inference_service(namespace: str, params: Parameters) -> Obj:
    annotations: dict[str, str] = dict(mode_of(params).annotations)
    if params["mesh.sidecarInjection"]:
        annotations.update(MESH_ANNOTATIONS)
    predictor: dict[str, Any] = {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": SKLEARN_IRIS}}
    if namespace in model_namespace_names(params):
        predictor["serviceAccountName"] = S3_SERVICE_ACCOUNT
    meta: dict[str, Any] = {"name": "sklearn-iris", "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": meta,
        "spec": {"predictor": predictor},
    }


def validate_example(obj: Obj, crds: list[Obj]) -> None:
    """Check ``obj`` against the InferenceService CRD among ``crds``."""
    schemas = _crd_schemas(crds)
    key = ("serving.kserve.io", "InferenceService", "v1beta1")
    if key not in schemas:
        raise BuildError("this KServe version has no InferenceService v1beta1 CRD")
    try:
        _raise_first(obj, _custom_validator(schemas[key]))
    except ValidationError as exc:
        raise ValidationError(f"example: {exc.message}") from None
