"""What of an append is still to come: the relay's marks and a consumer's reading of them."""

from mnemo.bus.appends import matches, rests, still_to_come


def test_each_event_names_what_follows_it_in_its_own_append_only():
    subjects = ["a.fact", "a.end", "a.fact", "b.fact", "b.entity"]
    appends = ["7", "7", "7", "8", "8"]
    assert rests(subjects, appends) == [
        "a.end=1 a.fact=1",
        "a.fact=1",
        None,  # the last of append 7: nothing of append 8 is named
        "b.entity=1",
        None,
    ]


def test_a_consumer_counts_only_the_subjects_its_filters_let_through():
    header = "m.evt.t1.fact.extracted=2 m.evt.t1.memory.recorded=5 m.evt.t2.fact.superseded=1"
    assert still_to_come(header, ["m.evt.*.fact.extracted", "m.evt.*.fact.superseded"]) == 3
    assert still_to_come(header, ["m.evt.t1.>"]) == 7
    assert still_to_come(header, ["m.evt.*.entity.extracted"]) == 0
    assert still_to_come(None, ["m.>"]) == 0
    assert still_to_come("garbled m.x=y =3", ["m.>"]) == 0


def test_nats_wildcards():
    assert matches("m.evt.*.fact", "m.evt.t1.fact")
    assert not matches("m.evt.*.fact", "m.evt.t1.x.fact")
    assert not matches("m.evt.*", "m.evt")
    assert matches("m.>", "m.evt.t1")
    assert not matches("m.>", "m")
    assert not matches("m.evt", "m.evt.t1")
