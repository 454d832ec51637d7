#!/usr/bin/env python3
"""mutate_bundle.py: a seeded mutation campaign against nvrctl verify, for
tests/integration/mutate.test.

Each mutation is one alteration of a real export bundle (docs/FORMAT.md
section 12), written as a tar that differs from the recorder's only by that
alteration (bundle_tool.py writes the recorder's tar). nvrctl verify must
exit 1 ("detected") and print a FAIL line that names what was altered: the
member, or the tar's shape for a mutation of the tar itself ("named").

The campaign is a function of the seed and the bundle: mutation I is made
from random.Random("SEED:I") alone, so --only I makes it again. It never
changes the bundle it is given, and writes only below --work.

    mutate_bundle.py --bundle B --nvrctl NVRCTL --work DIR --seed S \
        --forger-key K --forger-cert C --recorder-cert R [--count N] [--jobs J]
        [--only I,J] [--keep] [--results FILE]
    mutate_bundle.py --list-kinds
    mutate_bundle.py ... --emit KIND=OUT   (one mutation of KIND, to OUT)
"""

import argparse
import base64
import collections
import concurrent.futures
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import shlex
import tempfile
import threading
import uuid

# bundle_tool.py beside this file; no __pycache__ written into the source tree
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bundle_tool as bt  # noqa: E402

PER_KIND = 30   # each kind at least this often in a run
TOTAL_MIN = 1000


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def pem_fingerprint(pem):
    """SHA-256 of a PEM certificate's DER, as signer_sha256 names it."""
    body = re.search(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S)
    return sha256(base64.b64decode(b"".join(body.group(1).split())))


def manifest_dump(obj):
    """JSON as the recorder writes export.json (jansson: keys sorted,
    two-space indentation, ASCII, one final newline)."""
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=True) + "\n").encode()


# The kinds of member a byte is flipped in (flip:<type>): "other" is any
# member of none of the types before it (a member added to the format later).
FLIP_TYPES = ("README.txt", "segment", "manifest", "manifest-sig", "sealed-key", "cert", "audit.jsonl",
              "SHA256SUMS", "export.json", "export.json.sig", "other")


def member_type(rel):
    """What a member is, from its name: one of FLIP_TYPES."""
    for suffix, t in ((".nvrseg", "segment"), (".manifest.json", "manifest"),
                      (".manifest.json.sig", "manifest-sig")):
        if rel.endswith(suffix) and rel.count("/") == 5:
            return t
    if rel.startswith("keys/") and rel.endswith(".sealed.json"):
        return "sealed-key"
    if rel.startswith("certs/") and rel.endswith(".crt"):
        return "cert"
    return rel if rel in FLIP_TYPES else "other"


def named(rel):
    """A regular expression for a member's name standing alone in a line
    (not part of a longer name: export.json is not export.json.sig)."""
    return r"(?<![\w.-])" + re.escape(rel) + r"(?![\w.-])"


# A finding about the tar's shape: where the tar is the recorder's but for
# what a member holds, a verifier that reports one has not read it right
# (as when every header of a tar GNU tar made was reported, naming every
# member, whatever was altered).
SHAPE = r":\(tar\): "


class Mutation:
    """What was done (kind, a description precise enough to redo it by
    hand), the tar, verify's extra arguments, and what the FAIL lines must
    name: every group of expect needs one FAIL line matching one of its
    regular expressions, and no FAIL line may match one of forbid (by
    default: none about the tar's shape, which is the recorder's)."""

    def __init__(self, kind, desc, data, expect, args=(), forbid=(SHAPE,)):
        self.kind = kind
        self.desc = desc
        self.data = data
        self.expect = expect
        self.args = list(args)
        self.forbid = list(forbid)


class Ctx:
    """The bundle under test and what the mutations need to know of it."""

    def __init__(self, a):
        with open(a.bundle, "rb") as f:
            self.data = f.read()
        self.b = bt.Bundle.parse(self.data)
        self.members, self.end = bt.members(self.data)
        self.names = self.b.names()
        self.man = json.loads(self.b.get("export.json"))
        self.export_id = self.man["export_id"]
        self.nvrctl = a.nvrctl
        self.work = a.work
        self.forger_key = a.forger_key
        self.forger_cert = a.forger_cert
        self.recorder_cert = a.recorder_cert
        self.forger_pem = None
        if a.forger_cert:
            with open(a.forger_cert, "rb") as f:
                self.forger_pem = f.read()
        self.forger_fp = pem_fingerprint(self.forger_pem) if self.forger_pem else None
        self.recorder_fp = self.man["signer_sha256"]
        self.resigned = None  # resign_manifests(), once
        self.lock = threading.Lock()
        # Each stream's segments by seq: (seq, .nvrseg name, manifest).
        streams = collections.defaultdict(list)
        for rel in self.names:
            if member_type(rel) == "manifest":
                m = json.loads(self.b.get(rel))
                streams[m["stream_id"]].append((m["seq"], rel[:-len(".manifest.json")] + ".nvrseg", m))
        self.streams = {k: sorted(v, key=lambda x: x[0]) for k, v in streams.items()}
        self.by_type = collections.defaultdict(list)
        for rel in self.names:
            self.by_type[member_type(rel)].append(rel)

    def full(self, rel):
        return self.b.top + "/" + rel

    def tar(self, items, top=None, mtime=None):
        return bt.Bundle(self.b.top, self.b.mtime, items).tar(top=top, mtime=mtime)

    def items(self):
        return list(self.b.items)

    def sign(self, data):
        """DER ECDSA over SHA-256 of data with the forger's key, by the
        openssl CLI as a forger would."""
        with tempfile.TemporaryDirectory(dir=self.work) as d:
            src, sig = os.path.join(d, "export.json"), os.path.join(d, "sig")
            with open(src, "wb") as f:
                f.write(data)
            subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.forger_key, "-out", sig, src],
                           check=True, stdout=subprocess.DEVNULL)
            with open(sig, "rb") as f:
                return f.read()


def set_item(items, rel, data):
    return [(r, data if r == rel else d) for r, d in items]


def reseal(ctx, items, man, list_members=True):
    """What a forger does after changing members: export.json's members
    (unless not list_members) and SHA256SUMS from the items before
    SHA256SUMS, export.json written the recorder's way and signed with the
    forger's key."""
    body = [(r, d) for r, d in items if r not in ("SHA256SUMS", "export.json", "export.json.sig")]
    if list_members:
        man["members"] = [{"bytes": len(d), "path": r, "sha256": sha256(d)} for r, d in body]
    sums = "".join("%s  %s\n" % (e["sha256"], e["path"]) for e in man["members"]).encode()
    man["sha256sums_sha256"] = sha256(sums)
    text = manifest_dump(man)
    out = body + [("SHA256SUMS", sums), ("export.json", text)]
    return out + [("export.json.sig", ctx.sign(text))]


# ---- the kinds -----------------------------------------------------------------
# Each takes (rng, ctx, nth), nth being how many of its kind came before
# in the run: the first ones take the edge cases (the first member, the
# last, offset 0), so that every run has them.

def pick_member(rng, ctx, nth):
    return ctx.members[0] if nth == 0 else ctx.members[-1] if nth == 1 else rng.choice(ctx.members)


def flip(mtype):
    def make(rng, ctx, nth):
        rel = rng.choice([r for r in ctx.by_type[mtype] if len(ctx.b.get(r)) > 0])
        data = bytearray(ctx.b.get(rel))
        off = rng.randrange(len(data))
        signer = re.search(rb'"signer_sha256": "([0-9a-f]{64})"', data)
        x = rng.randrange(1, 256)
        if nth == 0 and signer:
            # the first in the signer's fingerprint, which names a certificate,
            # to another hex digit: the JSON still decodes
            off = rng.randrange(signer.start(1), signer.end(1))
            x = data[off] ^ rng.choice([c for c in b"0123456789abcdef" if c != data[off]])
        data[off] ^= x
        return Mutation("flip:" + mtype, "byte %d of %s xor 0x%02x" % (off, rel, x),
                        ctx.tar(set_item(ctx.items(), rel, bytes(data))), [[named(rel)]])
    return make


def other_headers(m):
    """A finding about the header of another member than m."""
    return r"\(tar\): member (?!%s: )" % re.escape(m.name)


def header_change(field, values):
    """A header field of one member changed to one of values(rng, ctx, m,
    nth) (bytes for the field), the checksum fixed."""
    def make(rng, ctx, nth):
        m = pick_member(rng, ctx, nth)
        block = ctx.data[m.header_offset:m.header_offset + bt.BLOCK]
        changes = values(rng, ctx, m, nth)
        for f, v in changes:
            block = bt.set_field(block, f, v, fix_checksum=False)
        block = bt.with_checksum(block)
        old = ctx.data[m.header_offset:m.header_offset + bt.BLOCK]
        desc = "%s of %s: %s" % ("/".join(f for f, _ in changes), m.name, ", ".join(
            "%s %r -> %r" % (f, bt.get_field(old, f).rstrip(b"\0"), v.rstrip(b"\0")) for f, v in changes))
        data = ctx.data[:m.header_offset] + block + ctx.data[m.header_offset + bt.BLOCK:]
        return Mutation("header:" + field, desc, data,
                        [[re.escape(m.name) + r": its tar header is not the one the recorder writes"]],
                        forbid=[other_headers(m)])
    return make


def v_mode(rng, ctx, m, nth):
    mode = 0o6777 if nth < 2 else rng.choice([0o6777, 0o644, 0o755, 0o400, 0o4444, 0o2444, 0o1444, 0o777,
                                              0o000, 0o440, 0o404, 0o7444])
    return [("mode", bt.octal(mode, 8))]


def v_id(field):
    return lambda rng, ctx, m, nth: [(field, bt.octal(rng.randrange(1, 0o7777777), 8))]


def v_name(field):
    return lambda rng, ctx, m, nth: [(field, rng.choice([b"root", b"nobody", b"nvr", b"www-data", b"mallory",
                                                         "".join(rng.choice("abcdefghij") for _ in range(
                                                             rng.randrange(1, 32))).encode()]))]


def v_mtime(rng, ctx, m, nth):
    t = ctx.b.mtime
    new = rng.choice([0, 1, t - 1, t + 1, t + rng.randrange(2, 10 ** 6), max(0, t - rng.randrange(2, 10 ** 6))])
    return [("mtime", bt.octal(new, 12))]


def v_linkname(rng, ctx, m, nth):
    return [("linkname", rng.choice([b"../../etc/passwd", b"/etc/shadow", b"README.txt",
                                     ctx.full("README.txt").encode(), b"x"]))]


def v_typeflag(rng, ctx, m, nth):
    # What tar readers still take for a regular file: NUL (pre-POSIX) and
    # '7' (contiguous file, extracted as a regular one).
    return [("typeflag", b"\0" if nth % 2 == 0 else b"7")]


def v_dev(field):
    return lambda rng, ctx, m, nth: [(field, rng.choice([bt.octal(rng.randrange(1, 256), 8), b"0000000\0",
                                                         b"0000000 "]))]


def v_magic(rng, ctx, m, nth):
    return rng.choice([[("magic", b"ustar "), ("version", b" \0")],  # GNU tar's old format
                       [("version", b"  ")], [("version", b"01")]])


def v_split(rng, ctx, m, nth):
    """The same path split elsewhere between prefix and name: what a tar
    reader extracts is the same file."""
    raw = m.name.encode()
    now = bt.split_path(m.name)
    alts = []
    for i, c in enumerate(raw):
        if c == ord("/") and i <= bt.PREFIX_LEN and 1 <= len(raw) - i - 1 <= bt.NAME_LEN:
            if (raw[:i], raw[i + 1:]) != now:
                alts.append((raw[:i], raw[i + 1:]))
    if len(raw) <= bt.NAME_LEN and now[0] != b"":
        alts.append((b"", raw))
    prefix, name = rng.choice(alts)
    return [("prefix", prefix), ("name", name)]


def v_spelling(rng, ctx, m, nth):
    """A number spelled otherwise, its value the same (what GNU tar and
    older writers put): a space end, leading spaces, no leading zeros."""
    field = rng.choice(["mode", "uid", "gid", "size", "mtime"])
    width = bt.FIELDS[field][1]
    value = bt._number(bt.get_field(ctx.data[m.header_offset:], field))
    digits = "%o" % value
    spellings = [("%0*o " % (width - 1, value)).encode(),
                 ("%*o\0" % (width - 1, value)).encode(),
                 (digits + "\0").encode(),
                 ("%0*o\0" % (width - 2, value)).encode() + b"\0"]
    return [(field, rng.choice([s for s in spellings
                                if len(s) <= width and s.ljust(width, b"\0") != bt.octal(value, width)]))]


def v_pad(rng, ctx, m, nth):
    return [("pad", bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 13))))]


def checksum_spelling(rng, ctx, nth):
    """The checksum field spelled otherwise, its value right."""
    m = pick_member(rng, ctx, nth)
    block = bytearray(ctx.data[m.header_offset:m.header_offset + bt.BLOCK])
    s = bt.checksum(block)
    sp = rng.choice([b"%07o\0" % s, b"%06o  " % s, b" %05o\0 " % s, b"%06o\0\0" % s, b"%o\0" % s])
    block[148:156] = sp.ljust(8, b"\0")
    data = ctx.data[:m.header_offset] + bytes(block) + ctx.data[m.header_offset + bt.BLOCK:]
    return Mutation("header:chksum", "checksum of %s spelled %r" % (m.name, sp), data,
                    [[re.escape(m.name) + r": its tar header is not the one the recorder writes"]],
                    forbid=[other_headers(m)])


def member_padding(rng, ctx, nth):
    """Bytes hidden in the zeros after a member's data, up to its next
    block: no tar reader shows them, and no hash covers them."""
    m = rng.choice([m for m in ctx.members if bt.padding(m.size) > 0])
    pad = bt.padding(m.size)
    n = rng.randrange(1, pad + 1)
    at = m.data_offset + m.size + rng.randrange(pad - n + 1)
    hidden = bytes(rng.randrange(1, 256) for _ in range(n))
    data = ctx.data[:at] + hidden + ctx.data[at + n:]
    return Mutation("tar:member-padding", "%d bytes hidden at byte %d, in the padding after %s" % (
        n, at, m.name), data, [[named(bt.split_top(m.name)[1]), r"\(tar\)"]], forbid=[])


def mtime_all(rng, ctx, nth):
    """Every member's time changed alike, as a tar re-made later has it."""
    t = ctx.b.mtime + rng.choice([-1, 1, 3600, -86400, rng.randrange(2, 10 ** 8)])
    return Mutation("tar:mtime-all", "every member's time %d (the export's is %d)" % (t, ctx.b.mtime),
                    ctx.tar(ctx.items(), mtime=t), [[r"\(tar\): its members' time"]], forbid=[])


def truncate(rng, ctx, nth):
    size = len(ctx.data)
    if nth == 0:
        at = rng.randrange(0, bt.BLOCK)           # inside the first header
    elif nth == 1:
        at = rng.choice(ctx.members).header_offset  # just before a header
    elif nth == 2:
        at = rng.randrange(ctx.end, size)          # inside the end blocks
    else:
        at = rng.randrange(0, size)
    return Mutation("truncate", "cut at byte %d of %d" % (at, size), ctx.data[:at], [[r"truncated"]], forbid=[])


APPENDED = r"(appended to the bundle|something hidden after the end)"


def appended(kind, desc, data):
    """Data after the end of the archive: the finding must say so, and be
    the only one about the tar's shape."""
    return Mutation(kind, desc, data, [[r"\(tar\): .*" + APPENDED]], forbid=[r"\(tar\): (?!.*%s)" % APPENDED])


def append_random(rng, ctx, nth):
    how = rng.choice(["bytes", "zeros", "record", "between"])
    if how == "bytes":
        extra = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4097)))
        return appended("append:random", "%d random bytes appended" % len(extra), ctx.data + extra)
    if how == "zeros":
        extra = bytes(rng.randrange(1, 4097))
        return appended("append:random", "%d zero bytes appended" % len(extra), ctx.data + extra)
    if how == "record":
        # GNU tar pads a tar to a 10240-byte record.
        n = (10240 - len(ctx.data) % 10240) % 10240 or 10240
        return appended("append:random", "zeros to a 10240-byte record (%d bytes)" % n, ctx.data + bytes(n))
    extra = bytes(rng.randrange(256) for _ in range(bt.BLOCK))
    return appended("append:random", "the second end block replaced by 512 random bytes",
                    ctx.data[:ctx.end + bt.BLOCK] + extra)


def append_tar(rng, ctx, nth):
    rel = rng.choice(["extra.txt", "README.txt", "export.json",
                      "keys/%s.sealed.json" % uuid.UUID(int=rng.getrandbits(128))])
    body = rng.choice([b"", b"appended\n", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))])
    extra = bt.pack([(ctx.full(rel), body)], ctx.b.mtime)
    return appended("append:tar", "a tar of %s (%d bytes) appended" % (rel, len(body)), ctx.data + extra)


def append_bundle(rng, ctx, nth):
    how = rng.choice(["itself", "twice", "record", "other"])
    if how == "itself":
        extra, desc = ctx.data, "the bundle appended to itself"
    elif how == "twice":
        extra, desc = ctx.data + ctx.data, "the bundle appended to itself twice"
    elif how == "record":
        extra, desc = bytes(10240) + ctx.data, "10240 zero bytes and the bundle appended"
    else:
        items = set_item(ctx.items(), "README.txt", b"another bundle\n")
        extra = ctx.tar(items, top="nvr-export-%s" % uuid.UUID(int=rng.getrandbits(128)))
        desc = "another bundle (another top folder) appended"
    return appended("append:bundle", desc, ctx.data + extra)


def member_add(rng, ctx, nth):
    items = ctx.items()
    seg = rng.choice(ctx.by_type["segment"])
    choices = [
        ("extra.txt", b"added\n"),
        ("NOTES.md", b""),
        (".hidden", b"x"),
        ("keys/%s.sealed.json" % uuid.UUID(int=rng.getrandbits(128)), ctx.b.get(ctx.by_type["sealed-key"][0])),
        ("certs/%s.crt" % ("%064x" % rng.getrandbits(256)), ctx.b.get(ctx.by_type["cert"][0])),
        (seg.rsplit("/", 1)[0] + "/%s.nvrseg" % uuid.UUID(int=rng.getrandbits(128)), ctx.b.get(seg)),
        ("a/b/c/d/e/f", b"six deep\n"),
        ("a/b/c/d/e/f/g", b"seven deep\n"),
        ("x y.txt", b"a space\n"),
        ("../escape", b"outside\n"),
    ]
    rel, data = rng.choice([c for c in choices if c[0] not in ctx.names])
    at = rng.randrange(len(items) + 1)
    items.insert(at, (rel, data))
    return Mutation("member:add", "%s (%d bytes) added as member %d" % (rel, len(data), at + 1),
                    ctx.tar(items), [[named(rel)]])


def member_remove(rng, ctx, nth):
    rel = ctx.names[0] if nth == 0 else ctx.names[-1] if nth == 1 else rng.choice(ctx.names)
    items = [(r, d) for r, d in ctx.items() if r != rel]
    return Mutation("member:remove", "%s removed" % rel, ctx.tar(items), [[named(rel)]])


def member_duplicate(rng, ctx, nth):
    items = ctx.items()
    i = rng.randrange(len(items))
    rel, data = items[i]
    if rng.random() < 0.3 and data:
        b = bytearray(data)
        b[rng.randrange(len(b))] ^= 0xff
        data, how = bytes(b), "an altered copy"
    else:
        how = "a copy"
    at = rng.randrange(len(items) + 1)
    items.insert(at, (rel, data))
    return Mutation("member:duplicate", "%s of %s inserted as member %d" % (how, rel, at + 1),
                    ctx.tar(items), [[named(rel)]])


def member_reorder(rng, ctx, nth):
    items = ctx.items()
    i, j = sorted(rng.sample(range(len(items)), 2))
    if rng.random() < 0.5:
        items[i], items[j] = items[j], items[i]
        a, b = items[j][0], items[i][0]
        return Mutation("member:reorder", "members %d (%s) and %d (%s) swapped" % (i + 1, a, j + 1, b),
                        ctx.tar(items), [[named(a)], [named(b)]])
    src, dst = (i, j) if rng.random() < 0.5 else (j, i)
    moved = items.pop(src)
    items.insert(dst, moved)
    return Mutation("member:reorder", "member %d (%s) moved to %d" % (src + 1, moved[0], dst + 1),
                    ctx.tar(items), [[named(moved[0])]])


def segment_swap(rng, ctx, nth):
    a, b = rng.sample(ctx.by_type["segment"], 2)
    da, db = ctx.b.get(a), ctx.b.get(b)
    items = set_item(set_item(ctx.items(), a, db), b, da)
    return Mutation("segment:swap", "contents of %s and %s swapped" % (a, b), ctx.tar(items),
                    [[named(a)], [named(b)]])


def segment_neighbour(rng, ctx, nth):
    stream = rng.choice([s for s in ctx.streams.values() if len(s) >= 2])
    i = rng.randrange(len(stream))
    j = i + 1 if i == 0 or (i + 1 < len(stream) and rng.random() < 0.5) else i - 1
    dst, src = stream[i][1][:-len(".nvrseg")], stream[j][1][:-len(".nvrseg")]
    items = ctx.items()
    expect = []
    for ext in (".nvrseg", ".manifest.json", ".manifest.json.sig"):
        items = set_item(items, dst + ext, ctx.b.get(src + ext))
        expect.append([named(dst + ext)])
    return Mutation("segment:neighbour", "seq %d's three files replaced by seq %d's (%s*)" % (
        stream[i][0], stream[j][0], dst), ctx.tar(items), expect)


def audit_edit(rng, ctx):
    rows = ctx.b.get("audit.jsonl").decode().split("\n")[:-1]
    i = rng.randrange(len(rows))
    how = rng.choice(["actor", "outcome", "at", "object", "delete", "duplicate", "swap", "add"])
    if how in ("actor", "outcome", "at", "object"):
        m = re.search(r'"%s" : "([^"]*)"' % how, rows[i])
        new = {"actor": "nvrctl:mallory", "outcome": "denied", "at": "2020-01-01T00:00:00.000000Z",
               "object": "cam9"}[how]
        rows[i] = rows[i][:m.start(1)] + new + rows[i][m.end(1):]
        desc = "row %d: %s %r -> %r" % (i + 1, how, m.group(1), new)
    elif how == "delete":
        del rows[i]
        desc = "row %d deleted" % (i + 1)
    elif how == "duplicate":
        rows.insert(i, rows[i])
        desc = "row %d duplicated" % (i + 1)
    elif how == "swap" and len(rows) > 1:
        j = (i + 1) % len(rows)
        rows[i], rows[j] = rows[j], rows[i]
        desc = "rows %d and %d swapped" % (i + 1, j + 1)
    else:
        rows.append(rows[-1].replace('"action" : "', '"action" : "x.'))
        desc = "a forged row added"
    return ("\n".join(rows) + "\n").encode(), desc


def audit_kind(with_sums):
    def make(rng, ctx, nth):
        text, desc = audit_edit(rng, ctx)
        items = set_item(ctx.items(), "audit.jsonl", text)
        expect = [[named("audit.jsonl")]]
        if with_sums:
            sums = ctx.b.get("SHA256SUMS").decode().replace(sha256(ctx.b.get("audit.jsonl")), sha256(text))
            items = set_item(items, "SHA256SUMS", sums.encode())
            desc += ", SHA256SUMS rewritten"
            expect.append([named("SHA256SUMS")])
        return Mutation("audit:edit" + ("+sums" if with_sums else ""), "audit.jsonl " + desc, ctx.tar(items),
                        expect)
    return make


def top_rename(rng, ctx, nth):
    eid = ctx.export_id
    how = "one" if nth == 0 else rng.choice(["uuid", "upper", "prefix", "one"])
    expect = [[r"top folder"]]
    if how == "uuid":
        top = "nvr-export-%s" % uuid.UUID(int=rng.getrandbits(128))
        return Mutation("top:rename", "top folder renamed %s" % top, ctx.tar(ctx.items(), top=top), expect,
                        forbid=[r":\(tar\): (?!its top folder)"])
    if how == "upper":
        top = "nvr-export-" + eid.upper()
        return Mutation("top:rename", "top folder renamed %s" % top, ctx.tar(ctx.items(), top=top), expect,
                        forbid=[r":\(tar\): (?!its top folder)"])
    if how == "prefix":
        top = rng.choice(["nvr-Export-", "nvr-export_", "evidence-", "nvr-export-x"]) + eid
        return Mutation("top:rename", "top folder renamed %s" % top, ctx.tar(ctx.items(), top=top), expect,
                        forbid=[r":\(tar\): (?!its top folder)"])
    # one member only below another top folder: that member must be named
    i = 0 if nth == 0 else rng.randrange(len(ctx.names))
    other = "nvr-export-%s" % uuid.UUID(int=rng.getrandbits(128))
    out = bytearray()
    for k, (rel, data) in enumerate(ctx.items()):
        out += bt.pack([((other if k == i else ctx.b.top) + "/" + rel, data)], ctx.b.mtime)[:-2 * bt.BLOCK]
    out += bytes(2 * bt.BLOCK)
    return Mutation("top:rename", "member %d (%s) below %s/" % (i + 1, ctx.names[i], other), bytes(out),
                    [[re.escape(other + "/" + ctx.names[i])]])


ANCHORS = ("none", "trust", "fingerprint")


def anchor_args(ctx, anchor):
    if anchor == "trust":
        return ["--trust", ctx.recorder_cert]
    if anchor == "fingerprint":
        return ["--fingerprint", ctx.recorder_fp]
    return []


def add_forger_cert(ctx, items):
    """The forger's certificate in certs/, in the recorder's order (by name)."""
    rel = "certs/%s.crt" % ctx.forger_fp
    certs = [i for i, (r, _) in enumerate(items) if r.startswith("certs/")]
    at = next((i for i in certs if items[i][0] > rel), certs[-1] + 1)
    items.insert(at, (rel, ctx.forger_pem))
    return items


def resign(rng, ctx, nth):
    man = json.loads(ctx.b.get("export.json"))
    items = ctx.items()
    change = rng.choice(["nothing", "reason", "actor", "range", "recorder", "address"])
    if change == "reason":
        man["reason"] = "case 2026-999: nothing to see"
    elif change == "actor":
        man["actor"] = "nvrctl:mallory"
    elif change == "range":
        man["range"]["to"] = man["range"]["from"]
    elif change == "recorder":
        man["recorder"] = "elsewhere nvr/0.1.0"
    elif change == "address":
        man["address"] = "192.0.2.7"
    how = ["listed", "unlisted", "same-signer", "cert-renamed"][nth % 4] if nth < 4 else rng.choice(
        ["listed", "unlisted", "same-signer", "cert-renamed"])
    if how == "listed":      # signer_sha256 the forger's, its certificate added and listed
        man["signer_sha256"] = ctx.forger_fp
        items = reseal(ctx, add_forger_cert(ctx, items), man)
    elif how == "unlisted":  # ... added but not listed
        man["signer_sha256"] = ctx.forger_fp
        items = reseal(ctx, add_forger_cert(ctx, items), man, list_members=False)
    elif how == "same-signer":  # signer_sha256 still the recorder's
        items = reseal(ctx, items, man)
    else:                    # the forger's certificate under the recorder's certificate's name
        rel = "certs/%s.crt" % ctx.recorder_fp
        items = reseal(ctx, set_item(items, rel, ctx.forger_pem), man)
    anchor = ANCHORS[nth % 3] if nth < 3 else rng.choice(ANCHORS)
    return Mutation("resign:export.json", "export.json (%s changed) re-signed by the forger's key, %s; "
                    "verify with %s" % (change, how, anchor), ctx.tar(items), [[named("export.json")]],
                    anchor_args(ctx, anchor))


def forgery(rng, ctx, nth):
    """The bug report's forgery: another actor, reason and range, each
    stream's last segment dropped and export.json's streams made to match,
    SHA256SUMS and README.txt rewritten, export.json re-signed by the
    forger's key with its certificate in certs/."""
    man = json.loads(ctx.b.get("export.json"))
    items = ctx.items()
    readme = ctx.b.get("README.txt").decode()
    actor = rng.choice(["nvrctl:mallory", "admin", "inspector"])
    reason = rng.choice(["case 2026-999: routine", "insurance claim", "nothing happened"])
    readme = readme.replace(" for %s (" % man["actor"], " for %s (" % actor, 1)
    readme = readme.replace("Reason: %s\n" % man["reason"], "Reason: %s\n" % reason, 1)
    man["actor"], man["reason"] = actor, reason
    dropped = set()
    for sid, segs in ctx.streams.items():
        if len(segs) < 2:
            continue
        seq, seg, m = segs[-1]
        base = seg[:-len(".nvrseg")]
        dropped |= {base + ".nvrseg", base + ".manifest.json", base + ".manifest.json.sig"}
        kept = [s[2] for s in segs[:-1]]
        for cam in man["cameras"]:
            for st in cam["streams"]:
                if st["id"] == sid:
                    st["segments"] = len(kept)
                    st["last_seq"] = kept[-1]["seq"]
                    st["covered"]["to"] = max(k["end_time"] for k in kept)
                    st["packets"] = sum(k["packets"] for k in kept)
                    st["forged_packets"] = sum(k["forged_packets"] for k in kept)
                    st["lost_packets"] = sum(k["lost_packets"] for k in kept)
    old_range = dict(man["range"])
    man["range"]["to"] = max(st["covered"]["to"] for c in man["cameras"] for st in c["streams"])[:19] + "Z"
    readme = readme.replace("%s to %s" % (old_range["from"], old_range["to"]),
                            "%s to %s" % (man["range"]["from"], man["range"]["to"]), 1)
    readme = readme.replace("certs/%s.crt" % ctx.recorder_fp, "certs/%s.crt" % ctx.forger_fp)
    used = {s[2]["key_id"] for segs in ctx.streams.values() for s in segs if s[1] not in dropped}
    items = [(r, d) for r, d in items if r not in dropped and not (
        r.startswith("keys/") and r[5:-len(".sealed.json")] not in used)]
    items = set_item(items, "README.txt", readme.encode())
    man["signer_sha256"] = ctx.forger_fp
    items = reseal(ctx, add_forger_cert(ctx, items), man)
    anchor = ANCHORS[nth % 3] if nth < 3 else rng.choice(ANCHORS)
    return Mutation("forgery:bug-report", "actor %s, reason %r, range to %s, %d files dropped, re-signed by "
                    "the forger; verify with %s" % (actor, reason, man["range"]["to"], len(dropped), anchor),
                    ctx.tar(items), [[named("export.json")]], anchor_args(ctx, anchor))


def resign_manifests(ctx):
    """Every segment manifest signed by the forger's key instead, naming its
    certificate, each stream's chain made again over the new manifests:
    {name: data} of the manifests and signatures, made once per run."""
    with ctx.lock:
        if ctx.resigned is None:
            ctx.resigned = resign_all(ctx)
        return ctx.resigned


def resign_all(ctx):
    out = {}
    for segs in ctx.streams.values():
        prev = None
        for seq, seg, _ in segs:
            base = seg[:-len(".nvrseg")]
            text = ctx.b.get(base + ".manifest.json")
            obj = json.loads(text)
            if manifest_dump(obj) != text:
                raise ValueError("%s.manifest.json is not written as bundle_tool.py writes JSON" % base)
            obj["signer_sha256"] = ctx.forger_fp
            if prev is not None and prev[0] == seq - 1:
                obj["prev_manifest_sha256"] = sha256(prev[1])
            new = manifest_dump(obj)
            out[base + ".manifest.json"] = new
            out[base + ".manifest.json.sig"] = ctx.sign(new)
            prev = (seq, new)
    return out


def resigned_all(rng, ctx, nth):
    """A bundle re-signed throughout by another key (every manifest, the
    chains, export.json): consistent, so only a trust anchor (--trust or
    --fingerprint of the recorder's certificate) tells it from the
    recorder's."""
    man = json.loads(ctx.b.get("export.json"))
    items = [(r, resign_manifests(ctx).get(r, d)) for r, d in ctx.items()]
    items = add_forger_cert(ctx, items)
    if rng.random() < 0.5:
        rel = "certs/%s.crt" % ctx.recorder_fp
        items = [(r, d) for r, d in items if r != rel]
        how = "the recorder's certificate removed"
    else:
        how = "the recorder's certificate kept"
    man["signer_sha256"] = ctx.forger_fp
    man["reason"] = rng.choice([man["reason"], "case 2026-999: routine"])
    items = reseal(ctx, items, man)
    anchor = ("trust", "fingerprint")[nth % 2]
    return Mutation("forgery:resigned-all", "every manifest and export.json re-signed by the forger's key, %s; "
                    "verify with %s" % (how, anchor), ctx.tar(items), [[named("export.json")]],
                    anchor_args(ctx, anchor))


def kinds():
    """Every kind, in the table's order: the same for every bundle, so
    that a test can plan one check per kind before it has a bundle."""
    k = collections.OrderedDict()
    for t in FLIP_TYPES:
        k["flip:" + t] = flip(t)
    k["header:mode"] = header_change("mode", v_mode)
    k["header:uid"] = header_change("uid", v_id("uid"))
    k["header:gid"] = header_change("gid", v_id("gid"))
    k["header:uname"] = header_change("uname", v_name("uname"))
    k["header:gname"] = header_change("gname", v_name("gname"))
    k["header:mtime"] = header_change("mtime", v_mtime)
    k["header:linkname"] = header_change("linkname", v_linkname)
    k["header:typeflag"] = header_change("typeflag", v_typeflag)
    k["header:devmajor"] = header_change("devmajor", v_dev("devmajor"))
    k["header:devminor"] = header_change("devminor", v_dev("devminor"))
    k["header:magic"] = header_change("magic", v_magic)
    k["header:name-split"] = header_change("name-split", v_split)
    k["header:number-spelling"] = header_change("number-spelling", v_spelling)
    k["header:chksum"] = checksum_spelling
    k["header:padding"] = header_change("padding", v_pad)
    k["tar:member-padding"] = member_padding
    k["tar:mtime-all"] = mtime_all
    k["truncate"] = truncate
    k["append:random"] = append_random
    k["append:tar"] = append_tar
    k["append:bundle"] = append_bundle
    k["member:add"] = member_add
    k["member:remove"] = member_remove
    k["member:duplicate"] = member_duplicate
    k["member:reorder"] = member_reorder
    k["segment:swap"] = segment_swap
    k["segment:neighbour"] = segment_neighbour
    k["audit:edit"] = audit_kind(False)
    k["audit:edit+sums"] = audit_kind(True)
    k["top:rename"] = top_rename
    k["resign:export.json"] = resign
    k["forgery:bug-report"] = forgery
    k["forgery:resigned-all"] = resigned_all
    return k


def unavailable(ctx, kind):
    """Why this bundle cannot have mutations of kind (None when it can): a
    reason outside the verifier, which the test reports as a skip."""
    if kind.startswith("flip:") and not any(len(ctx.b.get(r)) for r in ctx.by_type[kind[5:]]):
        return "the bundle has no member of this type" + (
            " (a member no other kind names)" if kind == "flip:other" else "")
    if kind == "tar:member-padding" and not any(bt.padding(m.size) for m in ctx.members):
        return "no member of the bundle has padding"
    if kind == "segment:swap" and len(ctx.by_type["segment"]) < 2:
        return "the bundle has fewer than two segments"
    if kind == "segment:neighbour" and not any(len(s) >= 2 for s in ctx.streams.values()):
        return "no stream in the bundle has two segments"
    forger = ctx.forger_key and ctx.forger_cert and ctx.recorder_cert
    if kind.startswith(("resign", "forgery")) and not forger:
        return "no forger's key and certificate given (--forger-key, --forger-cert, --recorder-cert)"
    return None


def schedule(seed, names, count, per_kind=PER_KIND):
    """Which kind each mutation is: every kind per_kind times, the rest
    drawn at random, shuffled."""
    rng = random.Random("%s:schedule" % seed)
    s = [k for k in names for _ in range(per_kind)]
    s += [rng.choice(names) for _ in range(max(0, count - len(s)))]
    rng.shuffle(s)
    return s


def run_verify(ctx, path, args):
    env = dict(os.environ, TMPDIR=ctx.work)
    try:
        p = subprocess.run([ctx.nvrctl, "verify", path] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env, timeout=120)
    except subprocess.TimeoutExpired as e:
        return "timeout", (e.stdout or b"").decode("utf-8", "replace")
    return p.returncode, p.stdout.decode("utf-8", "replace")


def judge(m, rc, out):
    """(detected, named): exit status 1; and every expected name in a FAIL
    line, and no FAIL line forbidden."""
    fails = [line for line in out.splitlines() if line.startswith("FAIL ")]
    ok = all(any(re.search(rx, line) for rx in group for line in fails) for group in m.expect)
    ok = ok and not any(re.search(rx, line) for rx in m.forbid for line in fails)
    return rc == 1, rc == 1 and ok


def make(ctx, table, seed, sched, i):
    nth = sched[:i].count(sched[i])
    return table[sched[i]](random.Random("%s:%d" % (seed, i)), ctx, nth)


def replay_command(i):
    """This command again, for mutation i alone, keeping its tar."""
    argv, skip = [], False
    for arg in sys.argv:
        if skip:
            skip = False
        elif arg in ("--results", "--only", "--count"):
            skip = True
        elif not arg.startswith(("--results=", "--only=", "--count=")) and arg != "--keep":
            argv.append(arg)
    return shlex.join(["python3"] + argv + ["--only", str(i), "--keep"])


def campaign(a, ctx):
    table = kinds()
    names = [k for k in table if unavailable(ctx, k) is None]
    count = a.count if a.count else max(TOTAL_MIN if a.per_kind >= PER_KIND else 0, a.per_kind * len(names))
    sched = schedule(a.seed, names, count, a.per_kind)
    only = [int(x) for x in a.only.split(",")] if a.only else range(len(sched))
    stats = collections.OrderedDict((k, [0, 0, 0]) for k in table)
    misses = []

    def one(i):
        m = make(ctx, table, a.seed, sched, i)
        path = os.path.join(a.work, "m%d.tar" % i)
        with open(path, "wb") as f:
            f.write(m.data)
        rc, out = run_verify(ctx, path, m.args)
        if not a.keep:
            os.unlink(path)
        return i, m, rc, out

    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        for i, m, rc, out in pool.map(one, only):
            detected, good = judge(m, rc, out)
            st = stats[m.kind]
            st[0] += 1
            st[1] += detected
            st[2] += good
            if not good or a.only:
                misses.append((i, m, rc, out, detected))
    print("mutations: %d, seed %s (NVR_MUTATE_SEED=%s replays them)" % (len(only), a.seed, a.seed))
    print("%-26s %6s %9s %6s" % ("kind", "count", "detected", "named"))
    for k, (n, d, g) in stats.items():
        why = unavailable(ctx, k)
        print("%-26s %6d %9d %6d%s" % (k, n, d, g, "   (none: %s)" % why if why and not a.only
                                       else "   <-- MISSED" if not n == d == g else ""))
    shown = collections.Counter()
    for i, m, rc, out, detected in sorted(misses, key=lambda x: x[0]):
        what = "mutation" if a.only else "NOT DETECTED" if not detected else "NOT NAMED"
        shown[m.kind] += 1
        if shown[m.kind] > 3 and not a.only:
            # the first three of a kind in full; each other one on a line
            print("%s %d [%s] %s: verify exited %s (seed %s, index %d: --only %d)" % (
                what, i, m.kind, m.desc, rc, a.seed, i, i))
            continue
        fails = [line for line in out.splitlines() if line.startswith("FAIL ") or line.startswith("nvrctl")]
        print("%s %d [%s] %s: verify exited %s" % (what, i, m.kind, m.desc, rc))
        print("  expected FAIL lines matching: %s%s" % (
            " and ".join("/" + "|".join(g) + "/" for g in m.expect),
            "; none matching /%s/" % "|".join(m.forbid) if m.forbid else ""))
        for line in (out.splitlines() if a.only else fails[:4] or ["(no FAIL line)"]):
            print("  | " + line[:300])
        print("  replay (seed %s, index %d): %s" % (a.seed, i, replay_command(i)))
    if a.results:
        with open(a.results, "w") as f:
            for k, (n, d, g) in stats.items():
                f.write("%s\t%d\t%d\t%d\t%s\n" % (k, n, d, g, unavailable(ctx, k) or ""))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle")
    p.add_argument("--nvrctl")
    p.add_argument("--work", help="the folder for mutated tars and verify's temporary files")
    p.add_argument("--seed", default=None)
    p.add_argument("--count", type=int, default=0,
                   help="at least this many mutations (default %d; every kind %d times in any case)" % (
                       TOTAL_MIN, PER_KIND))
    p.add_argument("--per-kind", type=int, default=PER_KIND,
                   help="each kind this many times (default %d, and then at least %d in all; fewer, and only "
                   "that many of each: a shorter campaign, for a sanitizer build)" % (PER_KIND, TOTAL_MIN))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--only", help="comma-separated indexes: make and check only these, printing verify's "
                   "whole output")
    p.add_argument("--keep", action="store_true", help="keep each mutated tar as WORK/mINDEX.tar")
    p.add_argument("--results", help="write KIND COUNT DETECTED NAMED lines (tab-separated) here")
    p.add_argument("--forger-key")
    p.add_argument("--forger-cert")
    p.add_argument("--recorder-cert")
    p.add_argument("--list-kinds", action="store_true")
    p.add_argument("--emit", action="append", default=[], metavar="KIND=OUT",
                   help="write one mutation of KIND (made from the seed) to OUT, and nothing else")
    a = p.parse_args()
    if a.list_kinds:
        print("\n".join(kinds()))
        return 0
    if not a.bundle:
        p.error("--bundle is needed")
    if a.work:
        os.makedirs(a.work, exist_ok=True)
    ctx = Ctx(a)
    if a.seed is None:
        a.seed = str(random.SystemRandom().randrange(10 ** 9))
    if a.emit:
        table = kinds()
        for e in a.emit:
            kind, _, out = e.partition("=")
            m = table[kind](random.Random("%s:emit:%s" % (a.seed, kind)), ctx, 0)
            with open(out, "wb") as f:
                f.write(m.data)
            print("%s: %s" % (out, m.desc))
        return 0
    if not (a.nvrctl and a.work):
        p.error("a campaign needs --nvrctl and --work")
    return campaign(a, ctx)


if __name__ == "__main__":
    sys.exit(main())
