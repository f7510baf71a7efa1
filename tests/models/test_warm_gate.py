"""The warm-up never starts a unit while a user request runs."""

import threading
import time

from lit_gemma.models import gate


def test_warm_up_unit_waits_for_running_request():
  started = threading.Event()
  order = []

  def warm():
    with gate.unit():
      order.append("warm-up unit")
      assert gate.in_warm_up()
      with gate.request():  # The warm-up's own calls are no request.
        assert gate.active_requests() == 0
    started.set()

  with gate.request():
    thread = threading.Thread(target=warm)
    thread.start()
    time.sleep(0.2)
    assert not started.is_set(), "warm-up ran during a request"
    order.append("request")
  assert started.wait(5)
  thread.join()
  assert order == ["request", "warm-up unit"]
  assert gate.active_requests() == 0 and not gate.in_warm_up()
