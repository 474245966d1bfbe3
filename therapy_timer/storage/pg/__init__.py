"""The visit store on a PostgreSQL clinic server (imported only when a station opens one:
psycopg costs about 190 ms to import, never paid on the embedded SQLite start path)."""
