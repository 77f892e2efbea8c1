"""The lifecycle state machine: the table, the guards, the happy path, reopening and escalation,
returns, follow-ups, and (property tests) that any stream of actions keeps the invariants and that
redelivered events change nothing."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.tracking.appeals.lifecycle import (
    ACTIONS,
    ALLOWED,
    EVENT_ACTIONS,
    Accept,
    Action,
    AppealState,
    Assign,
    Contact,
    Escalation,
    ExtensionRequest,
    FollowUp,
    FollowUpWindowExpired,
    Outcome,
    Progress,
    ReassignmentRequest,
    Refused,
    RequestExtension,
    RequestReassignment,
    RequestReturn,
    Resolve,
    ReturnRejected,
    ReturnRequest,
    StatusChange,
    apply,
    decide,
    invariant_violations,
    transitions,
    transitions_markdown,
)
from shared.vocabulary import AppealStatus, Satisfaction

S = AppealStatus
OFFICER = "off-1"
OTHER = "off-2"


def follow_up(ref: str, solved: bool, satisfaction: Satisfaction) -> FollowUp:
    return FollowUp(ref=ref, contacted=True, solved=solved, satisfaction=satisfaction)


SOLVED = follow_up("fu-ok", True, Satisfaction.SATISFIED)


def run(state: AppealState, *actions: Action) -> AppealState:
    for action in actions:
        state = decide(state, action).state
    return state


def state_in(status: AppealStatus) -> AppealState:
    """A typical state with `status`, reached through the machine itself."""
    assigned = run(AppealState(), Assign(OFFICER))
    accepted = run(assigned, Accept(OFFICER))
    resolved = run(accepted, Contact(OFFICER, "phone"), Resolve(OFFICER, "fixed the drain"))
    return {
        S.RECEIVED: AppealState(),
        S.ASSIGNED: assigned,
        S.ACCEPTED: accepted,
        S.IN_PROGRESS: run(accepted, Progress(OFFICER, "on site")),
        S.RESOLVED: resolved,
        S.CLOSED: run(resolved, SOLVED),
        S.RETURNED: run(accepted, RequestReturn(OFFICER, "not_my_area", "not ours")),
        S.REOPENED: run(resolved, follow_up("fu-bad", False, Satisfaction.UNSATISFIED)),
    }[status]


def example(kind: type) -> Action:
    """An action of each type that passes every guard besides the table (contacted states)."""
    return {
        Assign: Assign(OTHER),
        Accept: Accept(OFFICER),
        Contact: Contact(OFFICER, "visit", "met them"),
        Progress: Progress(OFFICER, "ordered parts"),
        Resolve: Resolve(OFFICER, "done"),
        RequestReturn: RequestReturn(OFFICER, "not_my_area", "a department's"),
        ReturnRejected: ReturnRejected("it is yours"),
        RequestReassignment: RequestReassignment("on_leave", (OFFICER,)),
        RequestExtension: RequestExtension(OFFICER, 3, "waiting for the utility"),
        FollowUp: follow_up("fu-x", True, Satisfaction.BASICALLY_SATISFIED),
        FollowUpWindowExpired: FollowUpWindowExpired(),
    }[kind]


def test_the_states_used_below_have_the_status_they_claim() -> None:
    for status in AppealStatus:
        assert state_in(status).status is status
        assert invariant_violations(state_in(status)) == []


# --- the table ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ACTIONS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("status", list(AppealStatus), ids=str)
def test_every_pair_lands_where_the_table_says_or_is_refused_naming_the_status(
    status: AppealStatus, kind: type
) -> None:
    state = state_in(status)
    if status in (S.ACCEPTED, S.IN_PROGRESS):
        state = run(state, Contact(OFFICER, "phone"))  # so Resolve passes its guard
    action = example(kind)
    if (status, kind) in ALLOWED:
        outcome = decide(state, action)
        assert outcome.state.status in ALLOWED[(status, kind)]
        assert outcome.changed
        (entry,) = outcome.history
        assert (entry.from_status, entry.to_status) == (status, outcome.state.status)
        assert entry.action == kind.__name__
        assert invariant_violations(outcome.state) == []
    else:
        with pytest.raises(Refused) as refused:
            decide(state, action)
        assert str(status) in refused.value.reason
        assert kind.__name__ in refused.value.reason
        assert refused.value.status is status


def test_closed_allows_nothing_and_every_status_is_reachable() -> None:
    assert not [pair for pair in ALLOWED if pair[0] is S.CLOSED]
    targets = {t for ts in ALLOWED.values() for t in ts}
    assert targets | {S.RECEIVED} == set(AppealStatus)


def test_the_table_prints_for_the_readme() -> None:
    rows = list(transitions())
    assert len(rows) == len(ALLOWED)
    text = transitions_markdown()
    assert "| `resolved` | `FollowUp` | `closed`, `reopened`, `resolved` |" in text
    assert text.count("\n") == len(ALLOWED) + 1


def test_refusals_say_why() -> None:
    with pytest.raises(Refused, match="already accepted"):
        decide(state_in(S.ACCEPTED), Accept(OFFICER))
    with pytest.raises(Refused, match="accept it"):
        decide(state_in(S.ASSIGNED), Contact(OFFICER, "phone"))
    with pytest.raises(Refused, match="closed"):
        decide(state_in(S.CLOSED), Assign(OTHER))
    with pytest.raises(Refused, match="already pending"):
        decide(state_in(S.RETURNED), RequestReturn(OFFICER, "x", "y"))
    with pytest.raises(Refused, match="awaits its follow-up"):
        decide(state_in(S.RESOLVED), Resolve(OFFICER, "again"))


# --- the happy path ----------------------------------------------------------------------------


def test_happy_path_from_receipt_to_closure() -> None:
    steps: list[Action] = [
        Assign(OFFICER, "enterprise_cso"),
        Accept(OFFICER),
        Contact(OFFICER, "phone", "called Ms Li"),
        Progress(OFFICER, "dredging booked"),
        Resolve(OFFICER, "lane dredged, water gone"),
        follow_up("fu-1", True, Satisfaction.SATISFIED),
    ]
    state, statuses, changes = AppealState(), [], []
    for step in steps:
        outcome = decide(state, step)
        state = outcome.state
        statuses.append(state.status)
        changes += [e for e in outcome.effects if isinstance(e, StatusChange)]
    assert statuses == [
        S.ASSIGNED,
        S.ACCEPTED,
        S.ACCEPTED,
        S.IN_PROGRESS,
        S.RESOLVED,
        S.CLOSED,
    ]
    assert [(c.from_status, c.to_status) for c in changes] == [
        (S.RECEIVED, S.ASSIGNED),
        (S.ASSIGNED, S.ACCEPTED),
        (S.ACCEPTED, S.IN_PROGRESS),
        (S.IN_PROGRESS, S.RESOLVED),
        (S.RESOLVED, S.CLOSED),
    ]
    assert state.closed_reason == "resolved"
    assert state.resolution == "lane dredged, water gone"
    assert state.officer_id == OFFICER
    assert state.follow_up_attempts == 1


def test_a_contact_is_history_but_no_status_change() -> None:
    outcome = decide(state_in(S.ACCEPTED), Contact(OFFICER, "sms", "sent the plan"))
    assert outcome.state.contacted
    assert outcome.effects == ()
    (entry,) = outcome.history
    assert (entry.by, entry.from_status, entry.to_status) == (OFFICER, S.ACCEPTED, S.ACCEPTED)
    assert entry.note == "sms: sent the plan"


def test_resolving_straight_from_accepted_is_allowed() -> None:
    state = run(state_in(S.ACCEPTED), Contact(OFFICER, "phone"), Resolve(OFFICER, "answered"))
    assert state.status is S.RESOLVED


# --- resolution needs a contact ----------------------------------------------------------------


def test_resolution_without_a_contact_is_refused() -> None:
    with pytest.raises(Refused, match="no contact with the appellant") as refused:
        decide(state_in(S.IN_PROGRESS), Resolve(OFFICER, "done"))
    assert "in_progress" in refused.value.reason


def test_an_anonymous_appeal_resolves_without_a_contact() -> None:
    state = run(AppealState(anonymous=True), Assign(OFFICER), Accept(OFFICER))
    assert run(state, Resolve(OFFICER, "lamp replaced")).status is S.RESOLVED


def test_a_blank_resolution_is_refused() -> None:
    state = run(state_in(S.ACCEPTED), Contact(OFFICER, "phone"))
    with pytest.raises(Refused, match="what was done"):
        decide(state, Resolve(OFFICER, "   "))


def test_a_contact_before_a_reassignment_does_not_count_for_the_new_officer() -> None:
    state = run(state_in(S.ACCEPTED), Contact(OFFICER, "phone"), Assign(OTHER), Accept(OTHER))
    assert not state.contacted
    with pytest.raises(Refused):
        decide(state, Resolve(OTHER, "done"))


# --- follow-ups, reopening, escalation ---------------------------------------------------------


@pytest.mark.parametrize(
    ("solved", "satisfaction", "status"),
    [
        (True, Satisfaction.SATISFIED, S.CLOSED),
        (True, Satisfaction.BASICALLY_SATISFIED, S.CLOSED),
        (True, Satisfaction.UNSATISFIED, S.REOPENED),
        (False, Satisfaction.SATISFIED, S.REOPENED),
        (False, Satisfaction.BASICALLY_SATISFIED, S.REOPENED),
        (False, Satisfaction.UNSATISFIED, S.REOPENED),
        (True, Satisfaction.UNREACHABLE, S.RESOLVED),
        (False, Satisfaction.UNREACHABLE, S.RESOLVED),
    ],
)
def test_follow_up_results(solved: bool, satisfaction: Satisfaction, status: AppealStatus) -> None:
    outcome = decide(state_in(S.RESOLVED), follow_up("fu-1", solved, satisfaction))
    assert outcome.state.status is status
    assert invariant_violations(outcome.state) == []


def test_reopened_goes_back_to_the_same_officer_without_escalation() -> None:
    outcome = decide(state_in(S.RESOLVED), follow_up("fu-1", False, Satisfaction.UNSATISFIED))
    state = outcome.state
    assert (state.status, state.officer_id, state.reopen_count) == (S.REOPENED, OFFICER, 1)
    assert not state.escalated
    assert not state.contacted and state.resolution is None  # a new round
    assert not [e for e in outcome.effects if isinstance(e, Escalation)]


def test_the_second_reopening_is_escalated() -> None:
    bad = Satisfaction.UNSATISFIED
    state = run(
        state_in(S.REOPENED),
        Accept(OFFICER),
        Contact(OFFICER, "visit"),
        Resolve(OFFICER, "second try"),
    )
    outcome = decide(state, follow_up("fu-2", False, bad))
    assert outcome.state.status is S.REOPENED
    assert outcome.state.officer_id == OFFICER
    assert outcome.state.reopen_count == 2 and outcome.state.escalated
    assert Escalation(OFFICER, 2) in outcome.effects
    # The supervisor may then move it elsewhere.
    assert run(outcome.state, Assign(OTHER)).status is S.ASSIGNED


@pytest.mark.parametrize(
    "action",
    [
        Contact(OFFICER, "phone"),
        Progress(OFFICER, "on it"),
        Resolve(OFFICER, "fixed"),
        RequestExtension(OFFICER, 3, "parts"),
    ],
    ids=lambda a: type(a).__name__,
)
def test_a_reopened_appeal_is_accepted_again_before_anything_else(action: Action) -> None:
    # 重办 is new work: its acknowledgement runs again, so nothing is done to it unaccepted.
    with pytest.raises(Refused) as refused:
        decide(state_in(S.REOPENED), action)
    assert "accept it (签收) again first" in refused.value.reason
    assert refused.value.status is S.REOPENED


def test_a_reopened_appeal_can_be_acknowledged_again_and_resolved_after_a_fresh_contact() -> None:
    state = run(state_in(S.REOPENED), Accept(OFFICER))
    assert state.status is S.ACCEPTED
    with pytest.raises(Refused):
        decide(state, Resolve(OFFICER, "fixed now"))
    state = run(state, Contact(OFFICER, "phone"), Resolve(OFFICER, "fixed now"))
    assert run(state, follow_up("fu-2", True, Satisfaction.SATISFIED)).closed_reason == "resolved"


def test_unreachable_is_counted_then_window_expiry_closes_with_no_feedback() -> None:
    state = state_in(S.RESOLVED)
    state = run(state, follow_up("fu-1", True, Satisfaction.UNREACHABLE))
    state = run(state, follow_up("fu-2", False, Satisfaction.UNREACHABLE))
    assert (state.status, state.unreachable_count, state.follow_up_attempts) == (S.RESOLVED, 2, 2)
    outcome = decide(state, FollowUpWindowExpired())
    assert outcome.state.status is S.CLOSED
    assert outcome.state.closed_reason == "no_feedback"
    assert StatusChange(S.RESOLVED, S.CLOSED, OFFICER) in outcome.effects


def test_an_anonymous_appeal_closes_when_the_window_runs_out() -> None:
    state = run(
        AppealState(anonymous=True),
        Assign(OFFICER),
        Accept(OFFICER),
        Resolve(OFFICER, "done"),
        FollowUpWindowExpired(),
    )
    assert (state.status, state.closed_reason) == (S.CLOSED, "no_feedback")


# --- returns, reassignment requests, extensions ------------------------------------------------


def test_a_return_is_published_and_blocks_the_officers_work() -> None:
    outcome = decide(state_in(S.IN_PROGRESS), RequestReturn(OFFICER, "not_my_area", "roads"))
    assert outcome.state.status is S.RETURNED and outcome.state.return_pending
    assert ReturnRequest(OFFICER, "not_my_area", "roads") in outcome.effects
    for action in (Resolve(OFFICER, "x"), Progress(OFFICER), Contact(OFFICER, "phone")):
        with pytest.raises(Refused, match="returned"):
            decide(outcome.state, action)


@pytest.mark.parametrize("before", [S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS, S.REOPENED], ids=str)
def test_a_rejected_return_goes_back_to_the_status_it_had(before: AppealStatus) -> None:
    state = run(state_in(before), RequestReturn(OFFICER, "unclear", "?"))
    state = run(state, ReturnRejected("yours"))
    assert (state.status, state.officer_id, state.return_pending) == (before, OFFICER, False)


def test_an_accepted_return_is_followed_by_a_reassignment() -> None:
    state = run(state_in(S.ACCEPTED), RequestReturn(OFFICER, "not_my_area", "x"), Assign(OTHER))
    assert (state.status, state.officer_id, state.return_pending) == (S.ASSIGNED, OTHER, False)


def test_requests_keep_the_status_and_are_published() -> None:
    outcome = decide(state_in(S.ASSIGNED), RequestReassignment("not_acknowledged", (OFFICER,)))
    assert outcome.state == state_in(S.ASSIGNED)
    assert outcome.effects == (ReassignmentRequest("not_acknowledged", (OFFICER,)),)
    outcome = decide(state_in(S.IN_PROGRESS), RequestExtension(OFFICER, 5, "parts"))
    assert outcome.state.status is S.IN_PROGRESS
    assert outcome.effects == (ExtensionRequest(OFFICER, 5, "parts"),)


# --- idempotence -------------------------------------------------------------------------------


def test_redelivered_events_change_nothing() -> None:
    accepted = state_in(S.ACCEPTED)
    assert decide(accepted, Assign(OFFICER)) == Outcome(accepted)
    returned = state_in(S.RETURNED)
    assert decide(returned, Assign(OFFICER)) == Outcome(returned)  # the return stays pending
    closed = state_in(S.CLOSED)
    assert decide(closed, SOLVED) == Outcome(closed)
    unreachable = follow_up("fu-u", False, Satisfaction.UNREACHABLE)
    once = run(state_in(S.RESOLVED), unreachable)
    assert decide(once, unreachable) == Outcome(once)  # counted once
    with pytest.raises(Refused):
        decide(closed, FollowUpWindowExpired())
    with pytest.raises(Refused):
        decide(run(returned, ReturnRejected()), ReturnRejected())


def test_officers_commands_are_not_repeated_silently() -> None:
    with pytest.raises(Refused):
        decide(state_in(S.ACCEPTED), Accept(OFFICER))
    with pytest.raises(Refused):
        decide(state_in(S.RESOLVED), Resolve(OFFICER, "done"))
    # Notes and contacts are new records each time.
    state = state_in(S.IN_PROGRESS)
    assert decide(state, Progress(OFFICER, "more")).changed


# --- properties --------------------------------------------------------------------------------

officers = st.sampled_from(["a", "b", "c"])
refs = st.sampled_from(["r1", "r2", "r3", "r4", "r5"])
text = st.sampled_from(["", "note", "fixed it"])

events: st.SearchStrategy[Action] = st.one_of(
    st.builds(Assign, officers),
    st.builds(ReturnRejected, text),
    st.builds(FollowUp, refs, st.booleans(), st.booleans(), st.sampled_from(list(Satisfaction))),
    st.builds(FollowUpWindowExpired),
)
actions: st.SearchStrategy[Action] = st.one_of(
    events,
    st.builds(Accept, officers),
    st.builds(Contact, officers, st.sampled_from(["phone", "visit", "sms"]), text),
    st.builds(Progress, officers, text),
    st.builds(Resolve, officers, text),
    st.builds(RequestReturn, officers, st.just("not_my_area"), text),
    st.builds(RequestReassignment, st.just("on_leave")),
    st.builds(RequestExtension, officers, st.integers(1, 10), text),
)
# Steps that move an appeal along, drawn more often so that sequences reach resolution,
# follow-ups, reopening and escalation rather than wandering around `assigned`.
forward: st.SearchStrategy[Action] = st.one_of(
    st.just(Accept("a")),
    st.just(Contact("a", "phone")),
    st.just(Progress("a", "working")),
    st.just(Resolve("a", "done")),
    st.just(ReturnRejected()),
    st.builds(
        FollowUp,
        st.integers(0, 10**6).map(str),  # mostly fresh refs: new call-backs
        st.just(True),
        st.booleans(),
        st.sampled_from(list(Satisfaction)),
    ),
)
step = st.sampled_from([actions, *[forward] * 5]).flatmap(lambda s: s)
# From an assigned appeal (the table test covers `received`).
steps_strategy = st.lists(step, min_size=20, max_size=50).map(lambda rest: [Assign("a"), *rest])


@settings(max_examples=200, deadline=None)
@given(anonymous=st.booleans(), steps=steps_strategy)
def test_any_sequence_of_actions_keeps_the_invariants(anonymous: bool, steps: list) -> None:
    state = AppealState(anonymous=anonymous)
    for action in steps:
        try:
            outcome = decide(state, action)
        except Refused as refused:
            assert refused.reason and str(state.status) in refused.reason
            continue
        if outcome.changed:
            assert outcome.state.status in ALLOWED[(state.status, type(action))]
        else:
            assert outcome.state == state and outcome.effects == ()
        changes = [e for e in outcome.effects if isinstance(e, StatusChange)]
        assert len(changes) == (outcome.state.status is not state.status)
        state = outcome.state
        assert state.status in AppealStatus
        assert invariant_violations(state) == []
        assert state.anonymous is anonymous


@settings(max_examples=200, deadline=None)
@given(anonymous=st.booleans(), steps=steps_strategy, event=events)
def test_an_event_applied_twice_is_the_same_as_once(
    anonymous: bool, steps: list, event: Action
) -> None:
    assert isinstance(event, EVENT_ACTIONS)
    state = AppealState(anonymous=anonymous)
    for action in steps:
        state = apply(state, action)
    once = apply(state, event)
    assert apply(once, event) == once
    # The second delivery neither records nor publishes anything.
    try:
        again = decide(once, event)
    except Refused:
        return
    assert not again.changed and not again.effects
