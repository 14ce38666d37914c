"""Reporting backbone of the transport-enforcement rectification campaign.

Layers, each a folder; imports point inward only (``make lint`` checks it, see docs/architecture.md):

- ``domain/``: pure rules and types (campaign registry, deadlines, validation of what units upload,
  notice policy and texts, links). Imports nothing from the folders below, nor boto3/pynamodb/chalice.
- ``services/``: what happens when an upload arrives, the daily sweep, the office's questions.
- ``adapters/``: everything that touches AWS (DynamoDB, S3, SMTP/SES, metrics).
- ``http/``: the county portal and the office API's helpers; ``cli/``: the operators' commands.
- ``data/``: the campaign as data (campaigns, templates), validated by ``schemas/``.
- ``config.py``: the settings, read once.
"""
