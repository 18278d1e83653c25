"""A query through Flight SQL with ADBC's driver (`pip install adbc-driver-flightsql`): any
ADBC, JDBC or ODBC Flight SQL client reaches every instance on its Flight port.

    python examples/query_adbc.py HOST:PORT "SELECT k, count(*) FROM sales GROUP BY k" [--token T]

`?` in the query takes the values given with `--param` (repeatable), in order.
"""

from __future__ import annotations

import argparse
import os

import adbc_driver_flightsql.dbapi as flight_sql


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("endpoint", help="the instance's Flight endpoint, host:port")
    arguments.add_argument("query")
    arguments.add_argument("--token", default=os.environ.get("VINEYARD_RPC_TOKEN"))
    arguments.add_argument("--param", action="append", default=[], help="a value for a ?")
    args = arguments.parse_args()
    options = {}
    if args.token:
        options["adbc.flight.sql.authorization_header"] = f"Bearer {args.token}"
    with flight_sql.connect(f"grpc://{args.endpoint}", db_kwargs=options, autocommit=True) as db:
        with db.cursor() as cursor:
            cursor.execute(args.query, args.param or None)
            print(cursor.fetch_arrow_table().to_pandas().to_string())


if __name__ == "__main__":
    main()
