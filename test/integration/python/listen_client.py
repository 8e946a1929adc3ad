"""A python-socketio client that only listens, driven by test/integration/cluster-features.test.ts.

It connects as the user of the token given, registers a ONE-parameter handler for every
event named in WIRE_EVENTS (as a Python application would write them), joins the rooms
named in WIRE_ROOMS, prints `{"ready": true}`, and then prints what arrives until the
event named WIRE_END does; then it disconnects and exits 0.

Every event received becomes one JSON line on stdout:
  {"event": name, "argc": 1, "payload": ...}    the handler ran with its one argument
  {"event": name, "argc": n, "error": "..."}    python-socketio could not call it
                                                 (an extra argument: TypeError, event lost)
Anything that cannot happen as expected ends it at once with `{"failed": reason}` and exit code 1.

Environment: WIRE_URL, WIRE_TOKEN, WIRE_EVENTS (JSON list of event names), WIRE_ROOMS
(JSON list of rooms to join), WIRE_END (the event that ends it; listened to as well).
"""

import json
import os
import sys
import threading

import socketio

URL = os.environ["WIRE_URL"]
TOKEN = os.environ["WIRE_TOKEN"]
EVENTS = json.loads(os.environ["WIRE_EVENTS"])
ROOMS = json.loads(os.environ.get("WIRE_ROOMS", "[]"))
END = os.environ["WIRE_END"]
TIMEOUT_S = 60

print_lock = threading.Lock()
ended = threading.Event()


def report(line):
    with print_lock:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


def fail(reason):
    """Ends the process now: python-socketio's threads would keep it alive after SystemExit."""
    report({"failed": reason})
    os._exit(1)


class WireClient(socketio.Client):
    """python-socketio's own dispatch; a TypeError it raises (the handler could not take the
    arguments) is reported instead of lost in a thread."""

    def _trigger_event(self, event, namespace, *args):
        try:
            return super()._trigger_event(event, namespace, *args)
        except TypeError as err:
            report({"event": event, "argc": len(args), "error": "TypeError: %s" % err})
            return None


sio = WireClient(reconnection=False)


def one_parameter_handler(event):
    def handler(payload):
        report({"event": event, "argc": 1, "payload": payload})
        if event == END:
            ended.set()

    return handler


for name in set(EVENTS + [END]):
    sio.on(name, one_parameter_handler(name))

try:
    sio.connect(URL, auth={"token": TOKEN}, transports=["websocket"], wait_timeout=TIMEOUT_S)
except socketio.exceptions.ConnectionError as err:
    fail("could not connect: %s" % err)

for room in ROOMS:
    try:
        reply = sio.call("room:join", {"room": room}, timeout=TIMEOUT_S)
    except socketio.exceptions.TimeoutError:
        fail("no ack to room:join %s" % room)
    if not isinstance(reply, dict) or reply.get("success") is not True:
        fail("room:join %s answered %r" % (room, reply))

report({"ready": True})
if not ended.wait(timeout=TIMEOUT_S):
    fail("%s never arrived" % END)
sio.disconnect()
report({"done": True})
# As in fail(): python-socketio's threads must not keep the process alive.
os._exit(0)
