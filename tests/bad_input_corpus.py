"""The bad-input corpus: one small release per file family, every line written with the
outcome it must get, None for a line that must be staged, else its exact quarantine reason.

A line is text (written in the release's encoding) or bytes (written as they are, e.g. invalid
UTF-8). Line numbers follow from the order (a CSV file's header is line 1)."""

from __future__ import annotations

from pathlib import Path

from movielake.data.releases import get_release

STAGED = None
FUTURE = " is in the future (epoch seconds expected)"
BEFORE_1995 = " is before 1995, the release's first year"
FLAGS = "|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0"  # Action

# The CSV corpus is an ml-25m release: ml-latest-small's files plus the tag genome (required
# there), so that one build covers every CSV file. Valid movies: 1, 2, 3, 4, 8.
CSV_RELEASE = "ml-25m"
CSV = {
    "movies": [
        ("1,Toy Story (1995),Adventure|Animation", STAGED),
        ('2,"American President, The (1995)",Comedy|Drama', STAGED),
        ('3,"Bob ""The Man"" Smith (2001)",Comedy', STAGED),
        ("4,Future Film (3000),Sci-Fi", STAGED),  # not a plausible year: title kept whole, no year
        ('5,"Line', "a quoted field spans a line break (record on lines 6-7)"),
        ('Break (1999)",Drama', "continues the quoted field opened on line 6"),
        ("0,Zero Id (1999),Drama", "movieId '0' is not a positive integer"),
        (b"6,Caf\xe9 Society (1999),Drama", "invalid UTF-8 bytes"),  # latin-1 byte in a UTF-8 file
        ('7,"Three', "a quoted field spans a line break (record on lines 10-12)"),
        ("line", "continues the quoted field opened on line 10"),
        ('title (2000)",Drama', "continues the quoted field opened on line 10"),
        ("8,Caf\u00e9 Society (1999),Drama", STAGED),
        ('9,"Unclosed (1999),Drama', "a quoted field is never closed (unbalanced double quote)"),
    ],
    "ratings": [
        ("1,1,4.0,964982703", STAGED),
        (
            "1,2,3.5,1445714994000",
            "timestamp '1445714994000' is not epoch seconds",
        ),  # ms, 13 digits
        ("1,2,4.5,964982800", STAGED),  # the valid rating of (1, 2): kept ...
        ("1,2,5.0,964982703000", "timestamp 964982703000" + FUTURE),  # ... not displaced by a
        # millisecond timestamp of 12 digits (2000-07-30 in ms), which parses as seconds
        ("0,1,4.0,964982703", "userId '0' is not a positive integer"),
        ("2,0,4.0,964982703", "movieId '0' is not a positive integer"),
        ("2,1,4.0,700000000", "timestamp 700000000" + BEFORE_1995),
        (b"2,1,4.0,96498\xff2703", "invalid UTF-8 bytes"),
        ("2,5,4.0,964982703", "movieId 5 is not in the movies file"),  # its record was broken
        ('"3","1","4.5","964982703"', STAGED),  # quoted fields
        ('3,"2",3.0,"964982703"', STAGED),
        ('3,3,4.0,"9649827', "a quoted field spans a line break (record on lines 13-14)"),
        ('03"', "continues the quoted field opened on line 13"),
        ("3,4,2.0,964982705", STAGED),
    ],
    "tags": [
        ('1,1,"pixar, funny",1445714994', STAGED),
        ('1,2,"multi', "a quoted field spans a line break (record on lines 3-4)"),
        ('line tag",1445714995', "continues the quoted field opened on line 3"),
        ("0,1,zero user,1445714996", "userId '0' is not a positive integer"),
        ("1,3,from the future,99999999999", "timestamp 99999999999" + FUTURE),
        ('1,3,"quoted ""word""",1445714997', STAGED),
        (b"1,4,caf\xc3(,1445714998", "invalid UTF-8 bytes"),
    ],
    "links": [
        ("1,0114709,862", STAGED),
        ("2,0112346,", STAGED),
        ("3,0,0", "tmdbId '0' is not a positive integer"),
        ("0,0113228,15602", "movieId '0' is not a positive integer"),
        ('4,"0056172","11"', STAGED),
    ],
    "genome_tags": [  # valid tags: 1, 2, 3
        ("1,dark comedy", STAGED),
        ("2,based on a book", STAGED),
        ('3,"twist ending, sort of"', STAGED),
        ("4,", "empty tag"),
        ("0,zero id", "tagId '0' is not a positive integer"),
        ("2,second name", "duplicate tagId 2 (its first line is kept)"),
        ("5,one,too many", "expected 2 fields, found 3"),
    ],
    "genome_scores": [
        ("1,1,0.025000000000000022", STAGED),  # as GroupLens prints relevance
        ("1,2,1", STAGED),
        ("2,1,0.0", STAGED),
        ("2,2,1.5", "relevance 1.5 outside 0-1"),
        ("2,3,-0.1", "relevance -0.1 outside 0-1"),
        ("2,3,abc", "relevance 'abc' is not a number"),
        ("3,99,0.5", "tagId 99 is not in the genome tags file"),
        ("3,4,0.5", "tagId 4 is not in the genome tags file"),  # its line has an empty tag
        ("42,1,0.5", "movieId 42 is not in the movies file"),
        ("1,1,0.9", "duplicate relevance of tagId 1 to movieId 1 (its first line is kept)"),
        ("2,3,2.5e-01", STAGED),  # the bad lines of (2, 3) above do not make this a duplicate
        ("x8,1,0.5", "movieId 'x8' is not a positive integer"),
        ("8,2,0.5,1", "expected 3 fields, found 4"),
    ],
}

DAT = {  # ml-10m layout: '::' separated, UTF-8, no header
    "movies": [
        ("1::Toy Story (1995)::Adventure|Animation", STAGED),
        ("2::Jumanji (1995)::Adventure", STAGED),
        ("0::Zero (1995)::Drama", "movieId '0' is not a positive integer"),
        (b"3::Caf\xe9 (1995)::Drama", "invalid UTF-8 bytes"),
        ("4::Far Future (2500)::Sci-Fi", STAGED),
        ('5::"Quoted" Title (1990)::Drama', STAGED),  # quotes mean nothing in this family
    ],
    "ratings": [
        ("1::1::5::978300760", STAGED),
        ("1::2::3.5::978300760", STAGED),
        ("1::2::4::899999999999", "timestamp 899999999999" + FUTURE),
        ("1::3::4::978300760", "movieId 3 is not in the movies file"),
        ("0::1::4::978300760", "userId '0' is not a positive integer"),
        ("2::1::4::788000000", "timestamp 788000000" + BEFORE_1995),
        ("2::1::4.5::978300761", STAGED),
    ],
    "tags": [
        ("1::1::pixar::1188263867", STAGED),
        ("1::1::far future::99999999999", "timestamp 99999999999" + FUTURE),
        ("0::1::x::1188263867", "userId '0' is not a positive integer"),
    ],
}

ML100K = {  # ml-100k layout: latin-1 (every byte is a character), '|' and tab separated
    "movies": [
        (f"1|Toy Story (1995)|01-Jan-1995||http://x{FLAGS}", STAGED),
        (f"2|GoldenEye (1995)|01-Jan-1995||http://x{FLAGS}", STAGED),
        (f"0|Zero (1995)|01-Jan-1995||http://x{FLAGS}", "movieId '0' is not a positive integer"),
        (f"3|A\u00f1o Nuevo (0999)|01-Jan-1995||http://x{FLAGS}", STAGED),
    ],
    "ratings": [
        ("196\t1\t3\t881250949", STAGED),
        ("196\t2\t3\t899999999999", "timestamp 899999999999" + FUTURE),
        ("196\t2\t4\t881250950", STAGED),
        ("0\t1\t3\t881250949", "userId '0' is not a positive integer"),
        ("22\t1\t3\t100", "timestamp 100" + BEFORE_1995),
    ],
}

FAMILIES = {CSV_RELEASE: CSV, "ml-10m": DAT, "ml-100k": ML100K}


def write(release: str, folder: Path) -> Path:
    """Write the corpus of `release` into `folder`, each entity in the file the release names
    (with its CSV header, and CRLF line ends for CSV as in GroupLens' copy)."""
    spec = get_release(release)
    folder.mkdir(parents=True, exist_ok=True)
    for entity, lines in FAMILIES[release].items():
        layout = spec.layouts[entity]
        newline = b"\r\n" if layout.separator == "csv" else b"\n"
        encoded = [
            text if isinstance(text, bytes) else text.encode(spec.encoding) for text, _ in lines
        ]
        if layout.header:
            encoded.insert(0, layout.header.encode())
        (folder / layout.file).write_bytes(newline.join(encoded) + newline)
    return folder


def expected(release: str) -> dict[str, dict[int, str | None]]:
    """entity -> {line number: expected reason, None for a line that must be staged}."""
    spec = get_release(release)
    return {
        entity: {
            (2 if spec.layouts[entity].header else 1) + i: reason
            for i, (_, reason) in enumerate(lines)
        }
        for entity, lines in FAMILIES[release].items()
    }
