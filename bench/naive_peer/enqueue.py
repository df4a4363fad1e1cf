"""`python -m bench.naive_peer.enqueue --count N --prefix P`: create the peer's table, then send
N payments to its actor (no worker needs to run). Payment ``i`` is ``P_i``, charged as
bench/payment_mix.py says."""

import argparse
import os
import time

import psycopg

from bench.naive_peer import actors
from bench.payment_mix import bench_payment


def payment_id(prefix: str, index: int) -> str:
    return f"{prefix}_{index:07d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--paystack-percent", type=int, default=0)
    arguments = parser.parse_args()
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
        connection.execute(actors.CREATE_TABLE_SQL)
    for index in range(arguments.count):
        payment = bench_payment(index, arguments.paystack_percent)
        actors.charge_payment.send(
            payment_id(arguments.prefix, index),
            payment.provider,
            payment.amount,
            payment.currency,
            payment.payment_method,
            time.time(),
        )


if __name__ == "__main__":
    main()
