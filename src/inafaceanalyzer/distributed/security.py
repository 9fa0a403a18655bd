"""Mutual TLS for the cluster: only holders of a certificate signed by the CA get in.

With the three files given, every connection (server to scheduler, worker
to scheduler, worker to worker) is TLS in both directions: each side shows a
certificate signed by the CA and checks the other's. Without them, Dask's own
security configuration applies (``distributed.comm.tls.*`` and
``distributed.comm.require-encryption``, e.g. from ``DASK_*`` environment
variables), which is plain TCP unless it says otherwise.
"""

from __future__ import annotations

import os
from typing import Literal

from ..errors import OptionsError

__all__ = ["add_tls_arguments", "make_security"]

Role = Literal["scheduler", "worker", "client"]


def make_security(
    ca_file: str | os.PathLike[str] | None,
    cert: str | os.PathLike[str] | None,
    key: str | os.PathLike[str] | None,
    role: Role,
):  # type: ignore[no-untyped-def]
    """A ``distributed.security.Security`` for ``role``.

    Args:
        ca_file: the certificate authority that signs every member's certificate.
        cert, key: this member's certificate and private key (PEM); the key
            may be in the certificate file.
        role: ``scheduler`` (the server: its scheduler and its client share
            the certificate), ``worker`` (a worker and its nanny) or
            ``client``.

    Raises:
        OptionsError: some of the files are given but not the others, or one
            does not exist.
    """
    from distributed.security import Security

    given = {"--tls-ca-file": ca_file, "--tls-cert": cert}
    if not any(given.values()) and key is None:
        return Security()
    missing = [flag for flag, value in given.items() if not value]
    if missing:
        raise OptionsError(f"mutual TLS needs --tls-ca-file and --tls-cert (and --tls-key unless the key is in "
                           f"the certificate file): {', '.join(missing)} missing")
    for value in (ca_file, cert, key):
        if value is not None and not os.path.isfile(value):
            raise OptionsError(f"TLS file not found: {value}")
    ca, cert, key = os.fspath(ca_file), os.fspath(cert), None if key is None else os.fspath(key)  # type: ignore[arg-type]
    roles = ("scheduler", "client") if role == "scheduler" else (role,)
    kwargs: dict[str, str | None] = {"tls_ca_file": ca}
    for name in roles:
        kwargs[f"tls_{name}_cert"] = cert
        kwargs[f"tls_{name}_key"] = key
    return Security(require_encryption=True, **kwargs)


def add_tls_arguments(parser) -> None:  # type: ignore[no-untyped-def]
    """``--tls-ca-file``, ``--tls-cert`` and ``--tls-key`` (the spellings of ``dask worker``)."""
    group = parser.add_argument_group(
        "mutual TLS",
        "With these three files every connection is TLS and both ends show a certificate signed by the CA: "
        "only holders of such a certificate can submit work or join as workers. Without them, Dask's "
        "security configuration applies (plain TCP by default).",
    )
    group.add_argument("--tls-ca-file", "--tls_ca_file", dest="tls_ca_file", metavar="PEM",
                       help="certificate authority that signs the certificates of the server and of the workers")
    group.add_argument("--tls-cert", "--tls_cert", dest="tls_cert", metavar="PEM",
                       help="this machine's certificate, signed by the CA")
    group.add_argument("--tls-key", "--tls_key", dest="tls_key", metavar="PEM",
                       help="the private key of the certificate (if not in the certificate file)")
