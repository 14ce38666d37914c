"""The campaign as data: campaigns, Excel templates and report templates, each validated by a schema
in ``schemas/``. Every path to them is here, so no module guesses where the data lives."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
CAMPAIGN_DIR = DATA_DIR / "campaigns"
TABLE_TEMPLATE_DIR = DATA_DIR / "templates"
REPORT_TEMPLATE_DIR = DATA_DIR / "report_templates"
# The JSON Schemas: schemas/ at the project root, vendor/schemas → /schemas in the Lambda package.
SCHEMA_DIR = DATA_DIR.parent.parent / "schemas"
# Written by `make package` (infra/package.py) at the zip root: digests of the data files the build validated.
VALIDATED_PATH = DATA_DIR.parent.parent / "validated-data.json"
