"""The local backend: what stands in for AWS on this machine, free and offline.

* :mod:`helpers.local.moto_server`   the emulator launcher: moto's server, plus
* :mod:`helpers.local.aws_lifecycle` AWS's pace and refusals (statuses, dependencies, expiry);
* :mod:`helpers.local.postgres`      the embedded PostgreSQL (or the server DATABASE_URL names);
* :mod:`helpers.local.stack`         the orchestration: up, down, status, and the environment
                                     that points boto3 and the AWS CLI at the emulator;
* :mod:`helpers.local.processes`     pids, ports and state files both processes need.

Lessons never import this package: they call plain boto3 and psycopg2, and ``setup()`` starts
what is needed. From the rest of ``helpers`` it uses only ``helpers.errors`` and
``helpers.settings`` (tests/test_layout.py checks that imports run one way).
"""
