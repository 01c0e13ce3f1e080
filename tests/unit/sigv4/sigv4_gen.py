"""Random SigV4 requests and botocore's signatures for them.

Shared by botocore_diff.py (differential test) and the benchmark. Each
request is presented to botocore the way a botocore client presents it to
its signer (an AWSRequest whose URL path and query were percent-encoded by
the serializer), and to our signer as the same request on the wire (path,
query string, headers). Run with /usr/bin/python3: Debian's python3-botocore.

What botocore does, from botocore/auth.py (1.29), and how our config maps:
  SigV4Auth         remove_dot_segments + quote(path, safe='/~')
                    -> normalize_path, double_encode; payload = SHA-256 of
                    the body, or with payload signing disabled an added
                    X-Amz-Content-SHA256: UNSIGNED-PAYLOAD header
                    -> add_content_sha256 + payload_hash UNSIGNED-PAYLOAD
  S3SigV4Auth       path as-is -> no normalize, no double encode; always
                    adds X-Amz-Content-SHA256 -> add_content_sha256
  SigV4QueryAuth    presign; query re-built through parse_qs (repeated keys
                    collapse, so the generator makes none for presign);
                    payload hash of the (empty) body
  S3SigV4QueryAuth  presign, path as-is, payload UNSIGNED-PAYLOAD
botocore deletes and re-adds Authorization, X-Amz-Date and (with a token)
X-Amz-Security-Token before header signing; our signer skips request copies
of those, so stale ones are generated on purpose. It replaces a Date header
instead of adding X-Amz-Date, which our signer does not do: no Date headers.
Host comes from the URL (lower-case, non-default port kept); our side gets
it as a Host header.
"""

import calendar
import datetime
import hashlib
import random
import types
from urllib.parse import parse_qsl, urlsplit

import botocore.auth as auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence

UNSIGNED = 'UNSIGNED-PAYLOAD'
EMPTY_SHA256 = hashlib.sha256(b'').hexdigest()

MODES = ['SigV4Auth', 'S3SigV4Auth', 'SigV4QueryAuth', 'S3SigV4QueryAuth']
PRESIGN = {'SigV4QueryAuth', 'S3SigV4QueryAuth'}
S3 = {'S3SigV4Auth', 'S3SigV4QueryAuth'}

TIMES = [
    datetime.datetime(2015, 8, 30, 12, 36, 0),
    datetime.datetime(2024, 2, 29, 23, 59, 59),
    datetime.datetime(2000, 1, 1, 0, 0, 0),
    datetime.datetime(2038, 1, 19, 3, 14, 8),
    datetime.datetime(1999, 12, 31, 23, 59, 59),
]
CREDS = [
    ('AKIDEXAMPLE', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'),
    ('AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'),
    ('ASIAZZZZZZZZZZZZZZZZ', 'a' * 100),  # longer than an HMAC block
]
TOKENS = [
    None, None,
    'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBu'
    'FqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp'
    '2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d'
    '+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3'
    'iSIlTJabIQwj2ICCR/oLxBA==',
    'FwoGZXIvYXdzE+short/token==',
]
REGIONS = ['us-east-1', 'eu-west-3', 'ap-southeast-2', 'cn-north-1', 'us-gov-west-1']
SERVICES = ['service', 'execute-api', 'dynamodb', 'sts', 'ec2']
HOSTS = ['example.amazonaws.com', 'Bucket.S3.Amazonaws.com', 'localhost:8443',
         'api.example.com:443', 'sts.eu-west-3.amazonaws.com']
METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS']

UNICODE = ['ሴ', 'é', '日本語', '😀', 'Ω', 'ü', '\u00a0', 'ß']
RESERVED = list("!$&'()*+,;=:@[]") + [' ', '"', '<', '>', '\\', '^', '`', '{', '|', '}']
WORDS = ['example', 'foo', 'bar', 'a.b', 'x_y', 'Key-1', '~tilde', 'v2', 'index.html']


def _piece(rng):
    r = rng.random()
    if r < 0.35:
        return rng.choice(WORDS)
    if r < 0.55:
        return rng.choice(UNICODE)
    if r < 0.75:
        return rng.choice(RESERVED)
    if r < 0.85:
        return '%' + rng.choice(['41', '2F', '2f', '20', 'zz', 'E1%88%B4'])  # looks encoded
    if r < 0.93:
        return '/'
    return str(rng.randint(0, 99999))


def _text(rng, lo=0, hi=4):
    return ''.join(_piece(rng) for _ in range(rng.randint(lo, hi)))


def _path(rng, big=False):
    """An encoded URL path as a botocore serializer would build it."""
    segs = []
    for _ in range(rng.randint(0, 6) + (300 if big else 0)):
        r = rng.random()
        if r < 0.12:
            segs.append('..')
        elif r < 0.2:
            segs.append('.')
        elif r < 0.3:
            segs.append('')  # makes '//'
        else:
            seg = _text(rng, 1, 3).replace('/', '')
            if rng.random() < 0.1 and all(c not in seg for c in '%?#'):
                # raw, like the suite's get-utf8/get-space (urlsplit keeps it)
                segs.append(seg.strip().replace('\\', '') or 'x')
            else:
                segs.append(percent_encode(seg, safe='~'))
    path = '/' + '/'.join(segs)
    if segs and rng.random() < 0.3:
        path += '/'
    return path


def _params(rng, unique, big=False):
    pairs = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5, 8]) + (80 if big else 0)):
        k = _text(rng, 0 if rng.random() < 0.1 else 1, 3)
        v = '' if rng.random() < 0.2 else _text(rng, 1, 4)
        if pairs and not unique and rng.random() < 0.2:
            k = rng.choice(pairs)[0]  # repeated key
        if unique and any(k == p[0] for p in pairs):
            continue
        pairs.append((k, v))
    return pairs


def _messy_encode(rng, s):
    """Our side of botocore's params mode: the same text, encoded
    inconsistently (lower-case hex, needlessly escaped unreserved bytes,
    some characters left raw, multi-byte ones whole)."""
    def esc(data):
        out = ''
        for b in data:
            h = '%02X' % b
            out += '%' + (h.lower() if rng.random() < 0.5 else h)
        return out

    out = []
    for c in s:
        if c.isascii() and (c.isalnum() or c in '-_.~'):
            out.append(esc(c.encode()) if rng.random() < 0.2 else c)
        elif c not in '&=%#' and c >= ' ' and rng.random() < 0.4:
            out.append(c)
        else:
            out.append(esc(c.encode('utf-8')))
    return ''.join(out)


HEADER_NAMES = ['X-Custom-Foo', 'x-custom-foo', 'X-CUSTOM-FOO', 'Content-Type', 'X-Amz-Meta-Bar',
                'My-Header1', 'Accept', 'Cache-Control', 'X-Amz-Target', 'If-Match', 'zz-last',
                'A-First', 'X-Amz-Meta-Ünicode'.encode('ascii', 'replace').decode(),
                'User-Agent', 'Expect', 'X-Amzn-Trace-Id', 'Content-Encoding', 'x-amz-acl']
HEADER_VALUES = ['value1', '  padded  ', 'a   b    c', '"a   b   c"', 'value1\n  value2\n     value3',
                 '\tTabbed\tvalue\t', '', 'application/json', 'text/plain; charset=utf-8',
                 'bytes=0-9', 'x,y,z', 'Mixed CASE Value', '100-continue', 'a\r\n b', '  ']


def _headers(rng, presign, big=False):
    hs = []
    for _ in range(rng.randint(0, 6) + (60 if big else 0)):
        name = rng.choice(HEADER_NAMES) if rng.random() < 0.8 else (
            'X-Rand-' + ''.join(rng.choice('abcXYZ019-_') for _ in range(rng.randint(1, 8))))
        hs.append((name, rng.choice(HEADER_VALUES)))
    if not presign:
        # Stale values from an earlier attempt; both signers replace them.
        if rng.random() < 0.1:
            hs.append(('X-Amz-Date', '20000101T000000Z'))
        if rng.random() < 0.1:
            hs.append(('Authorization', 'AWS4-HMAC-SHA256 stale'))
    return hs


def _host_header(url):
    return auth._host_from_url(url)


def make_requests(seed, count, modes=None, bench=False):
    """count requests from seed. bench=True: nothing oversized, and one
    signing time and a few keys, as a client working for one account sees."""
    rng = random.Random(seed)
    items = []
    for i in range(count):
        mode = (modes or MODES)[i % len(modes or MODES)]
        presign = mode in PRESIGN
        s3 = mode in S3
        akid, secret = rng.choice(CREDS)
        token = rng.choice(TOKENS)
        when = TIMES[0] if bench else rng.choice(TIMES)
        region = rng.choice(REGIONS[:2] if bench else REGIONS)
        service = 's3' if s3 else rng.choice(SERVICES[:2] if bench else SERVICES)
        method = rng.choice(METHODS)
        host = rng.choice(HOSTS)
        scheme = 'https'
        big = not bench and rng.random() < 0.03  # past the signer's stack buffers
        path = _path(rng, big)
        pairs = _params(rng, presign, big)
        use_params = not presign and pairs and rng.random() < 0.3
        bare_key = not use_params and rng.random() < 0.1  # "?acl" style
        query = percent_encode_sequence(pairs) if pairs and not use_params else ''
        if bare_key:
            query = (query + '&' if query else '') + rng.choice(['acl', 'uploads', 'tagging'])
        url = f'{scheme}://{host}{path}' + (f'?{query}' if query else '')
        headers = _headers(rng, presign, big)
        body = b'' if presign or rng.random() < 0.3 else bytes(
            rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
        unsigned_payload = mode == 'SigV4Auth' and rng.random() < 0.15

        if use_params:
            our_query = '&'.join(_messy_encode(rng, k) + ('=' + _messy_encode(rng, v)
                                 if v or not k or rng.random() < 0.5 else '') for k, v in pairs)
        else:
            our_query = query or None

        if mode == 'SigV4Auth':
            cfg = dict(normalize=True, double_encode=True, add_content_sha256=unsigned_payload,
                       payload_hash=UNSIGNED if unsigned_payload else None)
        elif mode == 'S3SigV4Auth':
            cfg = dict(normalize=False, double_encode=False, add_content_sha256=True,
                       payload_hash=None)
        elif mode == 'SigV4QueryAuth':
            cfg = dict(normalize=True, double_encode=True, add_content_sha256=False,
                       payload_hash=EMPTY_SHA256)
        else:
            cfg = dict(normalize=False, double_encode=False, add_content_sha256=False,
                       payload_hash=UNSIGNED)

        ours = {
            'id': i,
            'mode': 'presign' if presign else 'header',
            'method': method,
            'path': urlsplit(url).path,
            'query': our_query,
            'headers': [['Host', _host_header(url)]] + [list(h) for h in headers],
            'body_hex': body.hex(),
            'payload_hash': cfg['payload_hash'],
            'normalize': cfg['normalize'],
            'double_encode': cfg['double_encode'],
            'add_content_sha256': cfg['add_content_sha256'],
            'omit_session_token': False,
            'expires': rng.choice([1, 60, 3600, 604800]) if presign else 3600,
            'access_key_id': akid,
            'secret_access_key': secret,
            'session_token': token,
            'region': region,
            'service': service,
            'when': calendar.timegm(when.timetuple()),
        }
        boto = {
            'mode': mode, 'method': method, 'url': url, 'headers': headers,
            'params': pairs if use_params else None, 'data': body,
            'unsigned_payload': unsigned_payload, 'creds': (akid, secret, token),
            'region': region, 'service': service, 'when': when, 'expires': ours['expires'],
        }
        items.append((ours, boto))
    return items


class _Clock:
    now = TIMES[0]

    class datetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return _Clock.now


auth.datetime = types.SimpleNamespace(datetime=_Clock.datetime)


def _capturing(base):
    class Capturing(base):
        def string_to_sign(self, request, canonical_request):
            self.captured_canonical = canonical_request
            self.captured_sts = super().string_to_sign(request, canonical_request)
            return self.captured_sts

        def signature(self, string_to_sign, request):
            self.captured_signature = super().signature(string_to_sign, request)
            return self.captured_signature
    return Capturing


SIGNERS = {name: _capturing(getattr(auth, name)) for name in MODES}


def build_request(b):
    request = AWSRequest(method=b['method'], url=b['url'], data=b['data'])
    for name, value in b['headers']:
        request.headers[name] = value  # HTTPHeaders appends: repeats stay
    if b['params']:
        request.params = list(b['params'])
    if b['unsigned_payload']:
        request.context['payload_signing_enabled'] = False
    return request


def make_signer(b):
    cls = SIGNERS[b['mode']]
    creds = Credentials(*b['creds'])
    if b['mode'] in PRESIGN:
        return cls(creds, b['service'], b['region'], expires=b['expires'])
    return cls(creds, b['service'], b['region'])


def botocore_sign(b):
    """Signs with botocore; returns canonical, sts, signature and what the
    caller would send (the added headers, or the final query pairs)."""
    _Clock.now = b['when']
    request = build_request(b)
    signer = make_signer(b)
    signer.add_auth(request)
    out = {'canonical': signer.captured_canonical, 'sts': signer.captured_sts,
           'signature': signer.captured_signature}
    if b['mode'] in PRESIGN:
        out['query_pairs'] = sorted(parse_qsl(urlsplit(request.url).query,
                                              keep_blank_values=True))
    else:
        added = {}
        for name in ('X-Amz-Date', 'X-Amz-Security-Token', 'X-Amz-Content-SHA256',
                     'Authorization'):
            if name in request.headers:
                added[name.lower()] = request.headers[name]
        out['added'] = added
    return out
