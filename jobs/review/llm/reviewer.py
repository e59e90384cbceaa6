"""A reviewer backed by any OpenAI-compatible chat-completions endpoint.

Every reviewable file is reviewed: the diff is planned into calls that fit the
model's context (jobs.review.llm.sizing), a call whose answer is cut short is retried
on a smaller piece, and what still cannot be reviewed is returned as
`not_reviewed` with the reason. Prompt sizes use a per-model calibration learnt
from the `usage` the server reports.

Up to `[reviewer.llm] parallel` calls are in flight at once (jobs.review.llm.fanout),
fewer while the server answers 429 or 503 (jobs.review.llm.gate). The result is the
one calls made one at a time would give: every piece is sized with the calibration
the review started with, and what each call teaches it is learnt at the end in the
pieces' order, so findings, notes and token sums never depend on which answer came
first.

Synchronous on purpose: the caller runs it off the event loop. Each HTTP call,
its deadline and its retries are jobs.review.llm.call's.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from jobs.config.schema import LlmReviewerConfig
from jobs.review.budget import CALL_FAILED, CUT_SHORT, HUNK_TOO_LARGE, SkippedFile
from jobs.review.diff import FileDiff
from jobs.review.finding import Finding
from jobs.review.llm.answer import ends_early, keep_in_diff, parse_findings, parse_keep_ids
from jobs.review.llm.call import Answer, ChatEndpoint, PromptTooLarge
from jobs.review.llm.fanout import fan_out
from jobs.review.llm.gate import Gate
from jobs.review.llm.prompt import (
    PROMPT_VERSION,
    Message,
    critique_messages,
    refine_messages,
    review_messages,
)
from jobs.review.llm.sizing import PromptSizer, files_at, full_tree_tokens
from jobs.review.llm.split import Piece, halves
from jobs.review.reviewers import ReviewerError, ReviewerOutput, ReviewInput, reviewer_fingerprint
from jobs.review.tokens import Calibration, estimate_message_tokens

UNLIMITED_TOKENS = 10**12


class CalibrationStore(Protocol):
    def load(self, model: str) -> Calibration: ...

    def save(self, learnt: Calibration, since: Calibration) -> None: ...


@dataclass
class _Tally:
    """What one piece's calls, or a whole review's, add up to."""

    answers: list[Answer] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    dropped: int = 0
    not_reviewed: dict[str, str] = field(default_factory=dict)  # path → reason
    notes: Counter[str] = field(default_factory=Counter)
    extra_notes: list[str] = field(default_factory=list)
    pieces_reviewed: int = 0
    # (estimated, reported) prompt tokens of each call that taught the calibration.
    learnt: list[tuple[int, int]] = field(default_factory=list)
    smaller: list[Piece] | None = None  # review these instead of the piece
    error: ReviewerError | None = None  # the piece's call that failed

    def add(self, piece: _Tally) -> None:
        self.answers += piece.answers
        self.findings += piece.findings
        self.dropped += piece.dropped
        for path, reason in piece.not_reviewed.items():
            self.not_reviewed.setdefault(path, reason)
        self.notes.update(piece.notes)
        self.pieces_reviewed += piece.pieces_reviewed
        self.learnt += piece.learnt


class LlmReviewer:
    kind = "llm"

    def __init__(
        self,
        config: LlmReviewerConfig | None = None,
        api_key: str | None = None,
        *,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        calibrations: CalibrationStore | None = None,
    ) -> None:
        self.config = config or LlmReviewerConfig()
        self._api_key = api_key
        self._backoff_s = backoff_s
        self._sleep = sleep  # between retries; tests record the wait instead
        self._calibrations = calibrations
        self.calibration = Calibration(self.config.model)
        self._saved = self.calibration  # what the store holds, as far as we know
        self._loaded = False

    def __repr__(self) -> str:  # never show the key
        return f"LlmReviewer(model={self.config.model!r}, base_url={self.config.base_url!r})"

    def fingerprint(self) -> str:
        c = self.config
        options = {
            "prompt": PROMPT_VERSION,
            "passes": c.passes,
            "temperature": c.temperature,
            "context_tokens": c.context_tokens,
            "answer_tokens": c.answer_tokens,
        }
        return reviewer_fingerprint(self.kind, c.model, options)

    def budget_tokens(self) -> int:
        return UNLIMITED_TOKENS  # this reviewer splits the diff across calls itself

    def sizer(self) -> PromptSizer:
        if not self._loaded and self._calibrations is not None:
            self.calibration = self._calibrations.load(self.config.model)
            self._saved = self.calibration
        self._loaded = True
        return PromptSizer(self.config, self.calibration)

    def full_tree_tokens(self, review_input: ReviewInput) -> int:
        """Prompt tokens a full review of the input's commit would send (review pass)."""
        return full_tree_tokens(review_input.repo, review_input.head_sha, self.sizer())

    def planned_tokens(self, review_input: ReviewInput) -> int:
        """Prompt tokens the review pass of this input will send, planned before any call
        (what a budget is checked against; critique and refine passes come on top)."""
        files = self._with_carried(review_input)
        if not files:
            return 0
        sizer = self.sizer()
        return sizer.review_tokens(sizer.plan(files, review_input.packed))

    def review(self, review_input: ReviewInput) -> ReviewerOutput:
        """Each planned piece: pass 1 finds; pass 2 (critique) drops weak findings;
        pass 3 refines them. Tokens and latency are summed over every call."""
        files = self._with_carried(review_input)
        if not files:
            return ReviewerOutput(model=self.config.model, not_reviewed=[])
        sizer = self.sizer()  # one calibration for the whole review: see the docstring
        plan = sizer.plan(files, review_input.packed)
        tally = _Tally()
        for part in plan.too_large:
            tally.not_reviewed.setdefault(part.path, HUNK_TOO_LARGE)
        gate = Gate(self.config.parallel)
        with ChatEndpoint(
            self.config, self._api_key, backoff_s=self._backoff_s, sleep=self._sleep, gate=gate
        ) as endpoint:
            outcome = fan_out(
                plan.pieces,
                lambda piece: self._review_piece(endpoint, piece, sizer),
                smaller=lambda reviewed: reviewed.smaller,
                failed=lambda reviewed: reviewed.error is not None,
                parallel=self.config.parallel,
            )
        failures: list[tuple[Piece, ReviewerError]] = []
        for _key, piece, reviewed in outcome.done:
            tally.add(reviewed)
            if reviewed.error is not None:
                failures.append((piece, reviewed.error))
        self._learn(tally.learnt)  # what the server taught holds even if a call failed
        if failures:
            error = failures[0][1]
            if not tally.pieces_reviewed:  # the review fails with the reason
                error.tokens_in = sum(a.tokens_in for a in tally.answers)
                error.tokens_out = sum(a.tokens_out for a in tally.answers)
                raise error
            self._give_up(error, [piece for piece, _ in failures] + outcome.left, tally)
        answers = tally.answers
        return ReviewerOutput(
            findings=tally.findings,
            dropped_outside_diff=tally.dropped,
            tokens_in=sum(a.tokens_in for a in answers),
            tokens_out=sum(a.tokens_out for a in answers),
            model=answers[0].model if answers else self.config.model,
            model_latency_ms=sum(a.latency_ms for a in answers) if answers else None,
            not_reviewed=[SkippedFile(p, r) for p, r in tally.not_reviewed.items()],
            notes=[*(_note_text(n, count) for n, count in tally.notes.items()), *tally.extra_notes],
        )

    @staticmethod
    def _give_up(error: ReviewerError, left: list[Piece], tally: _Tally) -> None:
        """A call failed after others succeeded: keep what was reviewed, list the
        rest (the engine asks again next time) and say why in a note. One failure
        ends the review: a server that stopped answering would cost a deadline for
        every remaining piece."""
        paths = {f.path for piece in left for f in piece}
        for path in sorted(paths):
            tally.not_reviewed.setdefault(path, CALL_FAILED)
        done = tally.pieces_reviewed
        reviewed = "1 part of the diff was" if done == 1 else f"{done} parts of the diff were"
        tally.extra_notes.append(
            f"a model call failed after {reviewed} reviewed ({error}); "
            f"{len(paths)} file{'s' if len(paths) != 1 else ''} left for the next review"
        )

    def _with_carried(self, review_input: ReviewInput) -> list[FileDiff]:
        """The delta's files, with every carried path replaced by the whole file at
        head: what an earlier review missed may lie outside this delta's hunks."""
        carried = list(dict.fromkeys(review_input.carried))
        if not carried:
            return list(review_input.files)
        whole = files_at(review_input.repo, review_input.head_sha, carried)
        replaced = {f.path for f in whole}
        return [f for f in review_input.files if f.path not in replaced] + whole

    def _review_piece(self, endpoint: ChatEndpoint, piece: Piece, sizer: PromptSizer) -> _Tally:
        """Review one piece (on a thread of its own: it changes nothing but what it
        returns). A failed call is returned as its `error`, with what the piece's
        earlier calls cost."""
        tally = _Tally()
        try:
            tally.smaller = self._piece_calls(endpoint, piece, sizer, tally)
        except ReviewerError as exc:
            tally.error = exc
        return tally

    def _piece_calls(
        self, endpoint: ChatEndpoint, piece: Piece, sizer: PromptSizer, tally: _Tally
    ) -> list[Piece] | None:
        """Returns smaller pieces to review instead when the piece did not fit or its
        answer was cut short."""
        messages = review_messages(piece)
        try:
            if not sizer.fits(messages):
                raise PromptTooLarge
            answer = self._chat(endpoint, messages, sizer)
        except PromptTooLarge as refused:
            if refused.reported_tokens:  # the server said how many it counted: learn it
                tally.learnt.append((estimate_message_tokens(messages), refused.reported_tokens))
            return self._split(piece, tally, HUNK_TOO_LARGE)
        tally.answers.append(answer)
        _calibrate(messages, answer, tally)
        source = f"llm:{answer.model}"
        if answer.cut_short or ends_early(answer.content):
            smaller = self._split(piece, tally, CUT_SHORT)
            if smaller is not None:
                return smaller
            # Nothing smaller to ask: keep what the answer holds; the file is listed.
            findings = _salvaged(answer.content, source)
        else:
            findings, _invalid = parse_findings(answer.content, source)
        files = {f.path: f for f in piece}
        findings, dropped = keep_in_diff(findings, files)
        tally.dropped += dropped
        if self.config.passes >= 2 and findings:
            findings = self._critique(endpoint, piece, findings, sizer, tally)
        if self.config.passes >= 3 and findings:
            findings = self._refine(endpoint, piece, findings, files, sizer, tally, source)
        tally.findings += findings
        tally.pieces_reviewed += 1
        return None

    @staticmethod
    def _chat(endpoint: ChatEndpoint, messages: list[Message], sizer: PromptSizer) -> Answer:
        return endpoint.call(messages, estimated_prompt_tokens=sizer.prompt_tokens(messages))

    def _split(self, piece: Piece, tally: _Tally, reason: str) -> list[Piece] | None:
        smaller = halves(piece)
        if smaller is None:
            for file in piece:
                tally.not_reviewed.setdefault(file.path, reason)
        return smaller

    def _learn(self, samples: list[tuple[int, int]]) -> None:
        """The review's calls' token counts into the calibration, in the pieces' order,
        and into the store."""
        for estimated, reported in samples:
            self.calibration = self.calibration.observed(estimated, reported)
        if self._calibrations is not None and samples:
            self._calibrations.save(self.calibration, self._saved)
            self._saved = self.calibration

    def _critique(
        self,
        endpoint: ChatEndpoint,
        piece: Piece,
        findings: list[Finding],
        sizer: PromptSizer,
        tally: _Tally,
    ) -> list[Finding]:
        messages = critique_messages(piece, findings)
        answer = self._extra_pass(endpoint, messages, sizer, tally, "critique")
        if answer is None:
            return findings
        keep = parse_keep_ids(answer.content)
        if keep is None:
            tally.notes["critique-garbage"] += 1
            return findings
        return [f for i, f in enumerate(findings) if i in keep]

    def _refine(
        self,
        endpoint: ChatEndpoint,
        piece: Piece,
        findings: list[Finding],
        files: dict[str, FileDiff],
        sizer: PromptSizer,
        tally: _Tally,
        source: str,
    ) -> list[Finding]:
        messages = refine_messages(piece, findings)
        answer = self._extra_pass(endpoint, messages, sizer, tally, "refine")
        if answer is None:
            return findings
        try:
            refined, _invalid = parse_findings(answer.content, source)
        except ReviewerError:
            tally.notes["refine-garbage"] += 1
            return findings
        known_paths = {f.path for f in findings}
        refined, _dropped = keep_in_diff((f for f in refined if f.path in known_paths), files)
        return refined[: len(findings)]  # a refine pass adds nothing new

    def _extra_pass(
        self,
        endpoint: ChatEndpoint,
        messages: list[Message],
        sizer: PromptSizer,
        tally: _Tally,
        name: str,
    ) -> Answer | None:
        """A critique or refine call; None (and a note) when it cannot be used."""
        if not sizer.fits(messages):
            tally.notes[f"{name}-too-large"] += 1
            return None
        try:
            answer = self._chat(endpoint, messages, sizer)
        except PromptTooLarge:
            tally.notes[f"{name}-too-large"] += 1
            return None
        tally.answers.append(answer)
        _calibrate(messages, answer, tally)
        if answer.cut_short or ends_early(answer.content):
            tally.notes[f"{name}-cut-short"] += 1
            return None
        return answer


def _calibrate(messages: list[Message], answer: Answer, tally: _Tally) -> None:
    if answer.reported:
        tally.learnt.append((estimate_message_tokens(messages), answer.tokens_in))


def _salvaged(content: str, source: str) -> list[Finding]:
    """The complete findings in an answer that was cut short (maybe none)."""
    try:
        return parse_findings(content, source)[0]
    except ReviewerError:
        return []


_NOTES = {
    "critique-garbage": "critique pass answered without usable JSON in {n}; "
    "the first pass's findings were kept",
    "critique-too-large": "critique pass skipped in {n}: its prompt would not fit the context",
    "critique-cut-short": "critique answer cut short in {n}; the first pass's findings were kept",
    "refine-garbage": "refine pass answered without usable JSON in {n}; findings kept as found",
    "refine-too-large": "refine pass skipped in {n}: its prompt would not fit the context",
    "refine-cut-short": "refine answer cut short in {n}; findings kept as found",
}


def _note_text(note: str, count: int) -> str:
    return _NOTES[note].format(n="1 call" if count == 1 else f"{count} calls")
