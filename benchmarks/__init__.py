"""Measured comparisons of the ways to move many rows, on the local backend.

``python -m benchmarks`` (or ``make benchmark``) times, in one run, the default way and the fast
way for each store: PostgreSQL loads from a CSV in S3 (pandas.to_sql, executemany,
execute_values, COPY), DynamoDB writes (put_item loop vs batch_writer) and a paginated scan, S3
uploads (sequential vs concurrent small files, default vs tuned TransferConfig for one large
file), peak memory of the COPY loader at two sizes, and optionally the whole series against its
floor. It prints a table and writes JSON, Markdown and a bar chart to ``benchmarks/results/``.

These are measurements, not tests: nothing here fails because something is slow.
"""
