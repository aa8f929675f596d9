"""The certificate store: ``PUT|GET|DELETE /api/v1/certificates/{name}``, ``GET /api/v1/certificates``.

A ``PUT`` takes a PEM bundle as the body (``application/x-pem-file`` or ``text/plain``): a
certificate, its chain and its key (for a bind), or CA certificates (for ``client_ca`` and a
server's ``ca``). It is checked (:mod:`lbctl.state.pem`: 422 naming what is wrong, nothing
written), loaded by ``haproxy -c``, kept 0600, and, when the spec uses it, replaced in the
running HAProxy (:mod:`lbctl.control.certs`). Writes are ``admin``'s, name the version they
edit with ``If-Match`` (each is a new version, the spec unchanged) and are recorded in the
history and the audit log. ``GET`` never answers a key; ``DELETE`` is refused (422) while the
spec names the object.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from lbctl.api.auth import require_role
from lbctl.api.contract import answer, ok, problems
from lbctl.api.deps import ControllerDep, WriteDep
from lbctl.api.operations import run_write
from lbctl.client.cert_models import Certificate, CertificateList, CertificateOutcome
from lbctl.control import certs
from lbctl.errors import FieldError, UnreadableBody
from lbctl.spec.types import NAME_RE
from lbctl.state.certs import CertStore

__all__ = ["PEM_BODY", "certs_router"]

certs_router = APIRouter(tags=["certificates"])

#: The certificate's name in the path: a store name, never a path.
NameParam = Annotated[str, Path(pattern=NAME_RE.pattern, description="The store name "
                                "(what the spec names), e.g. site or internal-ca")]
_PEM = {"type": "string", "format": "binary",
        "description": "PEM: certificate, chain, key (or CA certificates)"}
#: The body of a PUT.
PEM_BODY = {"requestBody": {"required": True, "description": (
    "A PEM bundle: the certificate, its chain (leaf first, then each issuer) and its "
    "unencrypted key; or CA certificates only."),
    "content": {"application/x-pem-file": {"schema": _PEM}, "text/plain": {"schema": _PEM}}}}


def _store(controller: ControllerDep) -> CertStore:
    return certs.store_of(controller.core)


@certs_router.get(
    "/certificates", operation_id="list_certificates",
    dependencies=[Depends(require_role("viewer"))],
    summary="Every certificate and CA of the store (never a key)",
    responses={**ok(CertificateList, "The store"), **problems()},
)
def list_certificates(controller: ControllerDep) -> JSONResponse:
    """:class:`CertificateList`: each object's subject, SANs, issuer, validity, fingerprint."""
    store = _store(controller)
    spec = controller.current()[1]
    infos = store.all()
    return answer({"certificates": [i.as_dict() for i in infos],
                   "used_by": {i.name: store.uses(spec, i.name) for i in infos}})


@certs_router.get(
    "/certificates/{name}", operation_id="get_certificate",
    dependencies=[Depends(require_role("viewer"))],
    summary="One certificate or CA of the store (never its key)",
    responses={**ok(Certificate, "The object"), **problems(404, 422)},
)
def get_certificate(name: NameParam, controller: ControllerDep) -> JSONResponse:
    """:class:`Certificate`; 404 when the store has no such object."""
    return answer(_store(controller).info(name).as_dict())


@certs_router.put(
    "/certificates/{name}", operation_id="put_certificate",
    dependencies=[Depends(require_role("admin"))],
    summary="Keep a certificate bundle or a CA; replace it live when the spec uses it",
    openapi_extra=PEM_BODY,
    responses={**ok(CertificateOutcome, "Kept (and applied)", etag_header=True, accepted=True),
               **problems(400, 409, 412, 422, 428, 502, 503)},
)
async def put_certificate(request: Request, name: NameParam, controller: ControllerDep,
                          write: WriteDep) -> JSONResponse:
    """Check and keep the body as ``name`` over the version ``If-Match`` names (module
    docstring); answers :class:`CertificateOutcome` with the new ``ETag``."""
    data = await request.body()
    if not data.strip():
        raise UnreadableBody([FieldError("", "the request body is empty: send a PEM bundle")])
    base = write.version(controller)

    def apply() -> dict[str, object]:
        return certs.put_certificate(controller.core, name, data, if_match=base, who=write.who,
                                     author=write.author, message=write.message).as_dict()

    return await run_in_threadpool(run_write, request, controller, write, "certificate", base,
                                   apply)


@certs_router.delete(
    "/certificates/{name}", operation_id="delete_certificate",
    dependencies=[Depends(require_role("admin"))],
    summary="Remove a certificate or CA the spec does not use",
    responses={**ok(CertificateOutcome, "Removed", etag_header=True, accepted=True),
               **problems(404, 412, 422, 428)},
)
def delete_certificate(request: Request, name: NameParam, controller: ControllerDep,
                       write: WriteDep) -> JSONResponse:
    """Remove ``name`` over the version ``If-Match`` names; 422 naming the spec fields that
    still use it."""
    base = write.version(controller)

    def apply() -> dict[str, object]:
        return certs.remove_certificate(controller.core, name, if_match=base, who=write.who,
                                        author=write.author, message=write.message).as_dict()

    return run_write(request, controller, write, "certificate", base, apply)
