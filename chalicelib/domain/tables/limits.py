"""How big a table may be: checked in the file's XML before it is read, and again on the rows read."""

MAX_DATA_ROWS = 20_000
MAX_SHEET_ROWS = MAX_DATA_ROWS + 200  # title, header and footer lines on top of the data
MAX_COLUMNS = 100
MAX_SHEET_CELLS = MAX_SHEET_ROWS * MAX_COLUMNS
# Characters of shared strings referenced by cells, counted once per reference: what calamine turns into
# strings. A 20,000-row list with ten columns of 100 characters is 20 million; one 32,767-character string
# referenced by 10,000 cells is 327 million (1.6 GB read).
MAX_REFERENCED_SHARED_CHARS = 40_000_000
