"""Reporting backbone of the transport-enforcement rectification campaign.

Layers, each a folder; imports point inward only (``make lint`` checks it, see docs/architecture.md):

- ``domain/``: pure rules and types (campaign registry, deadlines, validation of what units upload,
  problems and their matching, office decisions, notice policy and texts, the ``CampaignStore``
  protocol). Imports nothing from the folders below, nor boto3/pynamodb/chalice.
- ``services/``: what happens when an upload arrives, the office's decisions and 销号, the daily sweep,
  the office's questions and exports.
- ``adapters/``: everything that touches AWS or the process (DynamoDB behind the store, with an in-memory
  twin; S3, SMTP/SES, Secrets Manager, the reader sandbox, metrics).
- ``http/``: the county portal, the office console and the API's helpers; ``cli/``: the operators' commands.
- ``data/``: the campaign as data (campaigns, templates), validated by ``schemas/``.
- ``config.py``: the settings, read once.
"""
