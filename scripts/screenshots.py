"""Screenshots of the main pages at phone (360 px) and desktop (1280 px) width, for a visual review.

Needs a running server with the demo data (``PORT=8123 VAR_DIR=/tmp/shotvar make run``) and
Debian's Chromium (``apt-get install chromium``). Logs in as the demo users, visits each page at both
widths and writes ``<out>/<page>-<width>.png``; prints the page width the browser measured, so a
page wider than the phone (a horizontal scroll) stands out.

    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:8123 --out /tmp/shots

While changing CSS or templates, serve the same data with ``DEBUG=true VAR_DIR=/tmp/shotvar
.venv/bin/python manage.py runserver 127.0.0.1:8123`` instead: it serves the static files from the
apps (no collectstatic) and reloads templates. The script visits a member page and sends the admit
form with a wrong citizen ID (nothing is written), which adds "member.viewed" rows to the audit log.
Exit status 1 when a page scrolls sideways.
"""

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "congdoan2026"
WIDTHS = (360, 1280)


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_load_state("networkidle")
    if "/accounts/login/" in page.url:
        raise SystemExit(f"login as {username} failed: is the demo data loaded?")


def first_link(page, base: str, list_path: str, selector: str) -> str:
    page.goto(f"{base}{list_path}")
    href = page.locator(selector).first.get_attribute("href")
    return f"{base}{href}"


#: the page's width, or the window's width plus one when a stacking table scrolls sideways inside its box
MEASURE = """() => {
  const squeezed = [...document.querySelectorAll('.table-wrap')]
    .some(w => w.querySelector('table.stack') && w.scrollWidth > w.clientWidth + 1);
  return squeezed ? Math.max(document.documentElement.scrollWidth, window.innerWidth + 1) : document.documentElement.scrollWidth;
}"""


def snap(page, out: Path, name: str, width: int, results: list) -> None:
    page.wait_for_load_state("networkidle")
    path = out / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    results.append((name, width, page.evaluate(MEASURE), path))


def shoot(page, out: Path, name: str, url: str, width: int, results: list) -> None:
    page.goto(url)
    snap(page, out, name, width, results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8123", help="the running server")
    parser.add_argument("--out", default="/tmp/shots", help="directory for the PNG files")
    args = parser.parse_args()
    base, out = args.url.rstrip("/"), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: list = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        for width in WIDTHS:
            viewport = {"width": width, "height": 800}
            # the login page, as nobody
            context = browser.new_context(viewport=viewport, locale="vi-VN")
            page = context.new_page()
            shoot(page, out, "login", f"{base}/accounts/login/", width, results)
            context.close()

            # a province chair: the official's pages
            context = browser.new_context(viewport=viewport, locale="vi-VN")
            page = context.new_page()
            login(page, base, "phutho.chutich")
            member_url = first_link(page, base, "/members/", "#rows table a[href^='/members/']")
            unit_url = first_link(page, base, "/units/", "#rows table a[href^='/units/']")
            for name, url in [
                ("dashboard", f"{base}/"),
                ("member-list", f"{base}/members/"),
                ("member-detail", member_url),
                ("member-admit", f"{base}/members/new/"),
                ("transfers", f"{base}/members/transfers/"),
                ("unit-list", f"{base}/units/"),
                ("unit-detail", unit_url),
                ("import", f"{base}/imports/"),
                ("payments-statements", f"{base}/payments/"),
                ("audit", f"{base}/audit/"),
            ]:
                shoot(page, out, name, url, width, results)
            # a form sent back with an error (a citizen ID too short): nothing is written
            page.goto(f"{base}/members/new/")
            page.select_option("#id_unit", index=1)
            page.fill("#id_full_name", "Nguyễn Thị Thử")
            page.fill("#id_date_of_birth", "1990-05-17")
            page.select_option("#id_gender", "female")
            page.fill("#id_citizen_id", "0251900")
            page.fill("#id_joined_on", "2015-03-01")
            page.click("main form button")
            snap(page, out, "member-admit-error", width, results)
            if width == 360:  # the open menu on a phone
                page.goto(f"{base}/")
                page.click("label.menu-button")
                path = out / "menu-open-360.png"
                page.screenshot(path=str(path))
                results.append(("menu-open", width, page.evaluate(MEASURE), path))
            context.close()

            # a member: his own record and card
            context = browser.new_context(viewport=viewport, locale="vi-VN")
            page = context.new_page()
            login(page, base, "DV0000000001")
            shoot(page, out, "me", f"{base}/members/me/", width, results)
            shoot(page, out, "my-card", f"{base}/members/me/card/", width, results)
            verify = page.locator("a.verify-link, .member-card a").first
            if verify.count():
                shoot(page, out, "card-verify", verify.get_attribute("href"), width, results)
            context.close()
        browser.close()
    too_wide = 0
    for name, width, scroll_width, path in results:
        flag = "" if scroll_width <= width else "  <-- horizontal scroll"
        too_wide += bool(flag)
        print(f"{path}  scrollWidth={scroll_width}{flag}")
    return 1 if too_wide else 0


if __name__ == "__main__":
    sys.exit(main())
