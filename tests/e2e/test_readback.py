"""The bucket read back the way analysts read it, from the project's real S3
server: DuckDB (its httpfs extension from the duckdb-extension-httpfs wheel,
since DuckDB cannot download it here) with a glob over the whole prefix and
hive_partitioning=true, for gzip, zstd and uncompressed objects; and pyarrow's
dataset reader over its S3 filesystem, a reader of a different kind. Every
produced event must come back exactly once, with the dt and hour of its Kafka
timestamp."""

import datetime
import os
import urllib.parse
import uuid

import duckdb
import duckdb_extension_httpfs
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pytest

from conftest import ACCESS_KEY, BUCKET, REGION, S3_ENDPOINT, SECRET_KEY, wait_until
from test_uploader import produce

HTTPFS = os.path.join(os.path.dirname(duckdb_extension_httpfs.__file__), "extensions",
                      f"v{duckdb.__version__}", "httpfs.duckdb_extension")
EXT = {"gzip": ".ndjson.gz", "zstd": ".ndjson.zst", "none": ".ndjson",
       "gzip-content-encoding": ".ndjson.gz"}
N = 6000


def mixed_events(n):
    """Events of several shapes: a flat one, nested objects and arrays,
    optional fields, unicode, numbers of every kind."""
    out = []
    for i in range(n):
        e = {"id": uuid.uuid4().hex, "seq": i}
        if i % 3 == 0:
            e["user"] = {"name": f"ü-{i}", "tags": ["a", "b"][: i % 3]}
        if i % 5 == 0:
            e["amount"] = i * 0.25
        if i % 7 == 0:
            e["ok"] = bool(i % 2)
        out.append(e)
    return out


@pytest.fixture(scope="module")
def stored(request):
    """{format: (stack, {id: (dt, hour)})}: N mixed events produced to a topic
    of their own per format and written by an uploader of that format."""
    from conftest import Stack
    out = {}
    for fmt in EXT:
        stack = Stack(partitions=3)
        events = mixed_events(N)
        produce(stack.topic, events)
        up = stack.uploader(MILLRACE_UPLOADER_FORMAT=fmt.split("-")[0], MAX_AGE_MS=500,
                            MILLRACE_UPLOADER_CONTENT_ENCODING="format" if "-" in fmt
                            else "none").start()
        wait_until(stack.fully_committed, 120, f"{fmt}: every record stored")
        up.stop()
        want = {}
        for m in stack.topic_messages():
            ts = datetime.datetime.fromtimestamp(m.timestamp()[1] / 1000,
                                                 datetime.timezone.utc)
            want[__import__("json").loads(m.value())["id"]] = (ts.date(), ts.hour)
        assert len(want) == N
        out[fmt] = (stack, want)
        request.addfinalizer(stack.close)
    return out


def duckdb_connection():
    con = duckdb.connect()
    con.execute(f"LOAD '{HTTPFS}'")
    u = urllib.parse.urlsplit(S3_ENDPOINT)
    con.execute(f"""CREATE SECRET s3test (TYPE S3, KEY_ID '{ACCESS_KEY}',
                    SECRET '{SECRET_KEY}', REGION '{REGION}', ENDPOINT '{u.netloc}',
                    URL_STYLE 'path', USE_SSL {'true' if u.scheme == 'https' else 'false'})""")
    return con


@pytest.mark.parametrize("fmt", list(EXT))
def test_duckdb_reads_the_whole_prefix_with_hive_partitioning(stored, fmt):
    stack, want = stored[fmt]
    con = duckdb_connection()
    glob = f"s3://{BUCKET}/{stack.prefix}/**/*{EXT[fmt]}"
    rows = con.execute(f"""SELECT id, dt, hour, seq FROM read_json_auto('{glob}',
                           hive_partitioning = true)""").fetchall()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} events twice"
    assert set(ids) == set(want), (len(set(ids)), len(want))
    bad = [(r[0], r[1], r[2], want[r[0]]) for r in rows
           if (r[1], int(r[2])) != want[r[0]]]
    assert not bad, bad[:3]
    # dt is a DATE to DuckDB, hour the folder's two digits
    kinds = con.execute(f"""SELECT any_value(typeof(dt)), min(length(hour::VARCHAR))
                            FROM read_json_auto('{glob}', hive_partitioning = true)""").fetchone()
    print(f"duckdb {duckdb.__version__} read {len(rows)} events ({fmt}); dt, hour: {kinds}")
    assert kinds[0] == "DATE"
    # the nested shapes came through
    n = con.execute(f"""SELECT count(*) FROM read_json_auto('{glob}', hive_partitioning = true)
                        WHERE "user".name LIKE 'ü-%'""").fetchone()[0]
    assert n == len([i for i in range(N) if i % 3 == 0])


def test_pyarrow_dataset_reads_the_same_events(stored):
    stack, want = stored["gzip"]
    u = urllib.parse.urlsplit(S3_ENDPOINT)
    fs = pafs.S3FileSystem(access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION,
                           endpoint_override=u.netloc, scheme=u.scheme,
                           force_virtual_addressing=False)
    root = f"{BUCKET}/{stack.prefix}/{stack.topic}"
    ds = pads.dataset(root, filesystem=fs, format="json", partitioning="hive",
                      exclude_invalid_files=False)
    t = ds.to_table(columns=["id", "dt", "hour"])
    ids = t.column("id").to_pylist()
    assert len(ids) == len(set(ids)) == N
    assert set(ids) == set(want)
    got = {i: (d, h) for i, d, h in zip(ids, t.column("dt").to_pylist(),
                                          t.column("hour").to_pylist())}
    bad = [(i, got[i], want[i]) for i in ids
           if (str(got[i][0]), int(got[i][1])) != (str(want[i][0]), want[i][1])]
    assert not bad, bad[:3]
    print(f"pyarrow read {len(ids)} events from {len(ds.files)} objects")


def test_a_plain_http_download_gets_the_file_its_name_says(stored):
    """With the default (no Content-Encoding) an HTTP client that honours the
    header (python-requests here, browsers, curl --compressed) downloads a
    .ndjson.gz as gzip bytes; with uploader.content_encoding=format it gets
    them decompressed silently, while the name still says .gz."""
    import boto3
    import requests
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=S3_ENDPOINT, region_name=REGION,
                      aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                      config=Config(signature_version="s3v4",
                                    s3={"addressing_style": "path"}))
    for fmt, gzip_bytes in (("gzip", True), ("gzip-content-encoding", False)):
        stack, _ = stored[fmt]
        key = next(k for k in stack.objects() if k.endswith(".ndjson.gz"))
        head = s3.head_object(Bucket=BUCKET, Key=key)
        url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key})
        body = requests.get(url, timeout=30).content
        assert not body.startswith(b"<?xml"), (url, body[:400])
        print(f"{fmt}: Content-Type {head['ContentType']}, Content-Encoding "
              f"{head.get('ContentEncoding')}, download starts {body[:2]!r}")
        assert (body[:2] == b"\x1f\x8b") == gzip_bytes
