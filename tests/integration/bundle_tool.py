#!/usr/bin/env python3
"""bundle_tool.py: tar surgery on export bundles (docs/FORMAT.md section 12)
for the tests: list a bundle's members with where their headers and data
lie, read one, and write a tar exactly as the recorder writes one
(storage/tar.c, storage/export_write.c), so that a test can alter a bundle
and re-make a tar that differs from the recorder's ONLY by that alteration.

It must never be lenient where the recorder is strict when it writes: a
name that ustar's fields cannot hold is an error, not a pax record. When it
reads, it is lenient (any typeflag, any spelling of a number), because it
reads tars that tests have mangled on purpose.

Standard library only (Debian 12's python3).

    bundle_tool.py list BUNDLE
    bundle_tool.py cat BUNDLE MEMBER
    bundle_tool.py pack DIR OUT --like ORIGINAL [--after NEW=ANCHOR ...] [--top NAME] [--mtime SECONDS]
"""

import argparse
import os
import sys

BLOCK = 512
NAME_LEN = 100
PREFIX_LEN = 155
SIZE_MAX = 0o77777777777  # 11 octal digits

# ustar header fields (POSIX pax, ustar interchange format): offset, length.
FIELDS = {
    "name": (0, 100),
    "mode": (100, 8),
    "uid": (108, 8),
    "gid": (116, 8),
    "size": (124, 12),
    "mtime": (136, 12),
    "chksum": (148, 8),
    "typeflag": (156, 1),
    "linkname": (157, 100),
    "magic": (257, 6),
    "version": (263, 2),
    "uname": (265, 32),
    "gname": (297, 32),
    "devmajor": (329, 8),
    "devminor": (337, 8),
    "prefix": (345, 155),
    "pad": (500, 12),
}


def octal(value, width):
    """width - 1 octal digits and a NUL, as stg_tar_header writes numbers."""
    digits = "%0*o" % (width - 1, value)
    if len(digits) != width - 1:
        raise ValueError("%d does not fit %d octal digits" % (value, width - 1))
    return digits.encode() + b"\0"


def checksum(block):
    """The ustar checksum: the sum of the header's bytes, its own field
    counted as eight spaces."""
    chk = FIELDS["chksum"][0]
    return sum(block[:chk]) + 8 * ord(" ") + sum(block[chk + 8:BLOCK])


def with_checksum(block):
    """block with its checksum field written as the recorder writes it:
    six octal digits, a NUL and a space."""
    b = bytearray(block)
    off = FIELDS["chksum"][0]
    b[off:off + 8] = b"%06o\0 " % checksum(b)
    return bytes(b)


def split_path(path):
    """(prefix, name) of path as stg_tar_header splits it: no prefix when
    the name fits in 100 bytes, else at the last '/' that leaves a name of
    at most 100 bytes and a prefix of at most 155."""
    raw = path.encode()
    n = len(raw)
    if n == 0:
        raise ValueError("an empty member name")
    if n <= NAME_LEN:
        return b"", raw
    for i in range(n - 1, 0, -1):
        if n - i - 1 > NAME_LEN:
            break
        if i <= PREFIX_LEN and n - i - 1 >= 1 and raw[i:i + 1] == b"/":
            return raw[:i], raw[i + 1:]
    raise ValueError("%s cannot be split into ustar's prefix and name" % path)


def header(path, size, mtime):
    """The 512-byte header stg_tar_header writes for a regular file path of
    size bytes with time mtime: mode 0444, owner 0, no names, no link."""
    if size < 0 or size > SIZE_MAX or mtime < 0:
        raise ValueError("%s: size %d or time %d out of range" % (path, size, mtime))
    prefix, name = split_path(path)
    b = bytearray(BLOCK)

    def put(field, value):
        off, length = FIELDS[field]
        assert len(value) <= length
        b[off:off + len(value)] = value

    put("name", name)
    put("mode", octal(0o444, 8))
    put("uid", octal(0, 8))
    put("gid", octal(0, 8))
    put("size", octal(size, 12))
    put("mtime", octal(mtime, 12))
    put("typeflag", b"0")
    put("magic", b"ustar\0")
    put("version", b"00")
    put("prefix", prefix)
    return with_checksum(b)


def set_field(block, field, value, fix_checksum=True):
    """A copy of header block with field set to value (bytes, NUL-padded to
    the field's length), its checksum fixed unless told not to."""
    off, length = FIELDS[field]
    if len(value) > length:
        raise ValueError("%r is longer than the %s field (%d)" % (value, field, length))
    b = bytearray(block)
    b[off:off + length] = value + b"\0" * (length - len(value))
    return with_checksum(b) if fix_checksum else bytes(b)


def get_field(block, field):
    off, length = FIELDS[field]
    return bytes(block[off:off + length])


def padding(size):
    return (BLOCK - size % BLOCK) % BLOCK


def pack(items, mtime):
    """A tar of items, a list of (path, data) in order, as the recorder
    writes a bundle: each header, the data, zeros to the next block, and
    after the last member two zero blocks and nothing else."""
    out = bytearray()
    for path, data in items:
        out += header(path, len(data), mtime)
        out += data
        out += b"\0" * padding(len(data))
    out += b"\0" * (2 * BLOCK)
    return bytes(out)


def _number(field):
    """A numeric field as any writer spells it (leading spaces, octal
    digits, NUL or space after); None when it is not one."""
    s = field.split(b"\0", 1)[0].strip(b" ")
    try:
        return int(s, 8) if s else 0
    except ValueError:
        return None


def _string(field):
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


class Member:
    """One member as a tar holds it: its full name (prefix/name), where its
    header block and its data start, its size, time and typeflag."""

    def __init__(self, name, header_offset, size, mtime, typeflag):
        self.name = name
        self.header_offset = header_offset
        self.data_offset = header_offset + BLOCK
        self.size = size
        self.mtime = mtime
        self.typeflag = typeflag

    def end(self):
        """The offset of the block after this member's data and padding."""
        return self.data_offset + self.size + padding(self.size)


def members(data):
    """(members, end): every header up to the first zero block (the end of
    the archive, at offset end), leniently; None for end when the data ends
    before a zero block. ValueError for a block that is no ustar header."""
    out = []
    off = 0
    while off + BLOCK <= len(data):
        block = data[off:off + BLOCK]
        if block == bytes(BLOCK):
            return out, off
        if get_field(block, "magic")[:5] != b"ustar":
            raise ValueError("no ustar header at offset %d" % off)
        size = _number(get_field(block, "size"))
        if size is None:
            raise ValueError("a size that is not octal digits at offset %d" % off)
        prefix = _string(get_field(block, "prefix"))
        name = _string(get_field(block, "name"))
        m = Member(prefix + "/" + name if prefix else name, off, size,
                   _number(get_field(block, "mtime")), get_field(block, "typeflag"))
        out.append(m)
        off = m.end()
    return out, None


def split_top(name):
    """(top folder, name below it) of a member's full name."""
    top, sep, rel = name.partition("/")
    if not sep or not rel:
        raise ValueError("%s is not below a top folder" % name)
    return top, rel


class Bundle:
    """A bundle as lists of its members: top folder, time, and (name below
    the top folder, data) in the tar's order."""

    def __init__(self, top, mtime, items):
        self.top = top
        self.mtime = mtime
        self.items = items

    @classmethod
    def parse(cls, data):
        ms, end = members(data)
        if not ms or end is None:
            raise ValueError("not a whole bundle (no members, or no end blocks)")
        top = split_top(ms[0].name)[0]
        items = []
        for m in ms:
            t, rel = split_top(m.name)
            if t != top:
                raise ValueError("%s is not below %s/" % (m.name, top))
            items.append((rel, bytes(data[m.data_offset:m.data_offset + m.size])))
        return cls(top, ms[0].mtime, items)

    @classmethod
    def load(cls, path):
        with open(path, "rb") as f:
            return cls.parse(f.read())

    def names(self):
        return [rel for rel, _ in self.items]

    def get(self, rel):
        for r, data in self.items:
            if r == rel:
                return data
        raise KeyError(rel)

    def tar(self, top=None, mtime=None):
        """The recorder's tar of these members."""
        top = self.top if top is None else top
        return pack([(top + "/" + rel, data) for rel, data in self.items],
                    self.mtime if mtime is None else mtime)


def read_member(data, name):
    """A member's data by its full name or its name below the top folder."""
    ms, _ = members(data)
    for m in ms:
        if m.name == name or m.name.partition("/")[2] == name:
            return bytes(data[m.data_offset:m.data_offset + m.size])
    raise ValueError("no member %s" % name)


def folder_files(root):
    """Every regular file below root, as names relative to it ('/'
    separated). Anything else (a symbolic link, a device) is an error: a
    bundle holds regular files only."""
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files) + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            p = os.path.join(d, f)
            if os.path.islink(p) or not os.path.isfile(p):
                raise ValueError("%s is not a regular file" % p)
            out.append(os.path.relpath(p, root).replace(os.sep, "/"))
    return out


def pack_folder(folder, like, after=(), top=None, mtime=None):
    """The recorder's tar of the files below folder (a bundle's top folder,
    or a folder that holds the original's), in the original's member order
    for those it had; a new file goes right after the member after names it
    with (NEW, ANCHOR; ANCHOR "" is first), or else at the end, by name.
    The original's top folder and time unless top or mtime are given."""
    orig = Bundle.load(like)
    root = os.path.join(folder, orig.top)
    if not os.path.isdir(root):
        root = folder
    present = folder_files(root)
    order = [rel for rel in orig.names() if rel in present]
    placed = dict(after)
    for new in placed:
        if new not in present:
            raise ValueError("--after names %s, which is not in %s" % (new, root))
        if new in order:
            raise ValueError("--after names %s, which the original has" % new)
    rest = sorted(rel for rel in present if rel not in order and rel not in placed)
    pending = dict(placed)
    # An anchor may itself be a new file: place until nothing moves.
    while pending:
        moved = False
        for new, anchor in list(pending.items()):
            if anchor == "":
                order.insert(0, new)
            elif anchor in order:
                order.insert(order.index(anchor) + 1, new)
            else:
                continue
            del pending[new]
            moved = True
        if not moved:
            new, anchor = next(iter(pending.items()))
            raise ValueError("--after: no member %s to put %s after" % (anchor, new))
    order += rest
    items = []
    for rel in order:
        with open(os.path.join(root, rel), "rb") as f:
            items.append((rel, f.read()))
    return Bundle(orig.top, orig.mtime, items).tar(top=top, mtime=mtime)


def cmd_list(args):
    with open(args.bundle, "rb") as f:
        data = f.read()
    ms, end = members(data)
    print("header\tdata\tsize\tmtime\ttype\tname")
    for m in ms:
        print("%d\t%d\t%d\t%s\t%s\t%s" % (m.header_offset, m.data_offset, m.size, m.mtime,
                                           m.typeflag.decode("latin-1").replace("\0", "\\0"), m.name))
    print("end\t%s\t%d bytes in the file" % ("none" if end is None else end, len(data)))
    return 0


def cmd_cat(args):
    with open(args.bundle, "rb") as f:
        data = f.read()
    sys.stdout.buffer.write(read_member(data, args.member))
    return 0


def cmd_pack(args):
    after = []
    for a in args.after:
        new, eq, anchor = a.partition("=")
        if not eq:
            raise ValueError("--after wants NEW=ANCHOR, not %s" % a)
        after.append((new, anchor))
    data = pack_folder(args.dir, args.like, after, args.top, args.mtime)
    with open(args.out, "wb") as f:
        f.write(data)
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("list", help="each member: header and data offsets, size, time, type, name")
    s.add_argument("bundle")
    s.set_defaults(run=cmd_list)
    s = sub.add_parser("cat", help="one member's data (full name, or name below the top folder)")
    s.add_argument("bundle")
    s.add_argument("member")
    s.set_defaults(run=cmd_cat)
    s = sub.add_parser("pack", help="re-make a bundle from an extracted folder, the recorder's way")
    s.add_argument("dir", help="the extracted top folder, or a folder holding it")
    s.add_argument("out")
    s.add_argument("--like", required=True, metavar="ORIGINAL",
                   help="the bundle whose member order, top folder and time to keep")
    s.add_argument("--after", action="append", default=[], metavar="NEW=ANCHOR",
                   help="put the new file NEW right after member ANCHOR (empty: first)")
    s.add_argument("--top", help="another top folder name")
    s.add_argument("--mtime", type=int, help="another time for every member (seconds since 1970)")
    s.set_defaults(run=cmd_pack)
    args = p.parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:
        # a reader that stops early (| head) is not an error of ours
        sys.stderr.close()
        return 0
    except (OSError, ValueError, KeyError) as e:
        print("bundle_tool.py %s: %s" % (args.cmd, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
