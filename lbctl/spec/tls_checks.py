"""The cross-field rules of the TLS fields (:mod:`lbctl.spec.tls`) and the store objects a
spec names (:func:`certificate_refs`, checked against the store at apply time)."""

from __future__ import annotations

from lbctl.errors import FieldError
from lbctl.spec.models import Spec
from lbctl.spec.tls import ONE_YEAR_S

__all__ = ["certificate_refs", "tls_errors"]


def _unique(values: list[str], where: str) -> list[FieldError]:
    seen: dict[str, int] = {}
    out = []
    for i, value in enumerate(values):
        if value in seen:
            out.append(FieldError(f"{where}[{i}]", f"duplicate {value!r} (also at {where}"
                                                   f"[{seen[value]}])"))
        seen.setdefault(value, i)
    return out


def tls_errors(spec: Spec) -> list[FieldError]:
    """The cross-field rules of the TLS fields of ``spec`` (module docstring), by field path."""
    errors: list[FieldError] = []
    for fi, fe in enumerate(spec.frontends):
        for bi, bind in enumerate(fe.bind):
            tls = bind.tls
            if tls is None:
                continue
            where = f"frontends[{fi}].bind[{bi}].tls"
            for attr in ("certificates", "alpn", "ciphers", "ciphersuites"):
                errors += _unique(list(getattr(tls, attr)), f"{where}.{attr}")
            if tls.client_ca is not None and tls.verify == "none":
                errors.append(FieldError(f"{where}.verify", "client_ca needs verify: optional "
                                                            "or required"))
            if tls.client_ca is None and tls.verify != "none":
                errors.append(FieldError(f"{where}.client_ca", f"verify: {tls.verify} needs a "
                                                               "client_ca (a CA of the store)"))
        hsts = fe.hsts
        if hsts is not None and hsts.preload:
            if not hsts.include_subdomains:
                errors.append(FieldError(f"frontends[{fi}].hsts.include_subdomains",
                                         "preload needs include_subdomains: true"))
            if hsts.max_age < ONE_YEAR_S:
                errors.append(FieldError(f"frontends[{fi}].hsts.max_age",
                                         f"preload needs max_age of at least {ONE_YEAR_S} s"))
    for bi, be in enumerate(spec.backends):
        for si, server in enumerate(be.servers):
            stls = server.tls
            if stls is None:
                continue
            where = f"backends[{bi}].servers[{si}].tls"
            errors += _unique(list(stls.alpn), f"{where}.alpn")
            if stls.verify == "required" and stls.ca is None:
                errors.append(FieldError(f"{where}.ca", "verify: required needs a ca (a CA of "
                                                        "the store), or verify: none"))
    return errors


def certificate_refs(spec: Spec) -> list[tuple[str, str, str]]:
    """Every store object ``spec`` names: ``(field path, name, kind)``, ``kind`` being
    ``certificate`` (a bind's certificate: needs a key) or ``ca`` (``client_ca``, a server's
    ``ca``), in spec order."""
    out: list[tuple[str, str, str]] = []
    for fi, fe in enumerate(spec.frontends):
        for bi, bind in enumerate(fe.bind):
            if bind.tls is None:
                continue
            where = f"frontends[{fi}].bind[{bi}].tls"
            out += [(f"{where}.certificates[{i}]", name, "certificate")
                    for i, name in enumerate(bind.tls.certificates)]
            if bind.tls.client_ca is not None:
                out.append((f"{where}.client_ca", bind.tls.client_ca, "ca"))
    for bi, be in enumerate(spec.backends):
        for si, server in enumerate(be.servers):
            if server.tls is not None and server.tls.ca is not None:
                out.append((f"backends[{bi}].servers[{si}].tls.ca", server.tls.ca, "ca"))
    return out
