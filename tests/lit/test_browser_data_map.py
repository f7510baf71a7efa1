"""The data map as a user sees it, in headless Chromium: the `data_map`
layout's Embeddings module (LIT's projector, PCA) draws the tuning set's
query vectors (the `query_vector` field the hygiene annotator adds), each
point coloured by its topic, for a tiny model served by `launch.py`."""

import io

import pytest

from http_helpers import launched
from http_helpers import ok
import browser_ui
import repo

pytestmark = pytest.mark.browser
SFT = repo.BUNDLED / "tuning_sft.jsonl"
# The module's state, read off the element: the points LIT projected, the
# colour each is drawn in and the colour legend's label.
POINTS_JS = """el => ({
  points: el.projectedPoints.length,
  colours: el.appState.currentInputData.map(
      (d, i) => el.pointColorer(i, [], null)),
  topics: el.appState.currentInputData.map(d => d.data.topic),
  legend: el.shadowRoot.querySelector('color-legend')?.label,
  canvas: !!el.shadowRoot.querySelector('#scatter-gl-container canvas'),
})"""


@pytest.fixture(scope="module")
def map_url(tiny_presets, tmp_path_factory):
  tmp = tmp_path_factory.mktemp("data_map")
  with launched(tmp, [
      f"--models=tiny:{tiny_presets['gemma3']}",
      f"--datasets=tuning_sft:{SFT}", "--max_length=256",
      "--max_new_tokens=4", "--nowarm_up", "--near_duplicate_columns",
      "--default_layout=data_map"], seconds=300) as url:
    yield url


def test_projection_of_the_dataset_field_is_served(map_url):
  examples = ok(map_url, "/get_dataset", dataset_name="tuning_sft")
  assert len(examples[0]["data"]["query_vector"]) >= 8  # the tiny width
  config = {"dataset_name": "tuning_sft", "model_name": "",
            "field_name": "query_vector", "use_input": True,
            "proj_kw": {"n_components": 3}}
  points = ok(map_url, "/get_interpretations",
              {"inputs": [e["id"] for e in examples], "config": config},
              model="", dataset_name="tuning_sft", interpreter="pca")
  assert len(points) == len(examples) and len(points[0]["z"]) == 3


def test_the_data_map_draws_the_queries_coloured_by_topic(map_url):
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  playwright = sync_playwright().start()
  browser = playwright.chromium.launch(executable_path=browser_ui.CHROMIUM,
                                       args=browser_ui.CHROMIUM_ARGS)
  page = browser.new_page(viewport={"width": 1600, "height": 900})
  page.route("**/*", lambda route: route.continue_()
             if route.request.url.startswith(map_url)
             and route.request.resource_type != "font" else route.abort())
  try:
    page.goto(f"{map_url}/?dataset=tuning_sft&color_by=topic")
    module = page.locator("embeddings-module")
    module.wait_for(timeout=browser_ui.UI_TIMEOUT_S * 1000)
    state = None
    for _ in range(240):
      state = module.evaluate(POINTS_JS)
      if state["points"] and state["canvas"]:
        break
      page.wait_for_timeout(500)
    assert state["points"] == 26, state  # every query, projected
    assert state["legend"] == "topic"
    topics = state["topics"]
    assert len(set(topics)) >= 2 and all(t.startswith("topic ")
                                         for t in topics)
    # One colour per topic, the same for every point of it.
    colour_of = {}
    for topic, colour in zip(topics, state["colours"]):
      assert colour_of.setdefault(topic, colour) == colour
    assert len(set(colour_of.values())) == len(colour_of)
    page.wait_for_timeout(1000)  # the projector's fade-in
    canvas = module.locator("canvas").first
    shot = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
    browser_ui.ARTIFACTS.mkdir(exist_ok=True)
    shot.save(browser_ui.ARTIFACTS / "data-map.png")
    drawn = _drawn_colours(shot, colour_of.values())
    assert len(drawn) >= 2, (drawn, colour_of)  # the topics' colours drawn
  finally:
    browser.close()
    playwright.stop()


def _drawn_colours(image, colours) -> set[str]:
  """The point colours (css rgba strings) found among the image's pixels."""
  wanted = {}
  for css in colours:
    rgb = tuple(int(float(x)) for x in css[css.index("(") + 1:
                                           css.index(")")].split(",")[:3])
    wanted[css] = rgb
  found = set()
  pixels = image.getdata()
  counts = {}
  for pixel in pixels:
    counts[pixel] = counts.get(pixel, 0) + 1
  for css, rgb in wanted.items():
    if any(sum(abs(a - b) for a, b in zip(pixel, rgb)) <= 60 and n >= 4
           for pixel, n in counts.items()):
      found.add(css)
  return found
