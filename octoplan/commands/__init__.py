"""One module per subcommand: plain functions taking typed arguments, returning an exit code.

This layer may write to the terminal (through AppContext); nothing below it does.
"""
