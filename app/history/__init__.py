"""The durable history of payments and refunds in PostgreSQL: a projection workers keep from
the events they relay, read when Redis no longer holds a record."""
