"""`octoplan receive`: the HTTP server for Octopush callbacks, and what it does with them.

Modules, in the order a callback meets them:

- `settings`: the callback token and the project's region, read once at start;
- `app`: the Starlette application (`POST /callbacks/<token>`): reads the body (64 KiB at
  most), hands it to `ingest`, answers 204 once it is stored;
- `ingest`: stores raw callbacks durably, many per transaction under load (group commit);
- `worker`: a background thread interpreting stored callbacks (`octoplan.events`), matched
  to the requests they concern by `matcher`, recorded in state;
- `server`: uvicorn, the socket and the two threads, started and stopped together.
"""
