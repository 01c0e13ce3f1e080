#!/usr/bin/python3
"""Differential test: signs random requests with botocore and with our
signer (through sigv4_driver) and compares canonical request, string to
sign, signature and the headers or query the caller would send, byte for
byte. Fails on the first difference (printed in full) or when fewer than
--min requests were compared. Run with /usr/bin/python3 (botocore)."""

import argparse
import json
import os
import subprocess
import sys
from urllib.parse import parse_qsl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigv4_gen  # noqa: E402


def show(label, value):
    print(f'--- {label} ---\n{value}\n', file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--driver', required=True)
    ap.add_argument('--count', type=int, default=600)
    ap.add_argument('--min', type=int, default=300)
    ap.add_argument('--seed', type=int, default=20150830)
    args = ap.parse_args()

    items = sigv4_gen.make_requests(args.seed, args.count)
    stdin = ''.join(json.dumps(ours) + '\n' for ours, _ in items)
    proc = subprocess.run([args.driver], input=stdin.encode(), capture_output=True)
    if proc.returncode != 0:
        print(f'driver failed with status {proc.returncode}:\n{proc.stderr.decode()}',
              file=sys.stderr)
        return 1
    results = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    if len(results) != len(items):
        print(f'driver answered {len(results)} of {len(items)} requests', file=sys.stderr)
        return 1

    compared = {}
    for (ours_in, boto_in), got in zip(items, results):
        want = sigv4_gen.botocore_sign(boto_in)
        mode = boto_in['mode']
        problem = None
        if got['id'] != ours_in['id']:
            problem = f'answer id {got["id"]} for request {ours_in["id"]}'
        elif not got['ok']:
            problem = f'our signer failed: {got["error"]}'
        else:
            for field in ('canonical', 'sts', 'signature'):
                if got[field] != want[field]:
                    problem = f'{field} differs'
                    break
            if problem is None and mode in sigv4_gen.PRESIGN:
                ours_pairs = sorted(parse_qsl(got['query'], keep_blank_values=True))
                if ours_pairs != want['query_pairs']:
                    problem = 'presigned query parameters differ'
            elif problem is None:
                added = {n.lower(): v for n, v in got['add']}
                if added != want['added']:
                    problem = 'added headers differ'
        if problem:
            print(f'MISMATCH on request {ours_in["id"]} ({mode}): {problem}', file=sys.stderr)
            show('botocore input', json.dumps({k: (v.hex() if isinstance(v, bytes) else str(v)
                                                   if k == 'when' else v)
                                               for k, v in boto_in.items()},
                                              ensure_ascii=False, indent=1))
            show('our input', json.dumps(ours_in, ensure_ascii=False, indent=1))
            for field in ('canonical', 'sts', 'signature'):
                show(f'botocore {field}', want[field])
                show(f'our {field}', got.get(field))
            show('botocore sends', want.get('query_pairs', want.get('added')))
            show('we send', got.get('query', got.get('add')))
            return 1
        compared[mode] = compared.get(mode, 0) + 1

    total = sum(compared.values())
    detail = ', '.join(f'{n} {m}' for m, n in sorted(compared.items()))
    print(f'botocore differential: {total} requests identical ({detail})')
    if total < args.min:
        print(f'only {total} requests compared, need at least {args.min}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
