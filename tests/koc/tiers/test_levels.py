"""The ladder is saved whole: gaps, repeats, overlaps, repeated names and removing a held level are
refused with the level named, and nothing changes; brand-wide actors only."""

from __future__ import annotations

import pytest

from koc.models import Level
from koc.services import levels
from scrm.errors import Forbidden, InvalidInput


def _rows():
    return list(Level.objects.order_by("rank").values_list("rank", "name", "min_posts", "min_viral",
                                                         "min_interactions"))


def _ladder(*specs):
    return [{"rank": r, "name": n, "min_posts": p, "min_viral": v, "min_interactions": i}
            for r, n, p, v, i in specs]


def test_an_operator_saves_a_ladder_and_edits_it_in_place(alice):
    saved = levels.save_ladder(actor=alice, levels=_ladder((1, "Junior", 1, 0, 0), (2, "Senior", 10, 2, 5000)))
    assert [lv.name for lv in saved] == ["Junior", "Senior"]
    junior, senior = saved
    # Swap nothing but insert a middle level and rename the top: ids are kept, ranks may move.
    saved = levels.save_ladder(actor=alice, levels=[
        {"id": junior.pk, "rank": 1, "name": "Junior", "min_posts": 1},
        {"rank": 2, "name": "Intermediate", "min_posts": 5, "min_interactions": 1000},
        {"id": senior.pk, "rank": 3, "name": "Star", "min_posts": 10, "min_viral": 2, "min_interactions": 5000},
    ])
    assert [(lv.pk == senior.pk, lv.rank, lv.name) for lv in saved][2] == (True, 3, "Star")
    assert levels.ladder()[0].pk == junior.pk and len(levels.ladder()) == 3


def test_ranks_may_be_swapped_in_one_save(alice):
    a, b = levels.save_ladder(actor=alice, levels=_ladder((1, "A", 1, 0, 0), (2, "B", 5, 0, 0)))
    levels.save_ladder(actor=alice, levels=[{"id": b.pk, "rank": 1, "name": "B", "min_posts": 1},
                                            {"id": a.pk, "rank": 2, "name": "A", "min_posts": 5}])
    assert _rows() == [(1, "B", 1, 0, 0), (2, "A", 5, 0, 0)]


@pytest.mark.parametrize(("specs", "key", "words"), [
    (((1, "A", 1, 0, 0), (3, "C", 5, 0, 0)), "levels", "rank 2 is missing"),
    (((1, "A", 1, 0, 0), (1, "B", 5, 0, 0)), "levels[1].rank", "used twice"),
    (((1, "A", 5, 0, 0), (2, "B", 5, 0, 0)), "levels[1].rank", "overlap"),
    (((1, "A", 5, 0, 100), (2, "B", 10, 0, 50)), "levels[1].min_interactions", "fewer weighted interactions"),
    (((1, "A", 1, 0, 0), (2, "a", 5, 0, 0)), "levels[1].name", "unique"),
    (((1, "A", -1, 0, 0),), "levels[0].min_posts", "Between"),
])
def test_a_bad_ladder_is_refused_naming_the_level_and_nothing_changes(alice, specs, key, words):
    levels.save_ladder(actor=alice, levels=_ladder((1, "Base", 0, 0, 0)))
    before = _rows()
    with pytest.raises(InvalidInput) as caught:
        levels.save_ladder(actor=alice, levels=_ladder(*specs))
    assert key in caught.value.details, caught.value.details
    assert any(words in message for message in caught.value.details[key]), caught.value.details
    assert _rows() == before


def test_the_overlap_message_states_the_rule(alice):
    with pytest.raises(InvalidInput) as caught:
        levels.save_ladder(actor=alice, levels=_ladder((1, "Junior", 5, 1, 0), (2, "Senior", 5, 1, 0)))
    message = caught.value.details["levels[1].rank"][0]
    assert "“Senior”" in message and "“Junior”" in message
    assert "at least as much in every minimum and more in at least one" in message


def test_removing_a_level_creators_hold_is_refused_with_how_many(alice, make_creator, members):
    junior, senior = levels.save_ladder(actor=alice, levels=_ladder((1, "Junior", 1, 0, 0), (2, "Senior", 9, 0, 0)))
    make_creator(members[0][0], level=senior)
    make_creator(members[0][1], level=senior)
    before = _rows()
    with pytest.raises(InvalidInput) as caught:
        levels.save_ladder(actor=alice, levels=[{"id": junior.pk, "rank": 1, "name": "Junior", "min_posts": 1}])
    assert "“Senior” cannot be removed: 2 creators hold it" in caught.value.details["levels"][0]
    assert _rows() == before
    # A level nobody holds goes.
    levels.save_ladder(actor=alice, levels=[{"id": junior.pk, "rank": 1, "name": "Junior", "min_posts": 1},
                                            {"id": senior.pk, "rank": 2, "name": "Senior", "min_posts": 9},
                                            {"rank": 3, "name": "Star", "min_posts": 20}])
    star = Level.objects.get(name="Star")
    levels.save_ladder(actor=alice, levels=[{"id": junior.pk, "rank": 1, "name": "Junior", "min_posts": 1},
                                            {"id": senior.pk, "rank": 2, "name": "Senior", "min_posts": 9}])
    assert not Level.objects.filter(pk=star.pk).exists()


def test_only_brand_wide_actors_save_the_ladder(bob, carol):
    for actor in (bob, carol):
        with pytest.raises(Forbidden):
            levels.save_ladder(actor=actor, levels=_ladder((1, "A", 1, 0, 0)))
    assert Level.objects.count() == 0


def test_what_the_next_level_needs(ladder, make_creator, members):
    junior, intermediate, _senior = ladder
    creator = make_creator(level=junior, window_posts=4, window_viral=0, window_interactions=1500)
    needs = levels.next_level_needs(creator)
    assert needs.next == intermediate
    assert [(n.minimum, n.have, n.need, n.missing) for n in needs.needs] == [
        ("min_posts", 4, 10, 6), ("min_viral", 0, 0, 0), ("min_interactions", 1500, 1000, 0)]
    top = make_creator(members[0][1], level=ladder[2])
    assert levels.next_level_needs(top).at_top
    newcomer = make_creator(members[0][2])
    assert levels.next_level_needs(newcomer).next == junior
