"""Storage URLs, options, atomic puts and the pre-flight check, on local and ``memory://``
locations. The check against S3 (the moto server: a missing bucket, bad or no
credentials): tests/integration/test_storage.py."""

from __future__ import annotations

import importlib.util
import os

import pytest

from factory.dataset import options, storage
from factory.errors import StorageError


def test_parse_options_types_and_nesting():
    opts = options.parse_options(
        [
            "anon=true",
            "max_concurrency=4",
            "ratio=0.5",
            "endpoint_url=http://h:9000",
            "client_kwargs.region_name=eu-west-1",
            "config_kwargs.retries.max_attempts=3",
            "x=none",
            'j={"a": 1}',
        ]
    )
    assert opts == {
        "anon": True,
        "max_concurrency": 4,
        "ratio": 0.5,
        "endpoint_url": "http://h:9000",
        "client_kwargs": {"region_name": "eu-west-1"},
        "config_kwargs": {"retries": {"max_attempts": 3}},
        "x": None,
        "j": {"a": 1},
    }


@pytest.mark.parametrize("item", ["novalue", "=x", " =1"])
def test_parse_options_refuses_items_without_key_and_value(item):
    with pytest.raises(StorageError, match="key=value"):
        options.parse_options([item])


def test_local_paths_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for url in ("out/ds", "file://" + str(tmp_path / "out/ds"), str(tmp_path / "out/ds/")):
        loc = storage.resolve(url)
        assert loc.protocol == "file" and loc.path == str(tmp_path / "out/ds") and loc.is_local


def test_s3_options_come_from_aws_variables_then_explicit_options():
    env = {
        "AWS_ENDPOINT_URL": "http://minio:9000",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_PROFILE": "lab",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "s3cr3t-value",
    }
    loc = storage.resolve("s3://bucket/some/prefix/", env=env)
    assert loc.protocol == "s3" and loc.path == "bucket/some/prefix"
    assert loc._options == {
        "endpoint_url": "http://minio:9000",
        "client_kwargs": {"region_name": "eu-west-1"},
        "profile": "lab",
        "key": "AKIAEXAMPLE",
        "secret": "s3cr3t-value",
    }
    loc = storage.resolve("s3://bucket/p", {"region": "us-west-2", "endpoint": "http://ceph:7480"}, env=env)
    assert loc._options["client_kwargs"] == {"region_name": "us-west-2"}
    assert loc._options["endpoint_url"] == "http://ceph:7480"
    anon = storage.resolve("s3://bucket/p", {"anon": True}, env=env)
    assert anon._options["anon"] is True and not {"key", "secret", "profile"} & set(anon._options)


def test_credentials_are_never_shown():
    with pytest.raises(StorageError) as err:
        storage.resolve("s3://AKIAINURL:pw-in-url@bucket/p", env={})
    assert "AKIAINURL" not in str(err.value) and "pw-in-url" not in str(err.value)
    loc = storage.resolve(
        "s3://bucket/p",
        {"key": "AKIAEXAMPLE", "secret": "s3cr3t-value", "client_kwargs": {"aws_session_token": "tok-123"}},
        env={},
    )
    for text in (repr(loc), loc.describe(), loc.url, str(options.redact(loc._options))):
        assert "AKIAEXAMPLE" not in text and "s3cr3t-value" not in text and "tok-123" not in text


@pytest.mark.parametrize(
    "url, words",
    [
        ("", ["empty"]),
        ("   ", ["empty"]),
        ("s3://", ["no bucket"]),
        ("s3:///key", ["no bucket"]),
        ("nosuchproto://bucket/x", ["unknown protocol 'nosuchproto'"]),
        ("simplecache::s3://bucket/x", ["chained"]),
    ],
)
def test_bad_urls_are_refused_with_a_clear_message(url, words):
    with pytest.raises(StorageError) as err:
        storage.resolve(url, env={})
    for w in words:
        assert w in str(err.value)


@pytest.mark.skipif(importlib.util.find_spec("gcsfs") is not None, reason="gcsfs is installed")
def test_a_protocol_whose_package_is_missing_names_the_package():
    with pytest.raises(StorageError) as err:
        storage.resolve("gs://bucket/x", env={})
    assert "gcsfs" in str(err.value) and "pip install gcsfs" in str(err.value)


def test_local_atomic_put_leaves_no_temporary_and_no_partial_file(tmp_path, monkeypatch):
    loc = storage.resolve(str(tmp_path / "ds"))
    loc.put_atomic("a/b.bin", b"hello")
    assert (tmp_path / "ds/a/b.bin").read_bytes() == b"hello"
    assert sorted(os.listdir(tmp_path / "ds/a")) == ["b.bin"]

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage.os, "replace", broken_replace)
    with pytest.raises(StorageError, match="cannot write c.bin"):
        loc.put_atomic("c.bin", b"x" * 1000)
    assert sorted(os.listdir(tmp_path / "ds")) == ["a"]  # neither c.bin nor its temporary


def test_memory_location_round_trip():
    loc = storage.resolve("memory://factory-tests/storage-rt")
    loc.put_atomic("x.tar", b"abc")
    loc.put_atomic("sub/y.json", b"{}")
    assert loc.read("x.tar") == b"abc"
    assert loc.read_or_none("nope") is None
    assert loc.list() == {"x.tar": 3}
    assert loc.list("sub") == {"sub/y.json": 2}
    loc.delete(["x.tar", "not-there"])
    assert loc.list() == {}
    loc.check_writable()
    assert loc.list(".factory") == {}  # the probe is gone


def test_check_writable_local_ok_and_under_a_file_fails(tmp_path):
    loc = storage.resolve(str(tmp_path / "new/ds"))
    loc.check_writable()
    assert (tmp_path / "new/ds").is_dir() and list((tmp_path / "new/ds").iterdir()) == []  # no trace of the probe
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="file"):
        storage.resolve(str(tmp_path / "file/ds")).check_writable()
