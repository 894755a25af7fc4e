"""Where octoplan remembers what it sent: SQLite by default, PostgreSQL for teams."""
