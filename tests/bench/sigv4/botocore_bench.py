#!/usr/bin/python3
"""botocore's side of the SigV4 benchmark: generates --count requests
(tests/unit/sigv4/sigv4_gen.py, bench profile, SigV4Auth header signing),
writes them with botocore's signatures as JSON lines for bench_sigv4, and
times botocore signing the same requests on this (single) thread: signer
construction and add_auth (canonical request, string to sign, signature,
headers), as botocore's RequestSigner does per request. Input AWSRequests
are built before the clock starts, as bench_sigv4 parses its input first.
Prints: requests=N passes=P seconds=S rate=R"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get('ESCHER_SOURCE_DIR', os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', '..')), 'tests', 'unit', 'sigv4'))
import sigv4_gen  # noqa: E402
import botocore.auth as auth  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--count', type=int, required=True)
    ap.add_argument('--write', required=True)
    ap.add_argument('--min-seconds', type=float, default=1.0)
    ap.add_argument('--seed', type=int, default=7)
    args = ap.parse_args()

    items = sigv4_gen.make_requests(args.seed, args.count, modes=['SigV4Auth'], bench=True)
    sigv4_gen._Clock.now = sigv4_gen.TIMES[0]
    with open(args.write, 'w') as f:
        for ours, b in items:
            request = sigv4_gen.build_request(b)
            auth.SigV4Auth(Credentials(*b['creds']), b['service'], b['region']).add_auth(request)
            ours = dict(ours, expect_signature=request.headers['Authorization'].rsplit('=', 1)[1])
            f.write(json.dumps(ours) + '\n')

    # One Credentials object per key, as a client holds (the C side shares too).
    shared_creds = {}
    for _, b in items:
        shared_creds.setdefault(b['creds'], Credentials(*b['creds']))
    signed = passes = 0
    elapsed = 0.0
    while elapsed < args.min_seconds or passes == 0:
        batch = [(sigv4_gen.build_request(b), shared_creds[b['creds']], b['service'],
                  b['region']) for _, b in items]
        start = time.perf_counter()
        for request, creds, service, region in batch:
            auth.SigV4Auth(creds, service, region).add_auth(request)
        elapsed += time.perf_counter() - start
        signed += len(batch)
        passes += 1
    print(f'requests={len(items)} passes={passes} seconds={elapsed:.3f} rate={signed / elapsed:.0f}')


if __name__ == '__main__':
    main()
