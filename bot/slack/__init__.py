"""The Slack frontend. The only package that imports slack_bolt or slack_sdk."""
