"""Reporting backbone of the transport-enforcement rectification campaign.

Layers (see README, "Architecture"):
- domain, pure: ``registry``, ``deadlines``, ``upload_keys``, ``receipts``, ``timeutil``;
- services: ``intake`` (one uploaded object), ``queries`` (office API answers);
- adapters: ``models`` (PynamoDB), ``objects`` (S3), ``mail`` (SMTP / SES), ``notice_log``;
- edges: ``app.py`` (Chalice) and ``chalicelib.cli`` (operators).
"""
