from datetime import UTC, datetime, timedelta

from jobs.digest.figures import Insight
from jobs.digest.insights import AlertRecord, decide_alerts

T = datetime(2026, 4, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)
KEY = ("build", "duration")


def slow_build() -> Insight:
    return Insight(
        job="build",
        metric="duration",
        severity="warning",
        headline="build got slower",
        text="build: slow",
        numbers={},
    )


class Store:
    """The AlertState table, as far as these tests need it."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], AlertRecord] = {}

    def step(self, now: datetime, alerting: bool, cooldown: timedelta = DAY) -> list[str]:
        insights = [slow_build()] if alerting else []
        decision = decide_alerts(insights, [KEY], list(self.rows.values()), now, cooldown)
        for record in decision.updates:
            self.rows[(record.job, record.metric)] = record
        return [post.kind for post in decision.posts]


def test_first_alert_is_posted_and_recorded() -> None:
    store = Store()
    assert store.step(T, alerting=True) == ["alert"]
    record = store.rows[KEY]
    assert (record.state, record.changed_at, record.last_posted_at) == ("alert", T, T)
    assert record.detail == "build: slow"


def test_a_standing_alert_is_not_reposted_and_not_rewritten() -> None:
    store = Store()
    store.step(T, alerting=True)
    decision = decide_alerts([slow_build()], [KEY], list(store.rows.values()), T + 3 * DAY, DAY)
    assert decision.posts == []
    assert decision.updates == []


def test_recovery_of_a_posted_alert_is_posted() -> None:
    store = Store()
    store.step(T, alerting=True)
    assert store.step(T + 2 * DAY, alerting=False) == ["recovered"]
    assert store.rows[KEY].state == "ok"


def test_flapping_within_the_cooldown_is_not_reposted() -> None:
    store = Store()
    hours = timedelta(hours=1)
    kinds = [
        store.step(T, alerting=True),
        store.step(T + 6 * hours, alerting=False),
        store.step(T + 12 * hours, alerting=True),  # within a day of the last post
        store.step(T + 18 * hours, alerting=False),  # that alert was never shown
        store.step(T + 2 * DAY, alerting=True),
    ]
    assert kinds == [["alert"], ["recovered"], [], [], ["alert"]]


def test_an_alert_held_back_by_the_cooldown_is_posted_once_it_has_passed() -> None:
    store = Store()
    store.step(T, alerting=True)
    store.step(T + timedelta(hours=2), alerting=False)
    assert store.step(T + timedelta(hours=4), alerting=True) == []
    assert store.step(T + timedelta(hours=30), alerting=True) == ["alert"]
    assert store.step(T + timedelta(hours=40), alerting=True) == []


def test_a_pair_that_was_not_checked_keeps_its_alert() -> None:
    standing = AlertRecord("build", "duration", "alert", changed_at=T, last_posted_at=T)
    decision = decide_alerts([], [], [standing], T + 2 * DAY, DAY)
    assert (decision.updates, decision.posts) == ([], [])
