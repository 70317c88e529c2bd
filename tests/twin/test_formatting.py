"""Numbers as people read them: censored times say 'not reached', never the horizon as a time."""

from twin.formatting import format_event_time, format_interval, percent, short_regimen


def test_event_time_marks_censoring():
    assert format_event_time(312.0, (180.0, 540.0), 0.0, 728) == "312 d (180–540)"
    assert format_event_time(412.0, (180.0, 728.0), 0.2, 728) == "412 d (180–>728)"
    assert format_event_time(728.0, (728.0, 728.0), 1.0, 728) == "not reached by day 728 (100% of draws)"
    assert format_event_time(728.0, (600.0, 728.0), 0.7, 728, compact=True) == "not reached (70%)"
    # exactly half censored: the median is the horizon, not a time
    assert format_event_time(728.0, (300.0, 728.0), 0.5, 728).startswith("not reached by day 728 (50%")


def test_percent_interval_and_short_names():
    assert percent(0.042) == "4.2%" and percent(0.0031) == "0.31%" and percent(float("nan")) == "—"
    assert format_interval(312.4, (180, 540), "day") == "312 d (180–540)"
    assert short_regimen("erlotinib 150 mg daily, adaptive AT50 (hold below 50%, resume at 100%)") == (
        "erlotinib 150 mg daily, adaptive AT50"
    )


def test_penalty_cells_show_a_zero_penalty_as_0_not_minus_0():
    from twin.formatting import penalty_cells

    assert penalty_cells(539.2, 0.0) == ("0", "539")
    assert penalty_cells(539.2, 0.3) == ("0", "539")
    assert penalty_cells(222.0, 457.4) == ("-457", "-235")
