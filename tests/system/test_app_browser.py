"""`movielake app` in a real browser: Debian's Chromium driven by Selenium through Debian's
chromedriver (`make browser` installs both), against the app serving the shared synthetic build
on a free loopback port. Each test saves a screenshot of its page in its own output folder."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import SYNTHETIC_SCHEMA
from movielake.serving.advisor import label as movie_label
from movielake.serving.advisor import ratings_csv
from movielake.serving.lake import Lake
from movielake.serving.personal import recommend_from_lake

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT = 60  # seconds for the app to react on a loaded machine
# Three movies to rate through the page: a search typed, the option clicked, the stars given.
# (The synthetic release writes every 7th title, from 1, as "Synthetic Movie N, The"; no other title
# contains these numbers, so each search finds its movie among the first ten.)
TO_RATE = [("the synthetic movie 295", 295, 5.0), ("movie 283", 283, 1.5), ("MOVIE 199", 199, 4.0)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class App:
    """`movielake app` in a subprocess (its own process group, stopped by PID)."""

    def __init__(self, prefix: str, home: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "movielake.cli",
                "app",
                "--port",
                str(self.port),
                "--schema-prefix",
                prefix,
            ],
            env={**os.environ, "MOVIELAKE_HOME": str(home)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + WAIT
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as answer:
                    if answer.read().strip() == b"ok":
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the app did not start; see {log}")
            time.sleep(0.5)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def app(synthetic_build, lake_home, tmp_path_factory):
    started = App(SYNTHETIC_SCHEMA, lake_home, tmp_path_factory.mktemp("app") / "app.log")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def browser():
    if not (shutil.which("chromium") and Path(CHROMEDRIVER).is_file()):
        pytest.fail(
            "Chromium and chromedriver are missing: `make browser` installs Debian's "
            "chromium and chromium-driver"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1500,1400",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(driver, condition, what: str):
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        # elements go stale while Streamlit redraws the page: try again
        return WebDriverWait(
            driver, WAIT, poll_frequency=0.25, ignored_exceptions=(StaleElementReferenceException,)
        ).until(condition)
    except TimeoutException:
        raise AssertionError(
            f"timed out waiting for {what}; page text:\n"
            + driver.find_element("tag name", "body").text[:3000]
        ) from None


def idle(driver) -> bool:
    """No script run in progress (Streamlit shows its status widget while it reruns)."""
    return not driver.find_elements("css selector", '[data-testid="stStatusWidget"]')


def text_shown(driver, text: str) -> bool:
    return idle(driver) and text in driver.find_element("tag name", "body").text


def open_page(driver, url: str, text: str) -> None:
    driver.get(url)
    wait_for(driver, lambda d: text_shown(d, text), f"'{text}' at {url}")


def search(driver, query: str) -> None:
    from selenium.webdriver.common.keys import Keys

    box = wait_for(
        driver,
        lambda d: d.find_element("css selector", 'input[aria-label="Find a movie"]'),
        "the search box",
    )
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(query, Keys.ENTER)


def click_option(driver, group: str, option: str) -> None:
    path = (
        f'//div[@role="radiogroup"][@aria-label="{group}"]'
        f'//label[.//p[starts-with(normalize-space(), "{option}")]]'
    )
    wait_for(driver, lambda d: d.find_elements("xpath", path), f"option '{option}' of {group}")
    driver.find_element("xpath", path).click()


def recommended_ids(driver) -> list[int]:
    """The movie_id column of the recommendations table (its last column)."""
    tables = driver.find_elements("css selector", '[data-testid="stTable"] table')
    if not tables:
        return []
    header = [th.text for th in tables[-1].find_elements("css selector", "thead th")]
    if "movie_id" not in header:
        return []
    column = header.index("movie_id")
    ids = []
    for row in tables[-1].find_elements("css selector", "tbody tr"):
        cells = row.find_elements("css selector", "th, td")
        ids.append(int(cells[column].text))
    return ids


def test_empty_state_says_to_rate_movies(app, browser, tmp_path):
    open_page(browser, f"{app.url}/", "Recommended for you")
    wait_for(browser, lambda d: text_shown(d, "No ratings yet"), "the empty-state message")
    assert "Your ratings (0)" in browser.find_element("tag name", "body").text
    browser.save_screenshot(str(tmp_path / "rate-empty.png"))


def test_unknown_title_says_nothing_matches(app, browser, tmp_path):
    open_page(browser, f"{app.url}/", "Find a movie")
    search(browser, "zzqx no such film")
    wait_for(
        browser,
        lambda d: text_shown(d, "No movie title contains “zzqx no such film”"),
        "the unknown-title message",
    )
    browser.save_screenshot(str(tmp_path / "rate-unknown-title.png"))


def test_rating_three_movies_shows_the_python_fold_in(app, browser, tmp_path, lake_home):
    lake = Lake(SYNTHETIC_SCHEMA, lake_home)
    movies = lake.read("stg_movielens__movies").set_index("movie_id")
    open_page(browser, f"{app.url}/", "Find a movie")
    for count, (query, movie, stars) in enumerate(TO_RATE, start=1):
        search(browser, query)
        label = movie_label(movies.loc[movie, "title"], movies.loc[movie, "release_year"])
        click_option(browser, "Matching movies", label)
        click_option(browser, "Your stars (0.5–5)", f"{stars:g} ★")
        wait_for(browser, lambda d: idle(d), "the page after choosing")
        browser.find_element("xpath", '//button[.//p[text()="Rate"]]').click()
        wait_for(
            browser,
            lambda d, n=count: text_shown(d, f"Your ratings ({n})"),
            f"{count} ratings listed",
        )
        assert label in browser.find_element("tag name", "body").text

    # the same ratings through the CLI's Python fold-in
    mine = tmp_path / "mine.csv"
    mine.write_text(ratings_csv({movie: stars for _, movie, stars in TO_RATE}))
    expected = [m for _, m, *_ in recommend_from_lake(mine, 10, lake)]
    assert len(expected) == 10 and not {m for _, m, _ in TO_RATE} & set(expected)
    shown = wait_for(
        browser,
        lambda d: (ids := recommended_ids(d)) == expected and ids,
        f"the recommendations {expected}",
    )
    assert shown == expected
    body = browser.find_element("tag name", "body").text
    for movie in expected:  # title and year of each, as the catalog has them
        assert movie_label(movies.loc[movie, "title"], movies.loc[movie, "release_year"]) in body
    browser.save_screenshot(str(tmp_path / "rate-recommendations.png"))

    # removing a rating updates the list at once
    browser.find_element("xpath", '(//button[.//p[text()="Remove"]])[1]').click()
    wait_for(browser, lambda d: text_shown(d, "Your ratings (2)"), "2 ratings listed")
    mine.write_text(ratings_csv({movie: stars for _, movie, stars in TO_RATE[1:]}))
    expected = [m for _, m, *_ in recommend_from_lake(mine, 10, lake)]
    wait_for(browser, lambda d: recommended_ids(d) == expected, "the list without the first")


def test_explore_page_shows_the_reports_figures(app, browser, tmp_path):
    open_page(browser, f"{app.url}/explore", "Taste twins")
    body = browser.find_element("tag name", "body").text
    for title in (
        "Rating distribution",
        "Monthly activity",
        "Model metrics",
        "ALS tuning curves",
        "Top-rated movies",
    ):
        assert title in body

    def drawn(driver) -> int:
        images = driver.find_elements("css selector", '[data-testid="stImage"] img')
        widths = [driver.execute_script("return arguments[0].naturalWidth", i) for i in images]
        return len(widths) if all(w > 300 for w in widths) else 0

    # seven EDA figures, model metrics, ALS tuning, twins' correlations: all loaded
    assert wait_for(browser, lambda d: drawn(d) >= 10, "ten drawn figures")
    browser.save_screenshot(str(tmp_path / "explore.png"))


def test_lineage_page_names_the_served_delta_version(app, browser, tmp_path, lake_home):
    served = Lake(SYNTHETIC_SCHEMA, lake_home)
    source = served.served_source()
    version = served.version(source).version
    open_page(browser, f"{app.url}/lineage", "Lineage and freshness")
    wait_for(
        browser,
        lambda d: text_shown(d, f"{SYNTHETIC_SCHEMA}_recommenders.{source} version {version}"),
        "the served factors' version",
    )
    browser.save_screenshot(str(tmp_path / "lineage.png"))


def test_an_unbuilt_lakehouse_gives_a_message_not_a_traceback(browser, lake_home, tmp_path):
    empty = App("nothing_here", lake_home, tmp_path / "app.log")
    try:
        for page, shot in (
            ("", "rate-not-built.png"),
            ("explore", "explore-not-built.png"),
            ("lineage", "lineage-not-built.png"),
        ):
            open_page(browser, f"{empty.url}/{page}", "The lakehouse is not built yet")
            body = browser.find_element("tag name", "body").text
            assert "Traceback" not in body and "make run" in body
            browser.save_screenshot(str(tmp_path / shot))
    finally:
        empty.stop()
