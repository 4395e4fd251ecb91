"""Small MovieLens releases, one per file family, with bad lines planted at known places.

Each writer returns the folder it wrote. The expected outcome of each planted line is spelled
out next to it, and the tests check exactly those outcomes.
"""

from __future__ import annotations

from pathlib import Path

CSV_MOVIES = [
    "movieId,title,genres",
    "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy",
    '2,"American President, The (1995)",Comedy|Drama|Romance',
    '3,"Bob ""The Man"" Smith (2001)",(no genres listed)',
    "4,Babylon 5,Sci-Fi",
    "5,Hyena Road (2015) ,Drama",
    "x7,Bad Id (2000),Drama",  # line 7: movieId 'x7' is not a positive integer
    "6,Only two fields",  # line 8: expected 3 fields, found 2
    "1,Toy Story again (1995),Comedy",  # line 9: duplicate movieId 1
]
CSV_RATINGS = [
    "userId,movieId,rating,timestamp",
    "1,1,4.0,964982703",  # kept
    "1,2,3.5,964981247",  # line 3: duplicate, the later line 4 wins
    "1,2,5.0,964990000",  # kept
    "2,1,7.0,964982224",  # line 5: outside 0.5-5.0
    "2,2,3.7,964982224",  # line 6: not a multiple of 0.5
    "2,3,abc,964982224",  # line 7: not a number
    "u3,1,4.0,964982224",  # line 8: userId not a positive integer
    "3,99,4.0,964982224",  # line 9: movie 99 not in movies
    "3,1,4.0,yesterday",  # line 10: timestamp
    "3,1,4.0",  # line 11: 3 fields
    "",  # line 12: empty line
    "3,4,0.5,964982224",  # kept
    "3,5,5,1000000000",  # kept
]
CSV_TAGS = [
    "userId,movieId,tag,timestamp",
    '1,1,"pixar, funny",1445714994',  # kept, with a comma inside quotes
    "1,2,politics,1445714995",  # kept
    "2,42,unknown movie,1445714996",  # line 4: movie 42 not in movies
    "2,1,,1445714997",  # line 5: empty tag
]
CSV_LINKS = [
    "movieId,imdbId,tmdbId",
    "1,0114709,862",
    "2,0112346,",  # kept, no TMDB id
    "3,tt123,5",  # line 4: imdbId not a number
    "4,0056172,11",
    "5,1234567,99",
]
DAT_MOVIES = [  # ml-1m: '::' separated, latin-1
    "1::Café Society (1995)::Comedy|Children's",
    "2::Heat (1995)::Action|Crime|Thriller",
    "3::Bad::Extra::Field",  # line 3: 4 fields
]
DAT_RATINGS = [
    "1::1::5::978300760",
    "1::2::3.5::978300760",  # line 2: ml-1m has whole stars only
    "2::2::0::978300761",  # line 3: outside 1.0-5.0
    "2::2::4::978300761",
    "2::1::2::978300762",
]
ML100K_FLAGS_TOY = "0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0"  # Animation, Children, Comedy
ML100K_FLAGS_GOLDENEYE = "0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0"  # Action, Adventure, Thriller
ML100K_ITEMS = [  # ml-100k: '|' separated, latin-1, 19 genre flags
    f"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|{ML100K_FLAGS_TOY}",
    f"2|GoldenEye (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?GoldenEye%20(1995)|{ML100K_FLAGS_GOLDENEYE}",
    "3|Belle époque (1992)|01-Jan-1992||http://x|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0",
    "4|Flagged (1996)|01-Jan-1996||http://x|2|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0",  # line 4
]
ML100K_DATA = [
    "196\t1\t3\t881250949",
    "186\t2\t3\t891717742",
    "22\t3\t1\t878887116",
    "22\t2\t6\t878887116",  # line 4: outside 1.0-5.0
    "22\t1\t4",  # line 5: 3 fields
]


def _write(path: Path, lines: list[str], encoding: str = "utf-8", newline: str = "\n") -> None:
    path.write_bytes(newline.join(lines).encode(encoding) + newline.encode())


def write_csv_release(folder: Path) -> Path:
    """ml-latest-small layout, CRLF line ends like the GroupLens copy."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in [
        ("movies", CSV_MOVIES),
        ("ratings", CSV_RATINGS),
        ("tags", CSV_TAGS),
        ("links", CSV_LINKS),
    ]:
        _write(folder / f"{name}.csv", lines, newline="\r\n")
    return folder


def write_dat_release(folder: Path) -> Path:
    """ml-1m layout."""
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "movies.dat", DAT_MOVIES, encoding="latin-1")
    _write(folder / "ratings.dat", DAT_RATINGS, encoding="latin-1")
    _write(folder / "users.dat", ["1::F::1::10::48067"], encoding="latin-1")
    return folder


def write_100k_release(folder: Path) -> Path:
    """ml-100k layout."""
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "u.item", ML100K_ITEMS, encoding="latin-1")
    _write(folder / "u.data", ML100K_DATA, encoding="latin-1")
    return folder
