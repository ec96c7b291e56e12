"""MSK IAM tokens match AWS's own signer byte for byte: the vectors that
tests/unit/test_mskiam.c checks the C signer against are made again here with
aws-msk-iam-sasl-signer-python (its clock frozen), and must be the same. The
signer at work against a broker: tests/e2e/test_kafka_security.py."""

import os
import subprocess
import sys

from conftest import ROOT


def test_unit_vectors_are_what_the_aws_signer_makes_now():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "unit", "mskiam_vectors.py"),
                        "--check"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_c_signer_matches_the_vectors():
    r = subprocess.run([os.path.join(ROOT, "build", "tests", "test_mskiam")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "0 failed" in r.stdout, r.stdout + r.stderr
