"""A real browser for the web app's tests: Debian's chromium driven by chromium-driver through
python3-selenium, headless, with a fresh profile and nothing that reaches out of the machine.
Screenshots go to $CLEARML_BUILD_DIR/test-artifacts/web/ for a reviewer to look at."""
import os
import shutil
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from conftest import BUILD

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = os.path.join(BUILD, "test-artifacts", "web")


class Browser:
    def __init__(self, base_url):
        self.base = base_url.rstrip("/")
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-extensions", "--disable-default-apps", "--mute-audio",
                  f"--user-data-dir={self.profile}", "--window-size=1440,1000"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.d.set_page_load_timeout(30)
        os.makedirs(ARTIFACTS, exist_ok=True)

    def close(self):
        try:
            self.d.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def go(self, path):
        self.d.get(self.base + path)

    def css(self, sel):
        return self.d.find_elements(By.CSS_SELECTOR, sel)

    def one(self, sel, timeout=20):
        return self.wait(lambda: (self.css(sel) or [None])[0], timeout, f"element {sel}")

    def wait(self, pred, timeout=20, what="condition"):
        end = time.time() + timeout
        last = None
        while time.time() < end:
            try:
                v = pred()
                if v:
                    return v
            except (StaleElementReferenceException, WebDriverException) as e:
                last = e
            time.sleep(0.1)
        self.shot(f"timeout-{what[:40]}")
        raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                             + (f" (last error {last})" if last else "")
                             + f"; errors shown: {self.errors()!r}")

    def text(self, sel):
        """innerText of the first match, read in the page (no stale references)."""
        return self.d.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", sel)

    def attr(self, sel, name):
        return self.d.execute_script(
            "const e = document.querySelector(arguments[0]);"
            " return e ? e.getAttribute(arguments[1]) : null", sel, name)

    def click(self, sel, timeout=20):
        el = self.one(sel, timeout)
        self.wait(lambda: el.is_enabled() and el.is_displayed(), timeout, f"{sel} clickable")
        el.click()
        return el

    def errors(self):
        return [e.text for e in self.css("#errors .error")]

    def console_errors(self):
        return [m for m in self.d.get_log("browser") if m.get("level") == "SEVERE"]

    def shot(self, name):
        path = os.path.join(ARTIFACTS, f"{name}.png")
        try:
            self.d.save_screenshot(path)
        except WebDriverException:
            pass
        return path

    def sign_in(self, key, secret):
        self.go("/ui/")
        self.one("#access_key").send_keys(key)
        self.one("#secret_key").send_keys(secret)
        self.click("#signin")
        self.wait(lambda: self.css("#signout"), 20, "signed in")
