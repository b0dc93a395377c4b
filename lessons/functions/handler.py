"""A cloud function for the classroom Pi: when the room gets warm, the red LED comes on.

The Pi sends each temperature reading to the cloud; this function gets it, decides, and sends a
command back. The same file runs on a laptop with the function runner:

    berrykit-functions lessons/functions/handler.py

and on AWS Lambda, unchanged (docs/cloud-functions.md says how).
"""

HOT = 25  # degrees Celsius: warmer than this, and the red LED comes on


def handler(event, context):
    # event is one reading from a Pi, for example:
    # {"device": "classroom-pi", "sensor": "temperature", "value": 21.5, "unit": "°C", ...}
    if event.get("sensor") != "temperature" or "value" not in event:
        return None  # another sensor, or a button: nothing to do

    if event["value"] > HOT:
        return {"part": "red", "action": "on"}
    return {"part": "red", "action": "off"}
