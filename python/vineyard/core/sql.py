"""`client.sql(query)`: SQL over what an instance holds, answered by the instance itself.

Every instance serves Flight SQL on its Flight port (see `vineyard-sql` and PROTOCOL.md):
the query runs in the instance, over the shared memory without copies, and only its result
travels back. IPC and remote clients both ask through Flight SQL, so they get the same
answers, errors and limits (`--sql_memory_limit`) as any Flight SQL or ADBC client.

    >>> client.put(pa.table({'k': [1, 1, 2], 'v': [1.0, 2.0, 3.0]}), name='sales', persist=True)
    >>> client.sql('SELECT k, sum(v) AS total FROM sales GROUP BY k ORDER BY k')
    pyarrow.Table ...
    >>> client.sql('SELECT * FROM sales WHERE k = ?', [1])          # parameters
    >>> client.sql('SELECT * FROM sales', reader=True)               # a RecordBatchReader
    >>> client.sql('SELECT k FROM sales WHERE v > 1', name='big')    # stored: its ObjectID

Flight SQL's messages are protobuf messages packed in `google.protobuf.Any`; the few this
module sends and reads are encoded here by hand (length-delimited fields only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vineyard.core.rpc import _flight, _translated

__all__ = ["SqlSession", "quote_identifier", "run_sql", "sql"]

_TYPE_PREFIX = "type.googleapis.com/arrow.flight.protocol.sql."


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _fields(message: bytes) -> dict[int, bytes]:
    """The length-delimited fields of a protobuf message (varint fields are skipped)."""
    fields: dict[int, bytes] = {}
    position = 0

    def varint() -> int:
        nonlocal position
        value, shift = 0, 0
        while True:
            byte = message[position]
            position += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    while position < len(message):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 2:
            length = varint()
            fields[number] = message[position : position + length]
            position += length
        elif wire == 0:
            varint()
        else:
            raise ValueError(f"unexpected protobuf wire type {wire} in a Flight SQL message")
    return fields


def _any(message: str, payload: bytes) -> bytes:
    """`payload` (a Flight SQL `message`) packed in an `Any`."""
    return _field(1, (_TYPE_PREFIX + message).encode()) + _field(2, payload)


def _unpack(any_bytes: bytes) -> dict[int, bytes]:
    """The fields of the message packed in an `Any`."""
    return _fields(_fields(any_bytes).get(2, b""))


def quote_identifier(name: str) -> str:
    """`name` as a SQL identifier: in double quotes, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def _parameters(values: Sequence[Any]):
    """One row of parameters, a column per value, in order."""
    import pyarrow as pa

    columns = [value if isinstance(value, pa.Array) else pa.array([value]) for value in values]
    return pa.RecordBatch.from_arrays(columns, [f"${index + 1}" for index in range(len(columns))])


def _prepared(client, options, query: str, parameters: Sequence[Any]) -> bytes:
    """The handle of `query` prepared, its parameters bound."""
    flight = _flight()
    request = _any("ActionCreatePreparedStatementRequest", _field(1, query.encode()))
    action = flight.Action("CreatePreparedStatement", request)
    results = list(client.do_action(action, options))
    handle = _unpack(results[0].body.to_pybytes()).get(1, b"")
    batch = _parameters(parameters)
    command = _any("CommandPreparedStatementQuery", _field(1, handle))
    writer, reader = client.do_put(
        flight.FlightDescriptor.for_command(command), batch.schema, options
    )
    writer.write_batch(batch)
    writer.done_writing()
    answer = reader.read()
    writer.close()
    if answer is not None:
        # The service returns the handle with the parameters in it.
        handle = _fields(answer.to_pybytes()).get(1, handle)
    return handle


def _query_handle(query: str) -> bytes:
    """The statement handle of a query without parameters, as the instance makes it (PROTOCOL.md
    §9): kind byte 1, the UTF-8 length (u32, little-endian), the UTF-8 query."""
    text = query.encode()
    return b"\x01" + len(text).to_bytes(4, "little") + text


def run_sql(
    client,
    options,
    query: str,
    parameters: Sequence[Any] | None = None,
    reader: bool = False,
):
    """Runs `query` over the pyarrow Flight `client` (with call `options`); its rows as a
    pyarrow Table, or as a RecordBatchReader with `reader` (errors while reading are then
    pyarrow's). `parameters` fill the query's `?` (or `$1`, `$2`, ...) in order."""
    flight = _flight()
    with _translated():
        if parameters is None:
            # The ticket is made here: the query is planned and run in one call.
            ticket = flight.Ticket(_any("TicketStatementQuery", _field(1, _query_handle(query))))
        else:
            handle = _prepared(client, options, query, parameters)
            command = _any("CommandPreparedStatementQuery", _field(1, handle))
            info = client.get_flight_info(flight.FlightDescriptor.for_command(command), options)
            (endpoint,) = info.endpoints
            ticket = endpoint.ticket
        stream = client.do_get(ticket, options)
        if reader:
            # The schema arrives first, or the query's error (raised here, translated).
            stream.schema  # noqa: B018
            return stream.to_reader()
        return stream.read_all()


def sql(
    owner,
    client,
    options,
    query: str,
    parameters: Sequence[Any] | None,
    name: Any,
    reader: bool,
):
    """What `client.sql` returns: the rows of `query`, or, with `name`, the id of the table
    the rows are stored as (`CREATE TABLE name AS query`; `owner` looks the name up)."""
    if name is None:
        return run_sql(client, options, query, parameters, reader)
    run_sql(client, options, f"CREATE TABLE {quote_identifier(str(name))} AS {query}", parameters)
    return owner.get_name(name)


class SqlSession:
    """A Flight client of an instance's endpoint, kept for the SQL calls of an IPC client."""

    def __init__(self, endpoint: str, token: str | None, tls_root_certs: Any) -> None:
        import os

        from vineyard.core.rpc import TLS_SCHEME, is_tls_endpoint

        flight = _flight()
        tls = is_tls_endpoint(endpoint)
        address = endpoint.removeprefix(TLS_SCHEME).removeprefix("grpc+tcp://")
        if not address or address.rpartition(":")[2] in ("", "0"):
            from vineyard import _native

            raise _native.ConnectionErrorException(
                "client.sql runs the query in the instance, through its Flight SQL endpoint, "
                f"and this instance serves none (its RPC endpoint is {endpoint!r}): start it "
                "with --rpc=true (the default) and an --rpc_socket_port"
            )
        location = f"{TLS_SCHEME if tls else 'grpc+tcp://'}{address}"
        token = token if token is not None else os.environ.get("VINEYARD_RPC_TOKEN")
        headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
        self.options = flight.FlightCallOptions(headers=headers)
        roots = {"tls_root_certs": tls_root_certs} if tls and tls_root_certs else {}
        self.client = flight.FlightClient(location, **roots)
        self.key = (token, tls_root_certs)

    def close(self) -> None:
        self.client.close()
