"""The pure review core: git → diff → budget → prompt → reviewer → findings.

No database and no chat here; `jobs/` builds caching and storage on top of this API.
"""
