"""The S3-compatible storage backend (AWS S3, MinIO, Cloudflare R2, rclone …) through boto3.

Uploads are spooled to a local temp file first (see app/storage.py), then sent in one streaming
PUT read from disk: no part buffers in memory. Credentials come from boto3's usual chain (the
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment variables, a profile or an instance role).
"""
import os
import tempfile

from app.storage import SpoolingBackend, check_key

# One PUT up to this size; bigger files go multipart, one part in memory at a time.
MULTIPART_THRESHOLD = 256 * 1024 * 1024


class S3Backend(SpoolingBackend):
    """Blobs as objects `<prefix><key>` in one bucket."""

    kind = "s3"

    def __init__(self, bucket, prefix="", endpoint_url=None, region=None, tmp_dir=None, addressing_style=None):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        config = Config(
            signature_version="s3v4",
            # Only the checksums S3 requires: newer defaults trip some S3-compatible servers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": addressing_style or ("path" if endpoint_url else "auto")},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        )
        self.client = boto3.session.Session().client("s3", endpoint_url=endpoint_url or None,
                                                     region_name=region or None, config=config)
        super().__init__(tmp_dir or os.path.join(tempfile.gettempdir(), "portico-spool"))

    @classmethod
    def from_config(cls, config):
        """Built from S3_BUCKET, S3_PREFIX, S3_ENDPOINT_URL, S3_REGION (+ STORAGE_DIR for spool files)."""
        if not config.get("S3_BUCKET"):
            raise ValueError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        return cls(config["S3_BUCKET"], config.get("S3_PREFIX") or "", config.get("S3_ENDPOINT_URL"),
                   config.get("S3_REGION"), os.path.join(config["STORAGE_DIR"], "tmp"),
                   config.get("S3_ADDRESSING_STYLE"))

    def _name(self, key):
        return self.prefix + check_key(key)

    def _store(self, key, path):
        from boto3.s3.transfer import TransferConfig

        transfer = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, max_concurrency=1, use_threads=False)
        self.client.upload_file(path, self.bucket, self._name(key), Config=transfer)

    def open(self, key):
        """A streaming, closable body for reading `key` (FileNotFoundError when it is missing)."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except self.client.exceptions.NoSuchKey as error:
            raise FileNotFoundError(key) from error

    def delete(self, key):
        """Remove an object (S3 answers success for a missing one: deletes may be retried)."""
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def exists(self, key):
        """Whether the object is present."""
        return self._head(key) is not None

    def keys(self):
        """Every stored key under the prefix (for the orphan sweep and migration)."""
        for key, _ in self.listing():
            yield key

    def listing(self):
        """(key, last-modified) of every object under the prefix that is one of our keys."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix):]
                try:
                    yield check_key(key), item["LastModified"]
                except ValueError:
                    continue  # someone else's object beside ours

    def age(self, key):
        """Seconds since the object was written."""
        from datetime import datetime, timezone

        head = self._head(key)
        if head is None:
            return 0
        return (datetime.now(timezone.utc) - head["LastModified"]).total_seconds()

    def presigned_url(self, key, filename, mime, expires):
        """A GET link valid for `expires` seconds that makes the store answer as an attachment."""
        from app.web.downloads import content_disposition

        return self.client.generate_presigned_url("get_object", ExpiresIn=int(expires), Params={
            "Bucket": self.bucket, "Key": self._name(key), "ResponseContentType": mime,
            "ResponseContentDisposition": content_disposition("attachment", filename),
            "ResponseCacheControl": "private, no-store"})

    def writable(self):
        """Round trip for `flask portico check`: write, read back and delete a probe object."""
        name = self.prefix + "portico-check-probe"
        self.client.put_object(Bucket=self.bucket, Key=name, Body=b"portico")
        body = self.client.get_object(Bucket=self.bucket, Key=name)["Body"].read()
        self.client.delete_object(Bucket=self.bucket, Key=name)
        return body == b"portico"

    def _head(self, key):
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

