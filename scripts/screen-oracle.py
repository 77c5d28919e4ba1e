#!/usr/bin/env python3
"""The independent oracle of scripts/acceptance-controls.sh, check 1.

It shares no code with xfer: it parses CSV with Python's csv module and
normalises keys as the issue and docs/screening.md describe them, from the
Unicode database, so that what xfer keeps can be checked against what the
rules say it should keep.

    screen-oracle.py trim IN N OUT          # the header and the first N records of IN
    screen-oracle.py count FILE             # records of FILE (header excluded)
    screen-oracle.py makelist IN N SEED OUT # a suppression list of N entries (first_name,last_name,postcode)
    screen-oracle.py check IN LIST PULLED   # compare PULLED with the rows of IN that LIST does not suppress

Normalisation: NFKD, combining marks dropped, the letters that do not
decompose spelt as people type them (ø o, æ ae, œ oe, ł l, đ ð d, þ th,
ı i, ħ h), casefold (ß ss), only letters and digits kept. The key is the
first letter or digit of first_name, then last_name, then postcode, each
normalised. A list entry whose parts are all empty is ignored; so is a row's
key, which is never suppressed then.

Spelling variants (issue 14): a row is suppressed when its key and an
entry's key are equal once, in last_name and postcode, the pairs aa ae oe ue
are read as their first letter until none is left (so Müller, Mueller
and Muller, Søren, Soeren and Soren, Åse, Aase and Ase are one). A
suppressed row counts as suppressed by a variant when no entry has its key
as normalised before that step.

check prints one JSON object on stdout (counts, and whether PULLED holds
exactly the expected records in order). When xfer and the oracle disagree it
prints up to 10 disagreeing keys, with the raw fields they came from, on
stderr: generated data, for the developer's log only.
"""
import csv
import json
import random
import re
import sys
import unicodedata

csv.field_size_limit(1 << 26)


LETTERS = str.maketrans({"ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ł": "l", "Ł": "l",
                         "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "ı": "i", "ħ": "h", "Ħ": "h"})
PAIRS = re.compile("aa|ae|oe|ue")


def norm(s):
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c)).translate(LETTERS)
    return "".join(c for c in s.casefold() if c.isalnum())


def spelling(s):
    while True:
        t = PAIRS.sub(lambda m: m.group()[0], s)
        if t == s:
            return s
        s = t


def key(first, last, postcode):
    return (norm(first)[:1], norm(last), norm(postcode))


def spelling_key(k):
    return (k[0], spelling(k[1]), spelling(k[2]))


def reader(path):
    # newline="" so that line breaks inside quoted fields stay in the field
    return csv.reader(open(path, newline="", encoding="utf-8"))


def columns(header, names):
    low = [h.strip().lstrip("\ufeff").lower() for h in header]
    return [low.index(n) for n in names]


def trim(src, n, dst):
    # gencsv ends every record with CRLF and puts only LF inside quoted
    # fields, so records split on CRLF; csv.reader confirms the count.
    n = int(n)
    with open(src, "rb") as f, open(dst, "wb") as out:
        data = f.read()
        end = -1
        for _ in range(n + 1):
            end = data.find(b"\r\n", end + 1)
            if end < 0:
                sys.exit(f"{src}: fewer than {n} records")
        out.write(data[: end + 2])
    got = count(dst)
    if got != n:
        sys.exit(f"{dst}: {got} records, not {n}")
    return got


def count(path):
    r = reader(path)
    next(r)
    return sum(1 for _ in r)


# Variants of an entry that keep its normalised key: what lists from other
# systems look like. Each takes and returns (first, last, postcode).
def strip_accents(s):
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ø": "oe", "å": "aa", "æ": "ae",
                       "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "Ø": "Oe", "Å": "Aa", "Æ": "Ae"})


def ascii_spelling(s):
    return s.translate(ASCII)


VARIANTS = {
    "exact": lambda f, l, p: (f, l, p),
    "surname upper-cased": lambda f, l, p: (f, l.upper(), p),
    "all lower-cased": lambda f, l, p: (f.lower(), l.lower(), p.lower()),
    "postcode without its space": lambda f, l, p: (f, l, p.replace(" ", "")),
    "postcode with extra spaces": lambda f, l, p: (f, l, "  " + p.replace(" ", "   ") + " "),
    "initial with a full stop": lambda f, l, p: (f[0] + ".", l, p),
    "surname punctuation and spaces": lambda f, l, p: (
        f, (l.replace("'", "").replace("-", " ").replace(" ", "") if any(c in l for c in "'- ") else l + "."), p),
    "accents stripped": lambda f, l, p: (strip_accents(f), strip_accents(l), p),
    "umlauts spelt in ASCII": lambda f, l, p: (ascii_spelling(f), ascii_spelling(l), p),
    "upper-cased, initial, no space": lambda f, l, p: (f[0].upper() + ".", l.upper(), p.replace(" ", "")),
}


def makelist(src, n, seed, dst):
    n, rnd = int(n), random.Random(int(seed))
    r = reader(src)
    fi, li, pi = columns(next(r), ["first_name", "last_name", "postcode"])
    rows = [(rec[fi], rec[li], rec[pi]) for rec in r]
    unmatched = n // 10  # entries that match no row
    picked = rnd.sample(range(len(rows)), n - unmatched)
    names = sorted({(f, l) for f, l, _ in rows[:5000]})
    entries, used = [], {}
    for i in picked:
        name = rnd.choice(list(VARIANTS))
        entries.append(VARIANTS[name](*rows[i]))
        used[name] = used.get(name, 0) + 1
    for _ in range(unmatched):
        # ZE (Shetland) is not one of gencsv's postcode areas
        f, l = rnd.choice(names)
        entries.append((f, l, f"ZE{rnd.randint(1, 3)} {rnd.randint(0, 9)}{rnd.choice('ABDEFGHJ')}{rnd.choice('LNPQRSTU')}"))
    used["not in the input (postcode area ZE)"] = unmatched
    rnd.shuffle(entries)
    with open(dst, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["first_name", "last_name", "postcode"])
        w.writerows(entries)
    for name, k in used.items():
        print(f"{k:7d}  {name}")


def check(src, listpath, pulled):
    lr = reader(listpath)
    fi, li, pi = columns(next(lr), ["first_name", "last_name", "postcode"])
    keys, spelt = set(), set()
    for rec in lr:
        k = key(rec[fi], rec[li], rec[pi])
        if any(k):
            keys.add(k)
            spelt.add(spelling_key(k))
    ir, pr = reader(src), reader(pulled)
    header, pheader = next(ir), next(pr, None)
    fi, li, pi, ci = columns(header, ["first_name", "last_name", "postcode", "customer_id"])
    rows_in = expected = kept = altered = by_variant = 0
    matched = set()
    only_xfer_kept, only_oracle_kept = [], []  # disagreements, with keys
    nxt = next(pr, None)
    for rec in ir:
        rows_in += 1
        k = key(rec[fi], rec[li], rec[pi])
        suppress = any(k) and spelling_key(k) in spelt
        if suppress:
            matched.add(spelling_key(k))
            if k not in keys:
                by_variant += 1
        else:
            expected += 1
        # PULLED must be a subsequence of IN: either the next pulled record
        # is this one (by its customer_id, which gencsv makes unique, so that
        # an altered record does not hide the rest), or xfer left it out.
        xfer_kept = nxt is not None and len(nxt) > ci and nxt[ci] == rec[ci]
        if xfer_kept:
            kept += 1
            if nxt != rec:
                altered += 1
                if altered <= 3:
                    print(f"  record {rows_in} ({rec[ci]}) altered in PULLED", file=sys.stderr)
            nxt = next(pr, None)
        if xfer_kept and suppress:
            only_xfer_kept.append((rows_in, k, rec[fi], rec[li], rec[pi]))
        elif not xfer_kept and not suppress:
            only_oracle_kept.append((rows_in, k, rec[fi], rec[li], rec[pi]))
    left = 0
    while nxt is not None:
        left += 1
        nxt = next(pr, None)
    for what, lst in (("suppressed by the oracle, kept by xfer", only_xfer_kept),
                      ("kept by the oracle, left out by xfer", only_oracle_kept)):
        for row, k, f, l, p in lst[:10]:
            print(f"  {what}: record {row}, oracle key {k!r} from first_name={f!r} last_name={l!r} postcode={p!r}",
                  file=sys.stderr)
    print(json.dumps({
        "rows_in": rows_in,
        "list_keys": len(keys),
        "list_spellings": len(spelt),
        "list_spellings_matching_no_row": len(spelt - matched),
        "expected_kept": expected,
        "expected_suppressed": rows_in - expected,
        "expected_suppressed_by_variant": by_variant,
        "pulled_records": kept + left,
        "pulled_header_equal": pheader == header,
        "pulled_not_in_input": left,
        "pulled_altered": altered,
        "suppressed_by_oracle_kept_by_xfer": len(only_xfer_kept),
        "kept_by_oracle_missing_from_pulled": len(only_oracle_kept),
        "identical": pheader == header and left == 0 and altered == 0 and not only_xfer_kept and not only_oracle_kept,
    }))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "trim":
        print(trim(*args))
    elif cmd == "count":
        print(count(*args))
    elif cmd == "makelist":
        makelist(*args)
    elif cmd == "check":
        check(*args)
    else:
        sys.exit(__doc__)
