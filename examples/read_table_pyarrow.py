"""Reads a table stored in vineyard with a plain `pyarrow.flight.FlightClient`: the reader
needs pyarrow only, not vineyard.

    python examples/read_table_pyarrow.py HOST:PORT OBJECT_ID_OR_NAME [--token TOKEN]

HOST:PORT is the instance's Flight endpoint (`vineyardd` logs it as `serving Arrow Flight
endpoint=...`; a vineyard client has it as `client.rpc_endpoint`). To try it:

    python -m vineyard --socket /tmp/vineyard.sock &
    python -c "import vineyard, pyarrow as pa; c = vineyard.connect('/tmp/vineyard.sock'); \\
        i = c.put(pa.table({'x': [1, 2, 3]})); c.persist(i); c.put_name(i, 'my_table'); \\
        print(c.rpc_endpoint)"
    python examples/read_table_pyarrow.py 127.0.0.1:9600 my_table
"""

from __future__ import annotations

import argparse
import os

import pyarrow.flight as flight


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("endpoint", help="the instance's Flight endpoint, host:port")
    parser.add_argument("target", help="an object id (o...) or a name")
    parser.add_argument("--token", default=os.environ.get("VINEYARD_RPC_TOKEN"))
    args = parser.parse_args()

    client = flight.FlightClient(f"grpc+tcp://{args.endpoint}")
    headers = [(b"authorization", f"Bearer {args.token}".encode())] if args.token else []
    options = flight.FlightCallOptions(headers=headers)

    # The flight's description: schema, rows, bytes, and the ticket to read it with.
    info = client.get_flight_info(flight.FlightDescriptor.for_path(args.target), options)
    print(f"{args.target}: {info.total_records} rows, {info.total_bytes} bytes")
    print(info.schema)

    # The data: the ticket is the object id (a name works as a ticket too).
    reader = client.do_get(info.endpoints[0].ticket, options)
    table = reader.read_all()
    print(table.slice(0, 10))
    client.close()


if __name__ == "__main__":
    main()
