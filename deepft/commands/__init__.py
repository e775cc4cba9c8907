"""The work behind each ``deepft`` command, one module per command, each a plain keyword
function usable from Python (``deepft.cli`` only maps command-line arguments onto them)."""
