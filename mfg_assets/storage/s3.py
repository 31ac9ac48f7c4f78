"""A plain boto3 S3 client, configured from the settings (no Dagster).

The ``AWS_*`` settings (:mod:`mfg_assets.settings`) say where S3 is: ``AWS_ENDPOINT_URL`` (MinIO,
a loopback test server; unset = AWS), ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, the credentials
(unset = boto3's usual chain: instance profile, IRSA, ``~/.aws``) and ``AWS_MAX_ATTEMPTS``
(attempts per call, first included; standard retry mode). The Dagster resource that shows the
same variables in the UI is built in ``mfg_assets.defs.resources``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mfg_assets.settings import get_settings


@dataclass(frozen=True)
class S3ClientConfig:
    """How to reach S3. ``get_client()`` builds the client (no connection is opened until the
    first request), so a :class:`~mfg_assets.storage.files.S3FileStore` can hold this and
    build its client on first use."""

    endpoint_url: str | None = None
    region_name: str | None = None
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    max_attempts: int = 5

    @classmethod
    def from_settings(cls) -> S3ClientConfig:
        """The configuration the environment gives now."""
        s = get_settings()
        return cls(
            endpoint_url=s.aws_endpoint_url,
            region_name=s.aws_region,
            aws_access_key_id=s.aws_access_key_id,
            aws_secret_access_key=s.aws_secret_access_key,
            aws_session_token=s.aws_session_token,
            max_attempts=s.aws_max_attempts,
        )

    def get_client(self) -> Any:
        """A boto3 S3 client (thread-safe) with standard retries up to ``max_attempts``."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region_name,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
            config=Config(retries={"max_attempts": self.max_attempts, "mode": "standard"}),
        )


def s3_client() -> Any:
    """A boto3 S3 client configured from the settings."""
    return S3ClientConfig.from_settings().get_client()
