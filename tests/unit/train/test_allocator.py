"""deepft.train.allocator: glibc accepts the mallopt settings on Linux."""

from __future__ import annotations

import platform

import pytest

from deepft.train.allocator import keep_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_takes_the_settings():
    assert keep_freed_memory() is True
