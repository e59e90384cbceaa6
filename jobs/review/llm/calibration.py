"""Keep each model's token calibration in the database, so the next process starts
from what the server has already told us instead of the raw estimate."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from jobs.review.tokens import Calibration
from storage.db import session_scope
from storage.models import TokenCalibration, utcnow


class StoredCalibration:
    """Loads and saves `Calibration`s for one database; what `LlmReviewer` is given."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load(self, model: str) -> Calibration:
        with session_scope(self.engine) as session:
            row = session.get(TokenCalibration, model)
            if row is None:
                return Calibration(model)
            return Calibration(
                model, row.ratio, row.samples, row.estimated_total, row.reported_total
            )

    def save(self, learnt: Calibration, since: Calibration) -> None:
        """Merge what one review learnt (`learnt`, which started from `since`): the
        larger ratio wins, as two reviews of the same model may save at once, and the
        samples and totals they added are added."""
        added = learnt.samples - since.samples
        if added <= 0:
            return
        estimated = learnt.estimated_total - since.estimated_total
        reported = learnt.reported_total - since.reported_total
        for attempt in range(2):
            try:
                with session_scope(self.engine) as session:
                    row = session.get(TokenCalibration, learnt.model, with_for_update=True)
                    if row is None:
                        row = TokenCalibration(model=learnt.model, ratio=learnt.ratio)
                    else:
                        row.ratio = max(row.ratio, learnt.ratio)
                        row.updated_at = utcnow()
                    row.samples += added
                    row.estimated_total += estimated
                    row.reported_total += reported
                    session.add(row)
                return
            except IntegrityError:
                if attempt:  # inserted twice at once; the second try updates
                    raise
