"""The one offline HTML page every report is built as (html_page.py): what
a reader of a saved report depends on is that it opens anywhere, offline,
and that text from a data file shows as text, never as markup."""

import re

from lit_gemma import html_page
from lit_gemma.tuning import hygiene
from lit_gemma.tuning import report as hygiene_report

EXTERNAL = re.compile(r"https?://|//[a-z]|src=|url\(|@import|<script", re.I)


def test_a_page_escapes_text_and_loads_nothing():
  hostile = "<i onmouseover=\"x\">hi</i> & \"q\""
  page = html_page.page(
      f"report of {hostile}",
      html_page.section(hostile)
      + html_page.table(["a", hostile], [[1, hostile], ["<b>", 2.5]])
      + html_page.paragraph(hostile, "<span>kept</span>")
      + html_page.preformatted([hostile, "  aligned"]),
      heading="a heading")
  assert page.startswith("<!DOCTYPE html>") and page.count("<html") == 1
  assert "<title>report of &lt;i onmouseover" in page
  assert "<h1 style=\"font-size:18px\">a heading</h1>" in page
  assert "<i " not in page and "<b>" not in page
  assert page.count("&lt;i onmouseover=&quot;x&quot;&gt;hi&lt;/i&gt; &amp; "
                    "&quot;q&quot;") == 6
  assert "<span>kept</span>" in page  # markup given as markup stays
  assert "\n  aligned</pre>" in page
  assert not EXTERNAL.search(page)


def test_the_hygiene_report_is_such_a_page(tmp_path):
  data = tmp_path / "<set>.jsonl"
  data.write_text('{"query": "How do I bake bread?", "response": "Knead."}\n'
                  '{"query": "Is the sky blue?", "response": "Yes."}\n')
  report = hygiene.build(str(data), [])  # Text checks only (no model).
  report["dataset"] = "<set>.jsonl"
  page = hygiene_report.to_html(report)
  assert page.startswith("<!DOCTYPE html>")
  assert "<title>Hygiene of &lt;set&gt;.jsonl</title>" in page
  assert "Hygiene of &lt;set&gt;.jsonl (2 queries)</h1>" in page
  assert "Near duplicates: not computed (no model)</h2>" in page
  assert not EXTERNAL.search(page)
