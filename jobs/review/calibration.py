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
            return Calibration(model, row.ratio, row.samples)

    def save(self, calibration: Calibration, new_samples: int) -> None:
        """Merge what one review learned: the larger ratio wins (two reviews of the
        same model may save at once), and the sample counts add up."""
        if new_samples <= 0:
            return
        for attempt in range(2):
            try:
                with session_scope(self.engine) as session:
                    row = session.get(TokenCalibration, calibration.model, with_for_update=True)
                    if row is None:
                        row = TokenCalibration(model=calibration.model, ratio=calibration.ratio,
                                               samples=new_samples)  # fmt: skip
                    else:
                        row.ratio = max(row.ratio, calibration.ratio)
                        row.samples += new_samples
                        row.updated_at = utcnow()
                    session.add(row)
                return
            except IntegrityError:
                if attempt:  # inserted twice at once; the second try updates
                    raise
