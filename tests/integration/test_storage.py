"""The storage pre-flight check against S3 (the moto server): a writable bucket, a missing
one, bad and no credentials. URLs, options and atomic puts: tests/unit/test_storage.py."""

from __future__ import annotations

import pytest

from factory.dataset import storage
from factory.errors import StorageError


def test_s3_check_writable_ok_and_missing_bucket(s3):
    loc = storage.resolve(s3.url)
    loc.check_writable()
    assert s3.client.list_objects_v2(Bucket=s3.bucket).get("KeyCount", 0) == 0
    with pytest.raises(StorageError) as err:
        storage.resolve("s3://no-such-bucket-here/ds").check_writable()
    assert "no-such-bucket-here" in str(err.value) and "does not exist" in str(err.value)


def test_s3_bad_credentials(s3, monkeypatch):
    from moto.core.authorization import enable_iam_authentication

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG")
    with enable_iam_authentication(), pytest.raises(StorageError) as err:
        storage.resolve(s3.url).check_writable()
    assert "permission denied" in str(err.value) and "credentials" in str(err.value)
    assert "AKIAWRONG" not in str(err.value) and "factory-test-secret" not in str(err.value)


def test_s3_no_credentials(s3, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(StorageError) as err:
        storage.resolve(s3.url).check_writable()
    assert "no credentials" in str(err.value)
