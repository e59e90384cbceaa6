"""Usage as a Reply: the window's totals in one sentence, tables by repository and by
model, and each month-end forecast in one line."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from jobs.core.reply import Block, Reply
from jobs.core.text import compact, money, plural
from jobs.usage.figures import Tally, total
from jobs.usage.forecast import Forecast
from jobs.usage.report import ALL, UsageReport

_PERIOD_NAMES = {"day": "today", "week": "this week", "month": "this month"}


def usage_reply(report: UsageReport, timezone: str) -> Reply:
    window = report.window
    where = f" of {report.repo}" if report.repo else ""
    title = f"Usage{where} {_PERIOD_NAMES[window.period]}"
    local = window.start.astimezone(ZoneInfo(timezone))
    since = f"Since {local:%Y-%m-%d %H:%M %Z}"
    if not report.lines:
        text = f"{since}: no review ran{where}."
        return Reply(title=title, blocks=[Block(text=text), *_forecast_blocks(report, timezone)])
    summed = total(line.tally for line in report.lines)
    blocks = [Block(text=f"{since}: {summary(summed, report)}")]
    if len(report.by_repo) > 1 or report.repo is None:
        blocks.append(Block(text=table("repository", report.by_repo), monospace=True))
    blocks.append(Block(text=table("model", report.by_model), monospace=True))
    blocks += _forecast_blocks(report, timezone)
    return Reply(title=title, blocks=blocks)


def summary(tally: Tally, report: UsageReport) -> str:
    spent = ""
    saved = ""
    if report.money is not None:
        spent = f", {money(report.money.spent, report.currency)}"
        saved = f", {money(report.money.saved, report.currency)}"
    text = (
        f"{compact(tally.tokens)} tokens ({compact(tally.tokens_in)} in, "
        f"{compact(tally.tokens_out)} out{spent}) in {plural(tally.calls, 'model run')}; "
        f"{plural(tally.reviews, 'review')} made, {plural(tally.cache_hits, 'cache hit')}"
        f" saved {compact(tally.saved)} tokens{saved}."
    )
    if report.money is not None and report.money.unpriced:
        text += f" No price is set for {', '.join(report.money.unpriced)}."
    return text


def table(heading: str, tallies: dict[str, Tally]) -> str:
    header = (heading, "in", "out", "runs", "reviews", "hits", "saved")
    rows = [header] + [
        (
            name,
            compact(t.tokens_in),
            compact(t.tokens_out),
            str(t.calls),
            str(t.reviews),
            str(t.cache_hits),
            compact(t.saved),
        )
        for name, t in tallies.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def _forecast_blocks(report: UsageReport, timezone: str) -> list[Block]:
    lines = [forecast_line(f, timezone) for f in report.forecasts if f.used or f.rate_per_day]
    return [Block(text="Month-end forecast:\n" + "\n".join(lines))] if lines else []


def forecast_line(forecast: Forecast, timezone: str) -> str:
    """'api: on track for 2.6M of 2M tokens by Dec 31 — over from about Dec 24'."""
    zone = ZoneInfo(timezone)
    by = day_name(forecast.month_end.astimezone(zone) - timedelta(days=1))
    name = "everything" if forecast.scope == ALL else forecast.scope
    of = f" of {compact(forecast.budget)}" if forecast.budget is not None else ""
    text = f"{name}: on track for {compact(forecast.projected)}{of} tokens by {by}"
    if forecast.exhausted:
        return text + f" — over already ({compact(forecast.used)} used)"
    if forecast.over_from is not None:
        return text + f" — over from about {day_name(forecast.over_from.astimezone(zone))}"
    return text + f" ({compact(forecast.rate_per_day)} a day)"


def day_name(moment: datetime) -> str:
    """'Dec 24'."""
    return f"{moment:%b} {moment.day}"
