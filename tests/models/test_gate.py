"""The one gate between requests and background work (models/gate.py):
background units start only between requests, a request's own thread can
step back for them, and a request's window says what ran beside it."""

import threading
import time

from lit_gemma.models import gate as gate_lib


def test_a_background_unit_waits_for_the_running_request():
  gate = gate_lib.Gate(quiet_s=0.05)
  started = threading.Event()
  order = []

  def background():
    with gate.background() as running:
      assert running and gate.in_background()
      order.append("unit")
      with gate.foreground() as inner:  # Its own calls are no request.
        assert not inner.request and gate.active == 0
    started.set()

  with gate.foreground() as window:
    thread = threading.Thread(target=background)
    thread.start()
    time.sleep(0.3)
    assert not started.is_set(), "a background unit ran during a request"
    order.append("request")
  assert started.wait(5)
  thread.join()
  assert order == ["request", "unit"]
  assert window.request and window.background == 0
  assert gate.active == 0 and not gate.in_background()


def test_a_request_sees_the_unit_under_way_when_it_arrived():
  gate = gate_lib.Gate(quiet_s=0.0)
  inside, release = threading.Event(), threading.Event()

  def background():
    with gate.background():
      inside.set()
      release.wait(5)

  thread = threading.Thread(target=background)
  thread.start()
  assert inside.wait(5)
  with gate.foreground() as window:
    release.set()
    thread.join()
  assert window.background == 1 and window.compiled == 0


def test_a_request_steps_back_for_its_own_units_and_clicks_go_first():
  """The data table's request generating responses in small units: a click
  arriving meanwhile runs before its next unit."""
  gate = gate_lib.Gate(quiet_s=0.05)
  order, click_in = [], threading.Event()

  def click():
    with gate.foreground():
      click_in.set()
      time.sleep(0.3)
      order.append("click")

  with gate.foreground():  # The table's request.
    with gate.background() as running:  # Its first unit: nothing waits.
      assert running
      order.append("unit 1")
      thread = threading.Thread(target=click)
      thread.start()
      assert click_in.wait(5)
    with gate.background():
      order.append("unit 2")
    assert gate.active == 1  # Itself again.
  thread.join()
  assert order == ["unit 1", "click", "unit 2"]
  assert gate.active == 0


def test_a_stopped_unit_does_not_run():
  gate = gate_lib.Gate(quiet_s=0.0)
  stop = threading.Event()
  stop.set()
  with gate.foreground():
    with gate.background(stop) as running:
      assert not running
  assert gate.units_started == 0 and gate.active == 0


def test_a_request_waiting_on_another_does_not_hold_its_unit_forever():
  # LIT's prediction cache: one request computes a model's rows (its own
  # background unit) while another request for the same model waits on
  # the cache's lock. The first must not wait for the second to finish.
  gate = gate_lib.Gate(quiet_s=0.0)
  cache_lock = threading.Lock()
  ran, answered = threading.Event(), threading.Event()

  def computing():
    with gate.foreground(), cache_lock:
      waiting.start()
      time.sleep(0.1)  # The other request is now in and waits on the lock.
      with gate.background() as running:
        assert running
        ran.set()

  def waiting_request():
    with gate.foreground(), cache_lock:
      answered.set()

  waiting = threading.Thread(target=waiting_request, daemon=True)
  first = threading.Thread(target=computing, daemon=True)
  first.start()
  assert ran.wait(10), "the requests deadlocked"
  assert answered.wait(5)
  first.join()
  waiting.join()
  assert gate.active == 0
