"""python -m tests.fakes.gbatch --port 8095 [--mount-root /mnt/disks]"""

import argparse
import time

from .server import serve

parser = argparse.ArgumentParser(description="A local Google Cloud Batch v1 REST API for tests.")
parser.add_argument("--port", type=int, default=8095)
parser.add_argument("--mount-root", default="/mnt/disks")
args = parser.parse_args()
serve(args.port, args.mount_root)
print(f"fake Batch API on http://127.0.0.1:{args.port}", flush=True)
while True:
    time.sleep(3600)
