"""Peak memory of one load, in a process of its own (ru_maxrss only ever grows, so one size per process).

Run by ``python -m benchmarks``; reads its job from the environment variable BENCH_MEMORY_JOB
(JSON: method, connection params, bucket, key, table) and prints JSON with the peak RSS before
and after the load.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    job = json.loads(os.environ["BENCH_MEMORY_JOB"])
    import boto3
    import psycopg2

    from helpers import bulk

    if job["method"] != "copy":  # imported only where used, so the COPY baseline is not inflated
        import pandas as pd
        from sqlalchemy import create_engine
    s3 = boto3.client("s3")
    before = bulk.peak_rss_mib()
    if job["method"] == "copy":
        with psycopg2.connect(**job["params"]) as conn:
            result = bulk.copy_csv_from_s3(conn, job["bucket"], job["key"], job["table"], s3=s3)
        rows = result.rows
    else:
        engine = create_engine("postgresql+psycopg2://", creator=lambda: psycopg2.connect(**job["params"]))
        df = pd.read_csv(s3.get_object(Bucket=job["bucket"], Key=job["key"])["Body"])
        df.to_sql(job["table"], engine, if_exists="append", index=False)
        rows = len(df)
    print(json.dumps({"rows": rows, "before_mib": before, "peak_mib": bulk.peak_rss_mib()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
