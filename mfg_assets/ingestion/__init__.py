"""Reading the plant's databases: hour windows out of SQL, into Arrow-backed polars frames."""
