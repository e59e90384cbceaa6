"""Model usage, budgets and the month-end forecast, derived from the run rows."""
