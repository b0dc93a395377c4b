"""The classroom page in a real browser: headless Chromium (Selenium) on berrykitd's page, while
kids' scripts drive the simulated board through berrykitd.

Each test saves screenshots in its output folder: $BERRYKIT_TEST_OUTPUT/<test>/ (CTest sets it
to build/test-output/), else the test's tmp_path.
"""
import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.request

import paho.mqtt.client as mqtt
import pytest

from broker import Broker, wait_until
from conftest import Client, Daemon
from pages import Browser

PYTHON = "/usr/bin/python3"


@pytest.fixture
def output(request, tmp_path):
    root = os.environ.get("BERRYKIT_TEST_OUTPUT")
    folder = pathlib.Path(root) / request.node.name if root else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def start_classroom(tmp_path, **config):
    settings = {"device_id": "classroom-pi", "web": {"enabled": True, "port": 0}}
    settings.update(config)
    daemon = Daemon(tmp_path, config=settings)
    client = Client(daemon.socket)
    try:
        page = client.request("hello")["page"]
    finally:
        client.close()
    assert page and page.startswith("http://127.0.0.1:"), page
    return daemon, page


@pytest.fixture
def classroom(tmp_path):
    daemon, page = start_classroom(tmp_path)
    yield daemon, page
    daemon.stop()


class Script:
    """A kid's script run with /usr/bin/python3 against the daemon; reads its output line by line."""

    def __init__(self, daemon, tmp_path, text, name="script.py"):
        path = tmp_path / name
        path.write_text(text)
        env = dict(os.environ, BERRYKIT_SOCKET=daemon.socket)
        env.pop("BERRYKIT_BOARD", None)
        self.process = subprocess.Popen([PYTHON, "-u", str(path)], env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def expect(self, line, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.process.stdout.readline()
            if not got:
                break
            if got.strip() == line:
                return
        raise AssertionError(f"the script did not print {line!r}: {self.process.stderr.read() if self.process.poll() is not None else ''}")

    def tell(self, text="go"):
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(10)


def card(name):
    """The JavaScript for the part's card on the page."""
    return f'document.querySelector(\'[data-part="{name}"][data-type]\')'


def shows(name, key, value):
    """A condition for Browser.wait_for: the part's card has data-<key> equal to value."""
    return f'{card(name)}.dataset.{key} === "{value}"'


def test_a_script_blinking_red_lights_red_on_the_page_then_puts_it_out(classroom, tmp_path, output):
    daemon, page = classroom
    with Browser(output, name="page") as browser:
        browser.open(page)
        assert browser.part("red").get_attribute("data-on") == "false"
        browser.screenshot("1-before")
        script = Script(daemon, tmp_path, "from berrykit import LED\n"
                                          "red = LED('red')\n"
                                          "red.on(); print('on')\n"
                                          "input()\n"
                                          "red.off(); print('off')\n"
                                          "input()\n")
        try:
            script.expect("on")
            browser.wait_for(shows("red", "on", "true"), what="red to be lit on the page")
            assert "ON" in browser.part("red").text  # in words too, for colour-blind kids
            browser.screenshot("2-red-lit")
            script.tell()
            script.expect("off")
            browser.wait_for(shows("red", "on", "false"), what="red to be out on the page")
            assert "OFF" in browser.part("red").text
            browser.screenshot("3-red-out")
        finally:
            script.stop()


def test_clicking_the_pages_button_runs_the_scripts_when_pressed(classroom, tmp_path, output):
    daemon, page = classroom
    script = Script(daemon, tmp_path, "from berrykit import Button, pause\n"
                                      "button = Button('button')\n"
                                      "button.when_pressed = lambda: print('pressed', flush=True)\n"
                                      "button.when_released = lambda: print('released', flush=True)\n"
                                      "print('ready')\n"
                                      "pause()\n")
    try:
        script.expect("ready")
        with Browser(output, name="page") as browser:
            browser.open(page)
            browser.press("button")          # the mouse held down on the page's button
            script.expect("pressed")
            browser.wait_for(shows("button", "pressed", "true"),
                             what="the page to show the button pressed")
            browser.screenshot("1-held")
            browser.release("button")
            script.expect("released")
            browser.wait_for(shows("button", "pressed", "false"),
                             what="the page to show the button let go")
            browser.wait_for('[...document.querySelectorAll("#log li")].some(li => li.textContent.includes("button was pressed"))',
                             what="the press in the page's log")
            browser.screenshot("2-let-go")
    finally:
        script.stop()


def test_the_keyboard_presses_a_button_while_space_is_held(classroom, tmp_path, output):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    daemon, page = classroom
    with Browser(output, name="page") as browser:
        browser.open(page)
        target = browser.part("button2").find_element(By.CSS_SELECTOR, '[data-action="press"]')
        browser.driver.execute_script("arguments[0].focus()", target)
        ActionChains(browser.driver).key_down(Keys.SPACE).perform()
        browser.wait_for(shows("button2", "pressed", "true"),
                         what="Space to press button2")
        client = Client(daemon.socket)
        try:
            assert client.request("get", part="button2")["state"]["pressed"] is True
            browser.screenshot("1-space-held")
            ActionChains(browser.driver).key_up(Keys.SPACE).perform()
            browser.wait_for(shows("button2", "pressed", "false"),
                             what="letting go of Space to release button2")
            wait_until(lambda: client.request("get", part="button2")["state"]["pressed"] is False, 5,
                       "berrykitd to see button2 let go")
        finally:
            client.close()


def test_the_temperature_slider_sets_what_the_next_reading_to_the_cloud_says(tmp_path, output):
    broker = Broker(tmp_path)
    readings = []
    subscriber = mqtt.Client(client_id="the-cloud")
    subscriber.on_connect = lambda c, u, f, rc: c.subscribe("berrykit/classroom-pi/readings/temperature", qos=1)
    subscriber.on_message = lambda c, u, m: readings.append(json.loads(m.payload))
    subscriber.connect("127.0.0.1", broker.port)
    subscriber.loop_start()
    daemon, page = start_classroom(tmp_path, mqtt={"url": broker.url}, outbox={"file": str(tmp_path / "outbox.sqlite")},
                                   sensors={"temperature": {"period": 0.5}})
    try:
        wait_until(lambda: readings, 15, "a first temperature reading")
        with Browser(output, name="page") as browser:
            browser.open(page)
            taken = browser.set_slider("temperature", "temperature", 31.5)
            assert taken == 31.5
            seen = len(readings)
            wait_until(lambda: any(r["value"] == 31.5 for r in readings[seen:]), 10,
                       "a reading of 31.5 °C after the slider moved")
            browser.wait_for('[...document.querySelectorAll("#readings li")].some(li => li.textContent.includes("31.5"))',
                             what="the page's list of readings sent to show 31.5")
            browser.wait_for('document.querySelector("#cloud").dataset.connected === "true"',
                             what="the page to show the cloud connected")
            browser.screenshot("1-slider-at-31.5")
    finally:
        daemon.stop()
        subscriber.loop_stop()
        subscriber.disconnect()
        broker.stop()


def test_two_pages_open_at_once_both_show_every_change(classroom, tmp_path, output):
    daemon, page = classroom
    with Browser(output, name="projector") as projector, Browser(output, name="laptop") as laptop:
        projector.open(page)
        laptop.open(page)
        client = Client(daemon.socket, program="rainbow.py")
        try:
            client.request("claim", part="rgb")
            client.request("set", part="rgb", value=[1, 0, 0.5])
            client.request("claim", part="amber")
            client.request("set", part="amber", value=0.4)
            for browser in (projector, laptop):
                browser.wait_for(shows("rgb", "value", "1,0,0.5"),
                                 what="the RGB LED's colour")
                browser.wait_for(shows("amber", "value", "0.4"),
                                 what="amber at 40 %")
                browser.wait_for(card("amber") + '.textContent.includes("rainbow.py")',
                                 what="who holds amber")
                browser.screenshot("1-rgb-and-amber")
        finally:
            client.close()
        for browser in (projector, laptop):
            browser.wait_for(shows("amber", "on", "false"), what="amber out once the program ended")


def test_the_page_works_with_no_network_and_loads_nothing_from_elsewhere(classroom, output):
    _, page = classroom
    with Browser(output, name="page") as browser:
        browser.open(page)
        resources = browser.driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)")
        outside = [r for r in resources if not r.startswith(page.rstrip("/"))]
        assert outside == [], outside
        html = urllib.request.urlopen(page, timeout=5).read().decode()
        assert "http://" not in html and "https://" not in html
        browser.screenshot("1-whole-board")


def test_the_page_cannot_drive_an_led(classroom, output):
    _, page = classroom
    request = urllib.request.Request(page + "api/press", data=json.dumps({"part": "red"}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    body = json.loads(refused.value.read())
    assert refused.value.code == 400 and body["error"]["code"] == "wrong_type", body
    assert "LED" in body["error"]["message"]
    with Browser(output, name="page") as browser:
        browser.open(page)
        assert browser.part("red").get_attribute("data-on") == "false"
        # An LED has nothing to press on the page.
        assert browser.part("red").find_elements("css selector", '[data-action="press"]') == []


def test_the_buzzer_shows_and_sounds_only_when_the_teacher_turns_sound_on(classroom, output):
    from selenium.webdriver.common.by import By
    daemon, page = classroom
    with Browser(output, name="page") as browser:
        browser.open(page)
        client = Client(daemon.socket, program="alarm.py")
        try:
            client.request("claim", part="buzzer")
            client.request("set", part="buzzer", value=1)
            browser.wait_for(shows("buzzer", "on", "true"),
                             what="the buzzer shown sounding")
            assert "BEEP" in browser.part("buzzer").text
            assert browser.driver.execute_script("return window.berrykitPage.beeping") is False  # sound is off
            browser.screenshot("1-buzzer-on-sound-off")
            browser.driver.find_element(By.CSS_SELECTOR, "label.switch").click()  # the teacher turns sound on
            browser.wait_for("window.berrykitPage.beeping === true", what="the page to make the buzzer's sound")
            client.request("set", part="buzzer", value=0)
            browser.wait_for("window.berrykitPage.beeping === false", what="the sound to stop with the buzzer")
            assert browser.part("buzzer").get_attribute("data-on") == "false"
        finally:
            client.close()


def test_holding_the_motion_sensor_on_the_page_is_motion_for_a_script(classroom, tmp_path, output):
    daemon, page = classroom
    script = Script(daemon, tmp_path, "from berrykit import MotionSensor, pause\n"
                                      "pir = MotionSensor('motion')\n"
                                      "pir.when_motion = lambda: print('motion', flush=True)\n"
                                      "pir.when_no_motion = lambda: print('still', flush=True)\n"
                                      "print('ready')\n"
                                      "pause()\n")
    try:
        script.expect("ready")
        with Browser(output, name="page") as browser:
            browser.open(page)
            browser.press("motion")
            script.expect("motion")
            browser.wait_for(shows("motion", "motion", "true"),
                             what="the page to show motion")
            browser.screenshot("1-waving")
            browser.release("motion")
            script.expect("still")
    finally:
        script.stop()


def test_a_finger_on_the_pages_button_presses_it_until_lifted(classroom, tmp_path, output):
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    from selenium.webdriver.common.by import By
    daemon, page = classroom
    script = Script(daemon, tmp_path, "import time\n"
                                      "from berrykit import Button, pause\n"
                                      "button = Button('button')\n"
                                      "button.when_pressed = lambda: print('pressed', time.monotonic(), flush=True)\n"
                                      "button.when_released = lambda: print('released', time.monotonic(), flush=True)\n"
                                      "print('ready')\n"
                                      "pause()\n")
    try:
        script.expect("ready")
        with Browser(output, name="tablet") as browser:
            browser.open(page)
            target = browser.part("button").find_element(By.CSS_SELECTOR, '[data-action="press"]')
            # A touch down, held for 0.6 s, then lifted: chromedriver delivers a touch only as one action.
            finger = PointerInput(interaction.POINTER_TOUCH, "finger")
            touch = ActionBuilder(browser.driver, mouse=finger)
            touch.pointer_action.move_to(target).pointer_down().pause(0.6).pointer_up()
            touch.perform()
            pressed = script.process.stdout.readline().split()
            released = script.process.stdout.readline().split()
            assert pressed[0] == "pressed" and released[0] == "released", (pressed, released)
            held = float(released[1]) - float(pressed[1])
            assert 0.4 < held < 3, held  # pressed while the finger was down, let go when it lifted
            browser.wait_for(shows("button", "pressed", "false"),
                             what="the button let go on the page")
            browser.screenshot("1-after-touch")
    finally:
        script.stop()
