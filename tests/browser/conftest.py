"""Browser tests: Playwright's sync API driving Debian's Chromium against `live_server`.

Run them alone with `pytest -m browser`. Playwright's own browser download is not used: the
tests need `/usr/bin/chromium` (`apt-get install chromium`) and are skipped without it.
Screenshots go to `test-artifacts/` (git-ignored) for a person to look at.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by the test
# itself (fixtures, assertions) are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class ConsoleErrors(list[str]):
    """What the browser reported as errors (a CSP violation, a script error, a failed load)
    on every page a test opened through `page` or `new_page`; checked when the test ends."""

    def expect(self, text: str) -> None:
        """Take back the one error the test caused on purpose (a 404 shown to an outsider)."""
        matching = [e for e in self if text in e]
        assert len(matching) == 1, (text, list(self))
        self.remove(matching[0])


@pytest.fixture
def console_errors() -> ConsoleErrors:
    return ConsoleErrors()


def watch(page: object, errors: list[str]) -> None:
    """Collect `page`'s console errors and uncaught exceptions into `errors`."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.on(
        "console",
        lambda message: (
            errors.append(f"{page.url}: {message.text}") if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))


@pytest.fixture
def new_page(browser: object, console_errors: ConsoleErrors) -> Iterator[Callable[[], object]]:
    """Pages in fresh browser contexts (one per person signing in), watched like `page`."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    contexts = []

    def make() -> object:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        watch(page, console_errors)
        return page

    yield make
    for context in contexts:
        context.close()
    assert console_errors == [], "the browser reported errors:\n" + "\n".join(console_errors)


@pytest.fixture
def page(new_page: Callable[[], object]) -> object:
    return new_page()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
