"""The routing file is checked as a whole: a typo is an error naming the file, key path and line,
never a silent change of who gets which lead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.pipeline import build_features
from serving.routing import (
    DEFAULT_ROUTING_FILE,
    ROUTABLE_FIELDS,
    RoutingConfig,
    grades_of,
    load_routing,
    route_columns,
    route_lead,
    score_cutoff,
)
from tests.factories import make_crm

SHIPPED = DEFAULT_ROUTING_FILE.read_text(encoding="utf-8")
CATCH_ALL = "  - team: International\n    when: {}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(ValueError) as error:
        load_routing(write(tmp_path, text))
    message = str(error.value)
    assert str(tmp_path / "routing.yaml") in message
    assert "pydantic" not in message
    return message


def edited(old: str, new: str) -> str:
    assert old in SHIPPED, old
    return SHIPPED.replace(old, new, 1)


def config(**rules: object) -> RoutingConfig:
    return RoutingConfig.model_validate(rules)


def test_the_shipped_file_loads_with_a_catch_all_team_last() -> None:
    routing = load_routing()
    assert routing.teams[-1].when == {}
    assert routing.teams[-1].team == "International"
    for rules in (routing.hand_raisers, routing.no_consent):
        assert rules.types() == ["demo_request", "form_submit"]
        assert "Rückruf anfordern" in rules.sales_if_any[1].assets  # not the newsletter form
        assert rules.within_days == 30


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (
            "review_flags:",
            "review_flag:",
            "review_flag: unknown key 'review_flag' (did you",
        ),
        ("tracks:", "trakcs:", "trakcs: unknown key 'trakcs' (did you mean 'tracks'?)"),
        ("sales_if_any", "sales_if_anyy", "hand_raisers.sales_if_anyy: unknown key"),
        ("    when: {region: [DACH]}", "    wehn: {region: [DACH]}", "teams.2.wehn: unknown key"),
        ("{region: [DACH]}", "{countrycode: [DE]}", "teams.2.when.countrycode: a rule cannot read"),
        ("  analytics:", "  analytic:", "tracks.analytic: unknown interest field 'analytic'"),
        ("- demo_request", "- demo_reqest", "hand_raisers.sales_if_any.0: unknown activity type"),
        ("assets: [Kontakt", "asset: [Kontakt", "hand_raisers.sales_if_any.1.asset: unknown key"),
        (
            "  - email_invalid",
            "  - email_invalidd",
            "review_flags.3: unknown flag 'email_invalidd'",
        ),
    ],
)
def test_a_typo_is_an_error_naming_the_key_path_and_line(
    tmp_path: Path, old: str, new: str, where: str
) -> None:
    message = refusal(tmp_path, edited(old, new))
    assert where in message
    assert "line " in message


def test_an_unknown_field_names_the_fields_a_rule_can_read(tmp_path: Path) -> None:
    message = refusal(tmp_path, edited("{region: [DACH]}", "{countrycode: [DE]}"))
    line = SHIPPED.splitlines().index("    when: {region: [DACH]}") + 1
    assert f"line {line}, teams.2.when.countrycode" in message
    assert "did you mean 'country_code'?" in message
    assert "employees" in message and "size_band" in message and "custom.fields" in message


def test_a_field_of_ones_own_is_read_once_declared() -> None:
    teams = [{"team": "Leads", "when": {"Lead Source": ["Google"]}}, {"team": "Rest"}]
    routing = config(teams=teams, custom={"fields": ["Lead Source"]})
    assert route_lead({"Lead Source": "Google"}, "A", [], routing).team == "Leads"
    with pytest.raises(ValueError, match="cannot read 'Lead Source'"):
        config(teams=teams)


def test_the_fields_a_rule_can_read_are_those_the_scorer_hands_it() -> None:
    from serving.scorer import CONTEXT

    crm = make_crm([{"lead_id": "L1", "created_at": "2025-01-01", "country": "Germany"}])
    features = build_features(crm, as_of=pd.Timestamp("2025-02-01"))
    # consent has rules of its own (no_consent)
    handed = set(features.columns) - {"lead_id", "as_of", "person_id", "consent_profiling"}
    assert handed | set(CONTEXT) == ROUTABLE_FIELDS


@pytest.mark.parametrize(
    ("grades", "message"),
    [
        ("{A: 1.5}", "grades.A: a cut-off is a probability from 0 to 1, not 1.5"),
        ("{A: -0.2}", "grades.A: a cut-off is a probability from 0 to 1, not -0.2"),
        ("{A: 0.05, B: 0.3}", "grades.B: B's cut-off 0.3 must be below A's 0.05"),
        ("{A: 0.3, C: 0.3}", "grades.C: C's cut-off 0.3 must be below A's 0.3"),
        ("{AA: 0.3}", "grades.AA: Input should be 'A', 'B' or 'C' (got 'AA')"),
    ],
)
def test_grade_cut_offs_are_probabilities_from_a_down_to_c(
    tmp_path: Path, grades: str, message: str
) -> None:
    assert message in refusal(tmp_path, edited("grades: {}", f"grades: {grades}"))


def test_cut_offs_given_in_order_load(tmp_path: Path) -> None:
    routing = load_routing(write(tmp_path, edited("grades: {}", "grades: {A: 0.4, C: 0.1}")))
    assert routing.cutoffs({"A": 0.5, "B": 0.2, "C": 0.05}) == {"A": 0.4, "B": 0.2, "C": 0.1}
    # the ends are decisions, not typos: no lead is an A, every lead is at least a C
    ends = config(grades={"A": 1.0, "C": 0})
    assert ends.cutoffs({"A": 0.5, "B": 0.2, "C": 0.05}) == {"A": 1.0, "B": 0.2, "C": 0.0}


def test_activity_types_are_read_in_any_spelling_and_a_crms_own_once_declared() -> None:
    routing = config(no_consent={"sales_if_any": ["Demo Request", "pricing-page-view"]})
    assert routing.no_consent.types() == ["demo_request", "pricing_page_view"]
    assert route_lead({}, None, [], routing, ["demo_request"]).action == "sales"
    with pytest.raises(ValueError, match=r"'demo_reqest' .did you mean 'demo_request'.*custom"):
        config(no_consent={"sales_if_any": ["demo_reqest"]})
    own = config(
        no_consent={"sales_if_any": ["Trial Signup"]}, custom={"activity_types": ["Trial Signup"]}
    )
    assert route_lead({}, None, [], own, ["Trial Signup"]).action == "sales"


def test_a_topic_of_ones_own_has_a_track_once_declared() -> None:
    tracks = {"webinars": "Webinar series", "default": "General"}
    routing = config(tracks=tracks, custom={"interest_fields": ["webinars"]})
    assert route_lead({"interest_field": "webinars"}, "D", [], routing).track == "Webinar series"
    with pytest.raises(ValueError, match="unknown interest field 'webinars'"):
        config(tracks=tracks)


NUMBER_TEAMS = [
    {"team": "Exactly 200", "when": {"employees": [200]}},
    {"team": "Mid", "when": {"employees": {"min": 250, "max": "999"}}},
    {"team": "Big", "when": {"employees": {"min": 1000}}},
    {"team": "Rest"},
]


@pytest.mark.parametrize(
    ("employees", "team"),
    [
        (200.0, "Exactly 200"),
        (200, "Exactly 200"),
        ("200", "Exactly 200"),
        (np.float64(250.0), "Mid"),
        (999.0, "Mid"),
        (999.5, "Rest"),
        (1000.0, "Big"),
        (np.nan, "Rest"),
        (None, "Rest"),
        ("many", "Rest"),
    ],
)
def test_numbers_compare_as_numbers_and_ranges_include_both_ends(
    employees: object, team: str
) -> None:
    routing = config(teams=NUMBER_TEAMS)
    assert route_lead({"employees": employees}, "A", [], routing).team == team
    batch = route_columns(
        {"employees": np.array([employees], dtype=object)}, ["A"], [[]], routing, [[]]
    )
    assert batch[0][1] == team


def test_a_rule_on_employees_matches_a_crm_lead_scored_for_real() -> None:
    """The CRM's employees reach routing as floats (200.0): "200" in the file still matches."""
    from serving.scorer import CONTEXT

    crm = make_crm(
        [
            {"lead_id": "L1", "created_at": "2025-01-01", "employees": 200, "country": "Germany"},
            {"lead_id": "L2", "created_at": "2025-01-01", "employees": 20, "country": "Germany"},
        ]
    )
    features = build_features(crm, as_of=pd.Timestamp("2025-02-01"))
    lead = {name: features[name].to_numpy() for name in features.columns}
    lead |= {c: crm.leads[c].to_numpy(object) for c in CONTEXT if c in crm.leads}
    routing = config(
        teams=[
            {"team": "Two hundred", "when": {"employees": ["200"], "country_code": ["DE"]}},
            {"team": "Rest"},
        ]
    )
    routes = route_columns(lead, ["A", "A"], [[], []], routing, [[], []])
    assert [team for _, team, _, _ in routes] == ["Two hundred", "Rest"]


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("{country_code: {min: 1}}", "country_code is not a number: list its values"),
        ("{employees: {min: 500, max: 100}}", "min 500 is above max 100"),
        ("{employees: {minimum: 500}}", "employees.minimum: unknown key 'minimum'"),
        ("{employees: {}}", "a range needs min and/or max"),
        ("{employees: []}", "an empty list matches no lead"),
        ("{employees: 200}", "give a list of values ([DE, AT]) or a range"),
        ("{country_code: [NO]}", "put the value in quotes ('NO'"),
    ],
)
def test_a_condition_that_can_never_match_is_an_error(
    tmp_path: Path, when: str, message: str
) -> None:
    text = refusal(tmp_path, edited("{region: [DACH]}", when))
    assert message in text
    assert "teams.2.when." in text


def test_a_lead_no_rule_matches_always_has_a_team(tmp_path: Path) -> None:
    without = refusal(tmp_path, edited(CATCH_ALL, ""))
    assert "teams.2: the last rule needs no `when`" in without
    assert "teams: no team" in refusal(tmp_path, "teams: []\n")
    early = refusal(
        tmp_path, edited("  - team: Enterprise\n", CATCH_ALL + "  - team: Enterprise\n")
    )
    assert "teams.0: International takes every lead, so the rules after it never match" in early


def test_an_empty_or_shapeless_file_is_an_error_naming_it(tmp_path: Path) -> None:
    assert "is empty" in refusal(tmp_path, "")
    assert "is empty" in refusal(tmp_path, "# all commented out\n")
    assert "not a list" in refusal(tmp_path, "- teams\n")
    with pytest.raises(ValueError, match="not found"):
        load_routing(tmp_path / "missing.yaml")


def test_a_key_given_twice_is_an_error(tmp_path: Path) -> None:
    message = refusal(tmp_path, SHIPPED + "\ngrades: {A: 0.3}\n")
    assert "grades: given twice (lines" in message


def test_every_problem_is_listed_one_a_line(tmp_path: Path) -> None:
    text = edited("review_flags:", "review_flag:").replace("tracks:", "trakcs:")
    message = refusal(tmp_path, text)
    assert "(2 problems):" in message
    assert len(message.splitlines()) == 3


def test_a_review_says_why_in_words_not_flag_names() -> None:
    routing = load_routing()
    flags = ["name_placeholder", "email_invalid"]
    assert route_lead({}, "A", flags, routing, None, "en").why == (
        "quality flags need a person: placeholder name; invalid email address"
    )
    assert route_lead({}, "A", flags, routing, None, "de").why == (
        "Qualitätshinweise brauchen einen Menschen: Platzhaltername; ungültige E-Mail-Adresse"
    )


@given(
    st.lists(st.floats(0, 1), min_size=1, max_size=50),
    st.lists(st.floats(0, 1), min_size=3, max_size=3).map(sorted),
)
def test_one_score_has_one_grade_and_a_higher_score_no_worse_grade(
    probabilities: list[float], cuts: list[float]
) -> None:
    """Sales sort by score: 'two leads with score 6, grades B and C' made the list unreadable."""
    scores = np.rint(np.array(probabilities) * 100).astype(int)
    cutoffs = {"C": cuts[0], "B": cuts[1], "A": cuts[2]}
    grades = grades_of(scores, cutoffs)
    rank = {"A": 0, "B": 1, "C": 2, "D": 3}
    for score, grade in zip(scores, grades, strict=True):
        assert set(grades[scores == score]) == {grade}
        assert all(rank[g] >= rank[grade] for g in grades[scores < score])
        reached = [
            g
            for g in ("A", "B", "C")
            if cutoffs[g] < 1 and score >= np.ceil(round(cutoffs[g] * 100, 9))
        ]
        assert grade == (reached[0] if reached else "D")


def test_a_cut_off_is_the_whole_score_it_rounds_up_to() -> None:
    assert [score_cutoff(p) for p in (0.556, 0.3, 0.07, 0.0, 1.0)] == [56, 30, 7, 0, 100]
    assert list(grades_of(np.array([55, 56, 30, 29]), {"A": 0.556, "B": 0.3, "C": 0.29})) == [
        "B", "A", "B", "C",
    ]  # fmt: skip
    # a cut-off of 1 is "no lead gets the grade", also a lead whose probability reads 100
    assert list(grades_of(np.array([100]), {"A": 1.0, "B": 0.5, "C": 0.1})) == ["B"]


def test_a_lead_who_asks_for_contact_goes_to_sales_whatever_its_grade() -> None:
    """A demo request or a contact form is a hand-raiser; a newsletter form is not one."""
    routing = load_routing()
    types = np.array(["demo_request", "form_submit", "form_submit", "page_view"], dtype=object)
    assets = np.array([None, "Rückruf anfordern", "Newsletter-Anmeldung", None], dtype=object)
    ages = np.array([40.0, 3.0, 1.0, 0.5])
    assert routing.hand_raisers.asked(types, assets, ages) == ["form_submit"]  # 40 days: old
    assert routing.hand_raisers.asked(types[2:], assets[2:], ages[2:]) == []
    typed = np.array(["rückruf ANFORDERN"], dtype=object)  # as a CRM user typed it
    assert routing.hand_raisers.asked(types[1:2], typed, ages[1:2]) == ["form_submit"]
    route = route_lead({"region": "DACH"}, "C", [], routing, ["form_submit"])
    assert (route.action, route.team) == ("sales", "DACH-Süd")
    assert route.why == "asked for contact: a form (grade C)"
    german = route_lead({"region": "DACH"}, "C", [], routing, ["form_submit"], "de")
    assert german.why.startswith("bittet um Kontakt:") and german.why.endswith("(Note C)")
    assert route_lead({"region": "DACH"}, "C", [], routing, []).action == "nurture"
    flagged = route_lead({"region": "DACH"}, "C", ["email_invalid"], routing, ["demo_request"])
    assert flagged.action == "review"  # a person checks the contact data first
    assert flagged.why.endswith("; asked for contact: a demo request")  # ... and calls back
