"""The work behind each ``deepft`` command, as plain keyword functions (no argparse)."""
