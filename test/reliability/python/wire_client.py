"""A python-socketio client, driven by test/reliability/python-client.test.ts.

It connects as the user of the token given, registers a ONE-parameter handler for every
event named in WIRE_EVENTS (as a Python application would write them), makes the
requests whose replies come to itself, prints `{"ready": ...}`, and then stays connected
while the test makes the other side send it events, until the server disconnects it.

Every event received becomes one JSON line on stdout:
  {"event": name, "argc": 1, "payload": ...}    the handler ran with its one argument
  {"event": name, "argc": n, "error": "..."}    python-socketio could not call it
                                                 (an extra argument: TypeError, event lost)
and a reply that cannot come ends it at once with `{"failed": reason}` and exit code 1.

Environment: WIRE_URL, WIRE_TOKEN, WIRE_PEER (the user the test drives),
WIRE_ABSENT (a user with no socket yet), WIRE_EVENTS (JSON list of event names).
"""

import json
import os
import sys
import threading

import socketio

URL = os.environ["WIRE_URL"]
TOKEN = os.environ["WIRE_TOKEN"]
PEER = os.environ["WIRE_PEER"]
ABSENT = os.environ["WIRE_ABSENT"]
EVENTS = json.loads(os.environ["WIRE_EVENTS"])
REPLY_TIMEOUT_S = 10

print_lock = threading.Lock()
arrived = threading.Condition()
counts = {}
last_payload = {}
lost = {}


def report(line):
    with print_lock:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


class WireClient(socketio.Client):
    """python-socketio's client, observed: how many arguments each event came with.

    Dispatch itself is python-socketio's own (super()); only a TypeError it raises when
    the handler cannot take the arguments is reported instead of lost in a thread.
    """

    def _trigger_event(self, event, namespace, *args):
        try:
            return super()._trigger_event(event, namespace, *args)
        except TypeError as err:
            report({"event": event, "argc": len(args), "error": "TypeError: %s" % err})
            with arrived:
                lost[event] = str(err)
                arrived.notify_all()
            return None


sio = WireClient(reconnection=False)


def one_parameter_handler(event):
    def handler(payload):
        report({"event": event, "argc": 1, "payload": payload})
        with arrived:
            counts[event] = counts.get(event, 0) + 1
            last_payload[event] = payload
            arrived.notify_all()

    return handler


for name in EVENTS:
    sio.on(name, one_parameter_handler(name))

disconnected = threading.Event()
sio.on("disconnect", lambda: disconnected.set())


def fail(reason):
    """Ends the process now: python-socketio's threads would keep it alive after SystemExit."""
    report({"failed": reason})
    os._exit(1)


def wait_for(event, count=1, after=""):
    """Waits until `event` has arrived `count` times; fails at once if it could not be handled."""
    with arrived:
        arrived.wait_for(lambda: counts.get(event, 0) >= count or event in lost, timeout=REPLY_TIMEOUT_S)
        if event in lost:
            fail("%s%s reached python-socketio but not its handler: %s" % (event, after, lost[event]))
        if counts.get(event, 0) < count:
            fail("no %s%s within %d s" % (event, after, REPLY_TIMEOUT_S))
        return last_payload[event]


def request(event, payload, reply):
    """Emits `event` and waits for one more `reply` event than had arrived before."""
    with arrived:
        before = counts.get(reply, 0)
    sio.emit(event, payload)
    return wait_for(reply, before + 1, " after " + event)


# A pid and offset in the handshake ask for a recovery that cannot happen: the server
# answers with system:state_recovery_failed, after the three greetings.
try:
    sio.connect(
        URL,
        auth={"token": TOKEN, "pid": "no-such-session", "offset": "0"},
        transports=["websocket"],
        wait_timeout=REPLY_TIMEOUT_S,
    )
except socketio.exceptions.ConnectionError as err:
    fail("could not connect: %s" % err)
for greeting in ["connection_status", "system:welcome", "connected", "system:state_recovery_failed"]:
    wait_for(greeting)

me = last_payload["connection_status"]["userId"]
request("ping", {"timestamp": 1}, "pong")
request("register", {"userId": me}, "register:ack")
request("register_user", {"userId": me, "machineId": "py-machine"}, "registration_success")
request("register_user", {"userId": "someone-else", "machineId": "py-machine"}, "registration_error")
request("room:join", {"room": "lobby"}, "room:join:ack")
request("room:join", {"room": "passing"}, "room:join:ack")
request("room:leave", {"room": "passing"}, "room:leave:ack")
request("client:event", {"type": "echo", "data": {"from": "python"}}, "server:response")
request("client:action", {"action": "time"}, "action:result")
request("client:message", {"content": "hello from python", "metadata": {"to": PEER}}, "message:ack")
request("no-such-event", {}, "error")

created = request("create_chat_session", {"machineId": "py-machine", "receiverUserId": PEER}, "session_created")
request("create_chat_session", {"machineId": "py-machine", "receiverUserId": me}, "session_error")
request("send_message", {"sessionId": created["sessionId"], "message": "hi from python"}, "message_sent")
request("send_message", {"sessionId": "00000000-0000-4000-8000-000000000000", "message": "nowhere"}, "message_error")

# To a user with no socket: stored, and the sender is told (receiver_unavailable); when
# that user connects, offline delivery tells the sender again (message_delivered).
to_absent = request("create_chat_session", {"machineId": "py-machine", "receiverUserId": ABSENT}, "session_created")
request("send_message", {"sessionId": to_absent["sessionId"], "message": "for later"}, "message_sent")
wait_for("receiver_unavailable")

# The inbox: the test stored one notification before this client connected; its count
# comes at connect. Ids go back as the client has them (seed 003 clients hold numbers).
wait_for("notification:unread-count")
page = request("notification:list", {"limit": 5}, "notification:list:ack")
if not page.get("success") or len(page.get("notifications", [])) != 1:
    fail("notification:list answered %r" % (page,))
stored_id = page["notifications"][0]["id"]
wire_id = int(stored_id) if stored_id.isdigit() else stored_id
request("notification:read", {"notificationId": wire_id}, "notification:read:ack")
wait_for("notification:marked-read")
request("notification:delete", {"notificationId": wire_id}, "notification:delete:ack")
wait_for("notification:deleted")
request("notification:read-all", {}, "notification:read-all:ack")

# The development helper (seed 003's own example): a notification in this user's inbox,
# answered with the stored record; notification:new and the count come with it.
request(
    "test:notification",
    {"type": "job_assigned", "priority": "HIGH", "title": "Test Notification", "message": "This is a test"},
    "test:notification:ack",
)

# Jobs (seed 003), answered on the ack alone: a job this client creates, assigns to itself,
# starts and completes. It is the only user concerned, so no notification is stored for it.
def call(event, payload):
    try:
        reply = sio.call(event, payload, timeout=REPLY_TIMEOUT_S)
    except socketio.exceptions.TimeoutError:
        fail("no ack to %s within %d s" % (event, REPLY_TIMEOUT_S))
    if not isinstance(reply, dict) or reply.get("success") is not True:
        fail("%s answered %r" % (event, reply))
    return reply


job_id = call("test:create-job", {"projectId": 1, "jobTypeId": 2, "subject": "Test Job"})["job"]["jobId"]
call("test:assign-job", {"jobId": job_id, "assigneeId": me})
wait_for("job:assigned")
call("job:start", {"jobId": job_id})
wait_for("job:started")
call("job:complete", {"jobId": job_id, "note": "from python"})
wait_for("job:completed")
wait_for("job:status-changed", 3)

# The monitoring stream (seed 004): every delivery the test makes from here on comes as a
# kafka-event too. (Outside production any identified socket may subscribe.)
call("subscribe", "kafka-events")

report({"ready": True, "sessionId": created["sessionId"]})

# The test drives the rest, then shuts the server down: system:shutdown, then disconnect.
if not disconnected.wait(timeout=60):
    fail("the server never disconnected this client")
report({"done": True})
