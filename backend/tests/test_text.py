from skillpulse_ingest.text import to_plain_text


def test_html_tags_attributes_and_tracking_pixels_go():
    html = ('<p style="color:red" class="python">Own our <b>Go</b>&nbsp;APIs.</p><!-- java -->'
            '<script>var react=1</script><img src="https://remotive.com/track/blank.gif" alt=""/>')
    assert to_plain_text(html) == "Own our Go APIs."


def test_entity_escaped_html_is_unescaped_then_stripped():
    assert to_plain_text("&lt;p&gt;Rust &amp;amp; C&lt;/p&gt;") == "Rust & C"


def test_list_items_keep_their_own_lines():
    assert to_plain_text("<ul><li>Python</li><li>SQL</li></ul>").splitlines() == ["- Python", "- SQL"]


def test_markdown_links_keep_text_and_drop_targets():
    md = "See [our stack](https://example.com/kafka) ![logo](img/react.png) or mail jobs@scala.io"
    assert to_plain_text(md) == "See our stack or mail"


def test_invisible_characters_and_nfkc():
    assert to_plain_text("Py\u200bthon\u00a0and\u00adSQL ＳＱＬ") == "Python andSQL SQL"
