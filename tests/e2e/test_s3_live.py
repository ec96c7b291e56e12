"""The C S3 store against the real S3 server: runs build/tests/e2e/s3_live
(tests/e2e/s3_live.c) with the stack's environment, then reads back
with boto3, an independent client, every object it reports having written.

It needs the servers, so it is no unit test: it is built and run from here.
Everything lives under two prefixes of its own below s3test/ (one for the
listing cases, whose objects the C store cannot delete), removed at the end.
"""

import hashlib
import os
import subprocess
import uuid

from conftest import BIN, BUCKET, ROOT, s3_client


def run_live(prefix, list_prefix):
    binary = os.path.join(BIN, "tests", "e2e", "s3_live")
    target = os.path.relpath(binary, ROOT)
    san = ["SAN=1"] if target.startswith("build-san") else []
    subprocess.run(["make", "-s", *san, target], cwd=ROOT, check=True,
                   timeout=600)
    env = dict(os.environ, MILLRACE_S3_TEST_PREFIX=prefix,
               MILLRACE_S3_LIST_PREFIX=list_prefix)
    wrap = os.environ.get("MILLRACE_WRAP", "").split()
    return subprocess.run(wrap + [binary], env=env, capture_output=True,
                          text=True, timeout=600)


def objects_reported(stdout):
    """{key: (sha256, size, options)} from the "object: " lines; keys may
    hold blanks, the three fields after them do not."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("object: "):
            key, sha, size, options = line[len("object: "):].rsplit(" ", 3)
            out[key] = (sha, int(size), options)
    return out


def stored_sizes(s3, prefix):
    """{key: size} of every object under prefix + "/"."""
    return {o["Key"]: o["Size"]
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=BUCKET, Prefix=prefix + "/")
            for o in page.get("Contents", [])}


def remove_prefix(s3, prefix):
    # Listed whole first: deleting while paging would move the pages.
    keys = sorted(stored_sizes(s3, prefix))
    for i in range(0, len(keys), 1000):
        r = s3.delete_objects(Bucket=BUCKET, Delete={
            "Objects": [{"Key": k} for k in keys[i:i + 1000]],
            "Quiet": True})
        assert not r.get("Errors"), r["Errors"]
    # One page at a time: versitygw refuses to continue a listing of
    # uploads (see s3_live.c), so abort a page and list again.
    for _ in range(10):
        ups = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix + "/")
        if not ups.get("Uploads"):
            break
        for u in ups["Uploads"]:
            s3.abort_multipart_upload(Bucket=BUCKET, Key=u["Key"],
                                      UploadId=u["UploadId"])


def listing_objects(list_prefix):
    """{key: size} the listing cases of s3_live.c write."""
    three = {"a": 3, "a&<\"' b": 7, "b/c": 0}
    want = {f"{list_prefix}/three/{k}": n for k, n in three.items()}
    want[f"{list_prefix}/threefold"] = 1
    want.update({f"{list_prefix}/many/{i:04d}": i % 3 for i in range(1005)})
    return want


def test_s3_store_against_real_server():
    prefix = f"s3test/e2e-{uuid.uuid4().hex[:10]}"
    list_prefix = f"s3test/list-{uuid.uuid4().hex[:10]}"
    s3 = s3_client()
    try:
        r = run_live(prefix, list_prefix)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out
        assert r.stdout.rstrip().splitlines()[-1].endswith(
            "s3_live.c: 16 passed, 0 failed"), out

        # The listing cases wrote exactly these, as boto3 lists them.
        assert stored_sizes(s3, list_prefix) == listing_objects(list_prefix)

        # Exactly the objects the C store reported, byte for byte.
        reported = objects_reported(r.stdout)
        assert set(reported) == {
            f"{prefix}/mpu/three parts+=.bin",
            f"{prefix}/sse/aes256-put",
            f"{prefix}/sse/aes256-mpu",
            f"{prefix}/sse/kms-put",
        }, out
        stored = {o["Key"] for page in s3.get_paginator("list_objects_v2")
                  .paginate(Bucket=BUCKET, Prefix=prefix + "/")
                  for o in page.get("Contents", [])}
        assert stored == set(reported)
        for key, (sha, size, _) in reported.items():
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            assert len(body) == size, key
            assert hashlib.sha256(body).hexdigest() == sha, key

        # Multipart: the ETag of a completed upload counts its parts.
        head = s3.head_object(Bucket=BUCKET, Key=f"{prefix}/mpu/three parts+=.bin")
        assert head["ETag"].endswith('-3"'), head["ETag"]
        assert head["ContentLength"] == 5 * 2**20 * 2 + 1024

        # versitygw v1.8.0 (posix backend) accepts the SSE and storage
        # class headers and ignores them: no encryption reported, class
        # STANDARD whatever was asked. AWS would report both.
        for key in (f"{prefix}/sse/aes256-put", f"{prefix}/sse/kms-put"):
            head = s3.head_object(Bucket=BUCKET, Key=key)
            assert "ServerSideEncryption" not in head, head
            assert head.get("StorageClass", "STANDARD") == "STANDARD", head

        # The C test aborted every upload it began.
        ups = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix + "/")
        assert ups.get("Uploads", []) == []
    finally:
        remove_prefix(s3, prefix)
        remove_prefix(s3, list_prefix)
        assert stored_sizes(s3, list_prefix) == {}
