"""The embedded local stack: moto's server, provisioning from ``infra/template.json``,
the bucket → queue → handler event pump, the SMTP sink and the Chalice API, in one process.

Never deployed: Chalice packages only ``app.py`` and ``chalicelib/``.
"""
