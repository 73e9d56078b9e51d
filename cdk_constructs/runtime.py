"""The Lambda runtime of every function and layer, bumped on purpose.

Python 3.14 is the newest Python runtime aws-cdk-lib 2.275 knows, which is what
AwsSolutions-L1 ("latest runtime of the family") checks against; arm64 (Graviton)
is about 20% cheaper per GB-second than x86 for the same work.
"""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64

# "python3.14" -> "3.14", for pip's --python-version when building the layer.
PYTHON_VERSION = RUNTIME.name.removeprefix("python")
# Wheels Lambda's arm64 Python runtime can load (Amazon Linux 2023, glibc 2.34).
WHEEL_PLATFORMS = ("manylinux_2_28_aarch64", "manylinux2014_aarch64")
