"""Messages are built for translation: a placeholder inside a gettext string (never an f-string),
every label marked, lists joined by the language's own words, and a word used in two senses
(a role and a comparison, "never used" and "never expires") told apart by a context."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import override
from django.utils.translation.template import templatize

from scrm import files
from scrm.errors import InvalidInput
from scrm.services.api_keys import check_scopes

ROOT = Path(settings.BASE_DIR)
# A word translated without a context: {% translate "x" %} (gettext) or a filter argument _("x").
BARE = r"(?:\bgettext|(?<![\w.])_)\(u?['\"]{word}['\"]\)"


def test_a_missing_scope_is_refused_in_the_readers_language(key_client, db):
    client = key_client(scopes=["members:read"])
    english = client.get("/api/v1/orders/")
    assert english.status_code == 403
    assert english.json()["error"]["message"] == "This request needs the scope 'orders:read'."
    chinese = client.get("/api/v1/orders/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert chinese.status_code == 403
    assert chinese.json()["error"]["message"] == "此请求需要权限范围“orders:read”。"


def test_the_western_european_encoding_label_is_marked_for_translation():
    label = files.ENCODINGS["windows-1252"][1]
    assert isinstance(label, Promise)
    assert files.encoding_label("windows-1252") == "Windows-1252 (Western European)"
    assert isinstance(files.encoding_label("windows-1252"), str)


def test_a_list_of_scopes_is_joined_by_the_languages_words(db):
    with override("en"), pytest.raises(InvalidInput) as refused:
        check_scopes(["nope:read", "other:write", "members:read"], store=None)
    assert refused.value.message == "Unknown scope(s): nope:read and other:write"


def _calls(template: str) -> str:
    return templatize((ROOT / template).read_text(), origin=template)


@pytest.mark.parametrize(
    ("template", "context", "word"),
    [
        ("members/segments/templates/segments/_audience_node.html", "comparison in a condition", "Operator"),
        ("scrm/templates/scrm/api_key_list.html", "not used yet", "never"),
        ("loyalty/points/templates/points/member_points.html", "points expiry", "never"),
    ],
)
def test_ambiguous_words_carry_a_context(template, context, word):
    source = _calls(template)
    assert re.search(rf"\bpgettext\(u?'{context}', u?'{word}'\)", source), source[:300]
    assert not re.search(BARE.format(word=word), source)


def test_no_template_uses_never_or_operator_without_a_context():
    bare = []
    for path in ROOT.glob("**/templates/**/*.html"):
        if ".venv" in path.parts or "node_modules" in path.parts:
            continue
        source = templatize(path.read_text(), origin=str(path))
        if re.search(BARE.format(word="(?:never|Never|Operator)"), source):
            bare.append(str(path.relative_to(ROOT)))
    assert not bare
