"""How big a table may be: checked in the file's XML before it is read, and again on the rows read."""

MAX_DATA_ROWS = 20_000
MAX_SHEET_ROWS = MAX_DATA_ROWS + 200  # title, header and footer lines on top of the data
MAX_COLUMNS = 100
MAX_SHEET_CELLS = MAX_SHEET_ROWS * MAX_COLUMNS
