"""The classroom page in a real browser: headless Chromium driven through Selenium.

    with Browser(tmp_path, name="teacher") as browser:
        browser.open(f"http://127.0.0.1:{port}/")          # waits until the page has the whole board
        browser.press("button")                            # a real mouse press, held ...
        browser.wait_for('document.querySelector(\'[data-part="button"]\').dataset.pressed === "true"',
                         what="the button to show PRESSED")
        browser.release("button")                          # ... and let go
        browser.set_slider("climate", "humidity", 60)       # as a drag of the slider would
        browser.screenshot("after")                        # tmp_path / "teacher-after.png"

Chromium's and chromedriver's own output goes to files in the screenshot folder, never to the test's
output. Everything talks over 127.0.0.1. close() (or leaving the with block) ends every process the
browser started.
"""
import json
import os
import pathlib
import shutil
import signal
import socket
import tempfile
import time

try:
    from selenium import webdriver
    from selenium.common.exceptions import JavascriptException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
except ImportError:  # reported by Browser(), where a test can see it
    webdriver = None

CHROMEDRIVER = os.environ.get("BERRYKIT_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM = os.environ.get("BERRYKIT_CHROMIUM", "/usr/bin/chromium")
WINDOW = (1280, 900)


if webdriver is not None:
    class _LoopbackService(Service):
        """chromedriver, reached at 127.0.0.1 (Selenium says "localhost", which may mean ::1), in a
        process group of its own so that close() can find every process Chromium forked."""

        @property
        def service_url(self):
            return f"http://127.0.0.1:{self.port}"

        def is_connectable(self):
            with socket.socket() as s:
                s.settimeout(1)
                return s.connect_ex(("127.0.0.1", self.port)) == 0


def _css_string(text):
    """A CSS attribute value in double quotes (part names are plain words, but be safe)."""
    return json.dumps(str(text))


class Browser:
    """One headless Chromium window (1280x900) showing berrykitd's classroom page."""

    def __init__(self, screenshot_dir: pathlib.Path, name="page"):
        if webdriver is None or not os.access(CHROMEDRIVER, os.X_OK) or not os.access(CHROMIUM, os.X_OK):
            raise RuntimeError(f"the browser tests need chromium ({CHROMIUM}), chromedriver ({CHROMEDRIVER}) and "
                               "python3-selenium: run scripts/install-deps.sh")
        self.screenshot_dir = pathlib.Path(screenshot_dir)
        self.screenshot_dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.driver = None
        # Chromium's profile, and (through XDG_CONFIG_HOME) the crash handler's database, live in
        # one temporary folder; its name also marks the crash handler, which leaves the process group.
        self._profile = tempfile.mkdtemp(prefix=f"berrykit-chromium-{name}-")
        environment = dict(os.environ, XDG_CONFIG_HOME=os.path.join(self._profile, "config"))
        self._output = open(self.screenshot_dir / f"{name}-chromium.log", "wb")
        self._service = _LoopbackService(
            CHROMEDRIVER, log_path=str(self.screenshot_dir / f"{name}-chromedriver.log"),
            service_args=["--allowed-ips=127.0.0.1"], log_file=self._output, env=environment,
            popen_kw={"start_new_session": True})
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--user-data-dir={self._profile}/profile",
                         f"--window-size={WINDOW[0]},{WINDOW[1]}", "--no-first-run", "--no-default-browser-check",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-extensions", "--disable-breakpad", "--mute-audio", "--proxy-server=direct://", "--proxy-bypass-list=*"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        try:
            self.driver = webdriver.Chrome(service=self._service, options=options)
        except BaseException:
            self.close()
            raise
        self.driver.set_script_timeout(10)
        self.viewport(*WINDOW)  # the page itself is 1280x900, as are the screenshots

    # ---- the page ----

    def open(self, url):
        """Loads url and waits (10 s) until the page has applied berrykitd's whole board."""
        self.driver.get(url)
        deadline = time.monotonic() + 10
        while not self._connected():
            if time.monotonic() > deadline:
                shot = self.screenshot("not-connected")
                raise AssertionError(f"the page at {url} did not show the board within 10 s "
                                     f"(body data-connected={self._js('return document.body && document.body.dataset.connected')!r}); "
                                     f"screenshot {shot}\nconsole:\n{self.console_text()}\npage text:\n{self.body_text()}")
            time.sleep(0.05)

    def _connected(self):
        return self._js("return Boolean(document.body && document.body.dataset.connected === 'true')")

    def _js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def console_text(self):
        try:
            return "\n".join(f"  {entry['level']}: {entry['message']}" for entry in self.driver.get_log("browser")) or "  (empty)"
        except WebDriverException as error:
            return f"  (could not read the console: {error.msg})"

    def body_text(self):
        try:
            return self._js("return document.body ? document.body.innerText : '(no body)'")
        except WebDriverException as error:
            return f"(could not read the page: {error.msg})"

    def screenshot(self, label):
        path = self.screenshot_dir / f"{self.name}-{label}.png"
        self.driver.save_screenshot(str(path))
        return path

    def viewport(self, width, height):
        """Makes the page itself (not the window around it) width x height CSS pixels."""
        inner = self._js("return [window.innerWidth, window.innerHeight]")
        outer = self.driver.get_window_size()
        self.driver.set_window_size(width + outer["width"] - inner[0], height + outer["height"] - inner[1])

    def part(self, name):
        """The element that shows the part called name (it carries data-part and data-type)."""
        return self.driver.find_element(By.CSS_SELECTOR, f"[data-part={_css_string(name)}][data-type]")

    def wait_for(self, js_condition: str, timeout=5, what=""):
        """Polls `return (js_condition)` until it is truthy and returns its value; after timeout
        seconds fails naming `what`, with a screenshot. A condition that throws (an element not
        drawn yet) counts as not yet."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self._js(f"return ({js_condition});")
            except JavascriptException as error:
                value = f"(it threw: {error.msg})"
            else:
                if value:
                    return value
            if time.monotonic() > deadline:
                label = "timeout-" + "".join(c if c.isalnum() else "-" for c in (what or "condition"))[:60]
                shot = self.screenshot(label)
                raise AssertionError(f"timed out after {timeout} s waiting for {what or js_condition} "
                                     f"(last value {value!r}); screenshot {shot}")
            time.sleep(0.03)

    # ---- what a kid does ----

    def _press_target(self, part):
        target = self.part(part).find_element(By.CSS_SELECTOR, '[data-action="press"]')
        self._js("arguments[0].scrollIntoView({block: 'nearest'})", target)  # pointer actions need it on screen
        return target

    def press(self, part):
        """Holds the mouse button down on the part's press button (until release)."""
        ActionChains(self.driver).click_and_hold(self._press_target(part)).perform()

    def release(self, part):
        """Lets go of the mouse button, over the part's press button."""
        ActionChains(self.driver).release(self._press_target(part)).perform()

    def set_slider(self, part, quantity, value):
        """Sets a sensor's slider to value and sends "input" then "change", as a drag ending there
        does. Returns the value the slider took (snapped to its step, within its range)."""
        taken = self._js("""
            const [part, quantity, value] = arguments;
            const slider = [...document.querySelectorAll('input[type="range"]')]
                .find((s) => s.dataset.part === part && s.dataset.quantity === quantity);
            if (!slider) return null;
            slider.value = String(value);
            slider.dispatchEvent(new Event("input", {bubbles: true}));
            slider.dispatchEvent(new Event("change", {bubbles: true}));
            return Number(slider.value);
        """, part, quantity, value)
        if taken is None:
            raise AssertionError(f"the page has no slider for the {quantity} of '{part}'")
        return taken

    # ---- the end ----

    def close(self):
        """Quits the browser; every process it started is gone when this returns. Safe to call twice."""
        group = self._service.process.pid if getattr(self._service, "process", None) else None
        started = _our_processes(group, self._profile) if group else set()
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception:  # a browser that already crashed: its processes are still ended below
                try:
                    self._service.stop()
                except Exception:
                    pass
            self.driver = None
        if group:
            _end(started | _our_processes(group, self._profile))
            try:
                self._service.process.wait(5)  # chromedriver is our child: reap it
            except Exception:
                pass
        if self._output and not self._output.closed:
            self._output.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _our_processes(group, marker):
    """The live pids in process group `group` (chromedriver's, which Chromium inherits) or with
    `marker` (the temporary folder) in their command line (Chromium's crash handler)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read().decode(errors="replace")
        except OSError:
            continue
        if fields[0] != "Z" and (int(fields[2]) == group or marker in command):
            found.add(int(entry))
    return found


def _end(pids, grace=5):
    """Waits up to `grace` seconds for pids to exit, then kills what is left and waits for that."""
    for sig in (None, signal.SIGKILL):
        if sig:
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            pids = {pid for pid in pids if _alive(pid)}
            if not pids:
                return
            time.sleep(0.05)
    raise RuntimeError(f"Chromium's processes {sorted(pids)} did not end even when killed")


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
