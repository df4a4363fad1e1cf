"""Merchants: created in PostgreSQL (the record of truth), their API key hashes mirrored to Redis
for authentication. ``api_keys`` and ``accept_rate`` are all the accept path may import from
here."""
